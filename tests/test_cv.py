"""The CV driver on tiny data: two folds, a tiny random model, TF-IDF on the same folds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.test_train import tiny_raw
from training.cv import main


def test_cv_two_folds_from_split_column(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"]["keep_columns"] = []
    # a config that serves the combination still gives the transformer alone per fold
    raw["model"]["combine_tfidf"] = True
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
    # out of fold, the transformer's score is the uncalibrated one: the saved temperature was
    # fitted on these same test rows
    fold1 = pd.read_csv(runs / "fold1" / "val_predictions.csv", dtype={"id": str}).set_index("id")
    rows = oof[oof["fold"] == "1"]
    raw = fold1.loc[rows["id"], "fake_score_uncalibrated"].to_numpy()
    assert (rows["transformer_score"].to_numpy() == raw).all()
    assert (fold1["fake_score"] != fold1["fake_score_uncalibrated"]).any()
    runs_info = json.loads((report / "cv_runs.json").read_text())
    assert [f["reused"] for f in runs_info["folds"]] == [False, False]
    # the test fold never picks the checkpoint (the tiny config asks for select_best)
    saved = yaml.safe_load((runs / "fold1" / "training_config.yaml").read_text())["training"]
    assert saved["select_best"] is False and saved["early_stopping_patience"] == 0
    assert (
        yaml.safe_load((runs / "fold1" / "training_config.yaml").read_text())["model"]["combine_tfidf"]
        is False
    )
    assert not (runs / "fold1" / "tfidf_model.json").exists()
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


def test_cv_seed_ensemble_averages_members(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"]["keep_columns"] = []
    config.write_text(yaml.safe_dump(raw))
    runs, report = tmp_path / "runs", tmp_path / "report"
    args = [str(config), "--folds", "1", "--seeds", "7,8", "--runs-dir", str(runs)]
    assert main([*args, "--report-dir", str(report), "--n-boot", "0"]) == 0
    assert sorted(p.name for p in runs.iterdir()) == ["fold1", "fold1-seed8"]
    for name, seed in [("fold1", 7), ("fold1-seed8", 8)]:
        saved = yaml.safe_load((runs / name / "training_config.yaml").read_text())
        assert saved["training"]["seed"] == seed
    oof = pd.read_csv(report / "oof_predictions.csv", dtype={"id": str, "fold": str})
    assert list(oof.columns) == [
        "id",
        "fold",
        "label",
        "transformer_score",
        "tfidf_score",
        "transformer_seed7_score",
        "transformer_seed8_score",
    ]
    members = oof[["transformer_seed7_score", "transformer_seed8_score"]]
    # two seeds give two different models, and the ensemble is exactly their mean
    assert (members.iloc[:, 0] - members.iloc[:, 1]).abs().max() > 1e-6
    # (within float32 rounding: the members are float32 softmax outputs)
    assert ((oof["transformer_score"] - members.mean(axis=1)).abs() < 1e-7).all()
    single = pd.read_csv(runs / "fold1-seed8" / "val_predictions.csv", dtype={"id": str}).set_index("id")
    member = single.loc[oof["id"], "fake_score_uncalibrated"].to_numpy()
    assert (member == oof["transformer_seed8_score"].to_numpy()).all()
    built = json.loads((report / "report.json").read_text())
    assert built["models"] == ["transformer", "tfidf", "transformer_seed7"]
    info = json.loads((report / "cv_runs.json").read_text())["folds"][0]
    assert [m["seed"] for m in info["members"]] == [7, 8] and info["reused"] is False
    # the second call reuses both members
    assert main([*args, "--report-dir", str(tmp_path / "again"), "--n-boot", "0"]) == 0
    info = json.loads((tmp_path / "again" / "cv_runs.json").read_text())["folds"][0]
    assert [m["reused"] for m in info["members"]] == [True, True]


def test_cv_rejects_repeated_seeds(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cv.yaml"
    config.write_text(yaml.safe_dump(tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)))
    code = main([str(config), "--seeds", "3,3", "--runs-dir", str(tmp_path / "r"), "--report-dir", str(tmp_path / "o")])
    assert code == 2
    assert "cv: error: seeds=[3, 3] must be distinct" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(config), "--seeds", "a,b"])


def test_cv_retrains_a_fold_when_its_data_changed_under_the_same_ids(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"]["keep_columns"] = []
    config.write_text(yaml.safe_dump(raw))
    runs = tmp_path / "runs"
    args = [str(config), "--folds", "1", "--runs-dir", str(runs), "--n-boot", "0"]
    assert main([*args, "--report-dir", str(tmp_path / "r1")]) == 0
    # the same ids and config, but one training review (fold 2) now reads differently
    frame = pd.read_csv(reviews_csv, dtype=str)
    row = frame.index[frame["fold"] == "2"][0]
    frame.loc[row, "text"] = "An entirely different review of the same hotel, written later."
    frame.to_csv(reviews_csv, index=False)
    assert main([*args, "--report-dir", str(tmp_path / "r2")]) == 0
    info = json.loads((tmp_path / "r2" / "cv_runs.json").read_text())["folds"][0]
    assert info["reused"] is False, "a fold model trained on other data was reused"
    # unchanged data: reused
    assert main([*args, "--report-dir", str(tmp_path / "r3")]) == 0
    assert json.loads((tmp_path / "r3" / "cv_runs.json").read_text())["folds"][0]["reused"] is True
