"""`fakereview evaluate`'s seams before any model: which rows are evaluated, which train the
TF-IDF baseline, and what the report's data section says about them."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from fakereview_nlp.cli.evaluate import add_evaluate_parser, read_evaluation_rows, tfidf_baseline_scores


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_evaluate_parser(parser.add_subparsers())
    return parser.parse_args(["evaluate", *argv])


def test_split_keeps_the_other_folds_for_the_baseline(reviews_csv: Path, tmp_path: Path) -> None:
    args = _args("unused-model", str(reviews_csv), "-o", str(tmp_path / "report"), "--split-column", "fold",
                 "--split", "2", "--group-column", "group", "--baseline", "tfidf")  # fmt: skip
    rows = read_evaluation_rows(args, None)
    assert set(rows.evaluated["split"]) == {"2"} and len(rows.evaluated) == 16
    assert rows.train is not None and set(rows.train["split"]) == {"1", "3"} and len(rows.train) == 32
    assert rows.bad_rows.n_rows == 48 and rows.bad_rows.n_dropped == 0
    scores, info = tfidf_baseline_scores(args, rows, rows.evaluated["text"])
    assert scores.shape == (16,) and np.all((scores >= 0) & (scores <= 1))
    assert info["kind"] == "tfidf" and info["n_train"] == 32 and info["n_train_rows_dropped"] == 0


def test_baseline_without_training_rows_says_how_to_get_them(reviews_csv: Path, tmp_path: Path) -> None:
    args = _args("unused-model", str(reviews_csv), "-o", str(tmp_path / "report"), "--baseline", "tfidf")
    rows = read_evaluation_rows(args, None)
    assert rows.train is None and len(rows.evaluated) == 48
    with pytest.raises(SystemExit, match=r"--baseline tfidf needs training rows: .*--split-column/--split"):
        tfidf_baseline_scores(args, rows, rows.evaluated["text"])


def test_split_needs_its_column(reviews_csv: Path, tmp_path: Path) -> None:
    args = _args("unused-model", str(reviews_csv), "-o", str(tmp_path / "report"), "--split", "2")
    with pytest.raises(SystemExit, match=r"--split needs --split-column"):
        read_evaluation_rows(args, None)
