"""benchmarks/ngram_partner.py on tiny fabricated data: out-of-fold refits and the combined line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.ngram_partner import load_rows, oof_scores, partner_lines
from fakereview_nlp.model.baseline import tfidf_scores


def _rows() -> pd.DataFrame:
    fake = ["amazing stay best hotel ever!!", "best hotel amazing staff!!", "luxury best stay ever!!"]
    real = ["room was fine, parking cost extra.", "small room. breakfast ok.", "fine room, noisy street."]
    texts = fake * 2 + real * 2
    labels = [1] * 6 + [0] * 6
    folds = ["1", "1", "1", "2", "2", "2"] * 2
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(12)],
            "text": texts,
            "label": labels,
            "fold": folds,
            "transformer_score": np.linspace(0.9, 0.1, 12),
        }
    )


def test_word_variant_is_the_package_baseline_refit_per_fold() -> None:
    rows = _rows()
    scores = oof_scores(rows, "word")
    test = (rows["fold"] == "2").to_numpy()
    expected = tfidf_scores(rows["text"][~test].tolist(), rows["label"][~test], rows["text"][test].tolist())
    np.testing.assert_allclose(scores[test], expected)


def test_word_char_scores_each_fold_out_of_fold() -> None:
    scores = oof_scores(_rows(), "word+char")
    assert scores.shape == (12,)
    assert (scores[:6] > 0.5).all() and (scores[6:] < 0.5).all()


def test_partner_lines_report_alone_and_combined() -> None:
    lines = partner_lines(_rows(), ["word"])
    assert lines[0].startswith("transformer alone: accuracy 1.0000")
    assert lines[1].startswith("word       alone 1.0000")
    assert "with transformer 1.0000" in lines[1]


def test_unknown_variant_and_missing_column_are_named() -> None:
    with pytest.raises(
        ValueError, match=r"unknown n-gram variant 'char'; expected one of \['word', 'word\+char'\]"
    ):
        oof_scores(_rows(), "char")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"rows lack column\(s\) \['text'\]"):
        oof_scores(_rows().drop(columns="text"), "word")


def test_load_rows_names_an_id_missing_from_the_corpus(tmp_path: Path) -> None:
    rows = _rows()
    report = tmp_path / "report"
    report.mkdir()
    rows.drop(columns="text").to_csv(report / "oof_predictions.csv", index=False)
    rows.iloc[:11][["id", "text"]].to_csv(tmp_path / "corpus.csv", index=False)
    with pytest.raises(ValueError, match=r"id 'r11' of .*oof_predictions.csv is not in .*corpus.csv"):
        load_rows(report, tmp_path / "corpus.csv")
    rows[["id", "text"]].to_csv(tmp_path / "corpus.csv", index=False)
    assert load_rows(report, tmp_path / "corpus.csv")["text"].tolist() == rows["text"].tolist()
