"""training.cv's per-fold seams without training a model: which folds run, a fold's rows and
TF-IDF scores, and which pooled scores the report and the CSV carry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.test_train import tiny_raw
from training.config import load_config
from training.cv import CvPlan, assign_folds, choose_folds, oof_columns, report_scores, score_fold


def test_choose_folds_orders_numerically_and_names_missing_ones() -> None:
    splits = pd.Series(["10", "2", "1", "2", "10"])
    assert choose_folds(splits, None) == ["1", "2", "10"]
    assert choose_folds(splits, ["10", "1"]) == ["10", "1"]  # as asked
    with pytest.raises(
        ValueError, match=r"fold\(s\) \['4'\] are not in the data; it has folds \['1', '2', '10'\]"
    ):
        choose_folds(splits, ["1", "4"])


def test_score_fold_tfidf_only_gives_the_fold_test_rows(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir)
    raw["data"]["keep_columns"] = ["fold"]
    config.write_text(yaml.safe_dump(raw))
    base = load_config(str(config), [])
    frame, data_file = assign_folds(base, 3, tmp_path / "runs")
    assert data_file is None  # the split column gives the folds
    plan = CvPlan(str(config), [], base, tmp_path / "runs", None, [None], transformer=False)

    predictions, info = score_fold(plan, frame, "2")

    test_ids = set(frame.loc[frame["split"] == "2", "id"])
    assert set(predictions["id"]) == test_ids and len(predictions) == len(test_ids) == 16
    assert list(predictions.columns) == ["id", "label", "group", "fold", "tfidf_score"]
    assert (predictions["fold"] == "2").all()
    assert predictions["tfidf_score"].between(0, 1).all()
    assert info == {"fold": "2", "train": 32, "test": 16, "train_seconds": 0.0, "reused": False}
    assert not (tmp_path / "runs" / "fold2").exists()  # no transformer: nothing trained


def _oof() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b"],
            "fold": ["1", "2"],
            "label": [0, 1],
            "transformer_score": [0.2, 0.6],
            "tfidf_score": [0.3, 0.9],
            "combined_score": [0.25, 0.75],
            "transformer_seed42_score": [0.1, 0.5],
            "transformer_seed43_score": [0.3, 0.7],
        }
    )


def test_report_scores_add_the_first_ensemble_member_alone() -> None:
    scores = report_scores(_oof(), transformer=True, combine=True, ensemble=True)
    assert list(scores) == ["transformer", "tfidf", "transformer+tfidf", "transformer_seed42"]
    np.testing.assert_array_equal(scores["transformer_seed42"], [0.1, 0.5])
    # the CSV keeps every member's column, the report only the first
    assert oof_columns(_oof(), transformer=True, combine=True, ensemble=True) == [
        "id", "fold", "label", "transformer_score", "tfidf_score", "combined_score",
        "transformer_seed42_score", "transformer_seed43_score",
    ]  # fmt: skip


def test_report_scores_tfidf_only() -> None:
    oof = _oof()[["id", "fold", "label", "tfidf_score"]]
    assert list(report_scores(oof, transformer=False, combine=False, ensemble=False)) == ["tfidf"]
    assert oof_columns(oof, transformer=False, combine=False, ensemble=False) == [
        "id",
        "fold",
        "label",
        "tfidf_score",
    ]
