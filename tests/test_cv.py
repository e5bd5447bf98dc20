"""The CV driver on tiny data: two folds, a tiny random model, TF-IDF on the same folds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from tests.test_train import tiny_raw
from training.cv import main


def test_cv_two_folds_from_split_column(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"]["keep_columns"] = []
    config.write_text(yaml.safe_dump(raw))
    runs, report = tmp_path / "runs", tmp_path / "report"
    args = [
        str(config),
        "--folds",
        "1,3",
        "--runs-dir",
        str(runs),
        "--report-dir",
        str(report),
        "--combine",
        "--n-boot",
        "20",
    ]
    assert main(args) == 0
    oof = pd.read_csv(report / "oof_predictions.csv", dtype={"id": str, "fold": str})
    assert list(oof.columns) == ["id", "fold", "label", "transformer_score", "tfidf_score", "combined_score"]
    assert set(oof["fold"]) == {"1", "3"} and oof["id"].is_unique and len(oof) == 32
    source = pd.read_csv(reviews_csv, dtype=str).set_index("id")
    assert (source.loc[oof["id"], "fold"].to_numpy() == oof["fold"].to_numpy()).all()
    assert {"report.json", "report.md", "cv_runs.json"} <= {p.name for p in report.iterdir()}
    models = json.loads((report / "report.json").read_text())["models"]
    assert models[:2] == ["transformer", "tfidf"]
    runs_info = json.loads((report / "cv_runs.json").read_text())
    assert [f["reused"] for f in runs_info["folds"]] == [False, False]
    # a second run reuses the finished folds instead of training again
    assert main(args) == 0
    runs_info = json.loads((report / "cv_runs.json").read_text())
    assert [f["reused"] for f in runs_info["folds"]] == [True, True]


def test_cv_makes_grouped_folds_without_split_column(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"].pop("split_column")
    raw["data"].pop("eval_splits")
    config.write_text(yaml.safe_dump(raw))
    report = tmp_path / "report"
    assert (
        main(
            [
                str(config),
                "--n-folds",
                "2",
                "--runs-dir",
                str(tmp_path / "runs"),
                "--report-dir",
                str(report),
                "--n-boot",
                "0",
            ]
        )
        == 0
    )
    oof = pd.read_csv(report / "oof_predictions.csv", dtype={"id": str, "fold": str})
    assert len(oof) == 48 and set(oof["fold"]) == {"1", "2"}
    source = pd.read_csv(reviews_csv, dtype=str).set_index("id")
    groups = source.loc[oof["id"], "group"].to_numpy()
    assert all(oof.loc[groups == g, "fold"].nunique() == 1 for g in set(groups))


def test_cv_tfidf_only_with_metadata_prefix(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"]["prefix_columns"] = ["group"]
    config.write_text(yaml.safe_dump(raw))
    report = tmp_path / "report"
    args = [
        str(config),
        "--models",
        "tfidf",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--report-dir",
        str(report),
    ]
    assert main([*args, "--n-boot", "0"]) == 0
    oof = pd.read_csv(report / "oof_predictions.csv", dtype={"id": str, "fold": str})
    assert list(oof.columns) == ["id", "fold", "label", "tfidf_score"] and len(oof) == 48
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("fold*"))
