"""The TF-IDF + logistic regression baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fakereview_nlp.model.baseline import TFIDF_FILE, TfidfBaseline, combined_score, tfidf_scores
from tests.conftest import make_reviews


def _split():
    rows = make_reviews(60)
    texts = [str(r["text"]) for r in rows]
    labels = [int(r["label"] == "fake") for r in rows]
    return texts[:40], labels[:40], texts[40:], labels[40:]


def test_baseline_learns_the_tiny_corpus_and_is_deterministic():
    train_x, train_y, test_x, test_y = _split()
    scores = TfidfBaseline().fit(train_x, train_y).predict_proba(test_x)
    assert scores.shape == (20,) and scores.dtype == np.float64
    assert ((scores >= 0.5) == np.asarray(test_y, dtype=bool)).mean() == 1.0
    np.testing.assert_array_equal(scores, tfidf_scores(train_x, train_y, test_x))
    assert TfidfBaseline().fit(train_x, train_y).predict_proba([]).shape == (0,)


def test_baseline_errors():
    train_x, train_y, _, _ = _split()
    with pytest.raises(RuntimeError, match=r"not fitted; call fit"):
        TfidfBaseline().predict_proba(["a review"])
    with pytest.raises(TypeError, match=r"wrap a single review as \[text\]"):
        TfidfBaseline().fit(train_x, train_y).predict_proba("one review")
    with pytest.raises(ValueError, match=r"fit got 40 texts but 2 labels"):
        TfidfBaseline().fit(train_x, [0, 1])
    with pytest.raises(ValueError, match=r"no fakes among the 40 labels"):
        TfidfBaseline().fit(train_x, [0] * 40)
    with pytest.raises(ValueError, match=r"ngram_range must satisfy 1 <= low <= high, got \(2, 1\)"):
        TfidfBaseline(ngram_range=(2, 1))


def test_save_and_load_give_the_same_scores(tmp_path):
    train_x, train_y, test_x, _ = _split()
    fitted = TfidfBaseline(C=3.0).fit(train_x, train_y)
    path = fitted.save(tmp_path)
    assert path.name == TFIDF_FILE and json.loads(path.read_text())["format"] == "fakereview-tfidf-logreg/1"
    loaded = TfidfBaseline.load(tmp_path)
    assert loaded.C == 3.0 and loaded.ngram_range == (1, 2)
    probe = [*test_x, "words it never saw", ""]
    np.testing.assert_allclose(loaded.predict_proba(probe), fitted.predict_proba(probe), rtol=0, atol=1e-12)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no tfidf_model.json in .*call save"):
        TfidfBaseline.load(tmp_path)
    with pytest.raises(RuntimeError, match=r"not fitted; call fit.* before save"):
        TfidfBaseline().save(tmp_path)
    (tmp_path / TFIDF_FILE).write_text('{"format": "pickle"}')
    with pytest.raises(ValueError, match=r"has format 'pickle'; expected 'fakereview-tfidf-logreg/1'"):
        TfidfBaseline.load(tmp_path)
    train_x, train_y, _, _ = _split()
    TfidfBaseline().fit(train_x, train_y).save(tmp_path)
    payload = json.loads((tmp_path / TFIDF_FILE).read_text())
    payload["coef"] = payload["coef"][:-1]
    (tmp_path / TFIDF_FILE).write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=r"inconsistent: \d+ vocabulary entries, \d+ idf weights"):
        TfidfBaseline.load(tmp_path)


def test_combined_score_is_the_mean():
    np.testing.assert_array_equal(combined_score([0.2, 1.0], [0.6, 0.0]), [0.4, 0.5])
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(1,\)"):
        combined_score([0.2, 1.0], [0.6])


def test_weighted_combination_and_its_bounds():
    np.testing.assert_allclose(combined_score([0.2, 1.0], [0.6, 0.0], tfidf_weight=0.75), [0.5, 0.25])
    np.testing.assert_array_equal(combined_score([0.2, 1.0], [0.6, 0.0], tfidf_weight=0.0), [0.2, 1.0])
    with pytest.raises(ValueError, match=r"tfidf_weight must be in \[0, 1\], got 1.5; 0.5 is the plain mean"):
        combined_score([0.2], [0.6], tfidf_weight=1.5)
    with pytest.raises(ValueError, match=r"weight must be a number in \[0, 1\], got -0.1; it is the TF-IDF part's share"):
        TfidfBaseline(weight=-0.1)


def test_weight_is_saved_and_older_files_load_as_the_plain_mean(tmp_path):
    train_x, train_y, _, _ = _split()
    TfidfBaseline(weight=0.7).fit(train_x, train_y).save(tmp_path)
    assert TfidfBaseline.load(tmp_path).weight == 0.7
    payload = json.loads((tmp_path / TFIDF_FILE).read_text())
    del payload["params"]["weight"]  # a folder written before the weight existed
    (tmp_path / TFIDF_FILE).write_text(json.dumps(payload))
    assert TfidfBaseline.load(tmp_path).weight == 0.5
    payload["params"]["weight"] = 2
    (tmp_path / TFIDF_FILE).write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=r"malformed field .*weight must be a number in \[0, 1\], got 2"):
        TfidfBaseline.load(tmp_path)
