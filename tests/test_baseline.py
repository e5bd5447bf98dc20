"""The TF-IDF + logistic regression baseline."""

from __future__ import annotations

import numpy as np
import pytest

from fakereview_nlp.baseline import TfidfBaseline, tfidf_scores
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
