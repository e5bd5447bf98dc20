"""The learning-curve benchmark on tiny data: both models train on the same subsample."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.learning_curve import fold_rows, main
from tests.test_train import tiny_raw
from training.config import load_config
from training.cv import assign_folds, fold_overrides
from training.train import load_splits


def test_tfidf_rows_are_the_transformers_training_rows(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    config = tmp_path / "lc.yaml"
    config.write_text(yaml.safe_dump(tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir)))
    base = load_config(str(config))
    frame, data_file = assign_folds(base, 3, tmp_path / "runs")
    overrides = [*fold_overrides(base, "2", tmp_path / "runs", data_file), "--data.train_fraction=0.5"]
    cfg = load_config(str(config), overrides)
    transformer_train, _ = load_splits(cfg)
    tfidf_train, _ = fold_rows(frame, "2", cfg, 0.5)
    assert tfidf_train["id"].tolist() == transformer_train["id"]
    assert len(tfidf_train) == 16


def test_learning_curve_trains_each_fraction_and_reuses_full_fold(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    config = tmp_path / "lc.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"]["keep_columns"] = []
    config.write_text(yaml.safe_dump(raw))
    runs, out = tmp_path / "runs", tmp_path / "lc"
    args = [str(config), "--fractions", "0.5,1", "--folds", "3", "--runs-dir", str(runs), "--out", str(out)]
    assert main(args) == 0
    assert sorted(p.name for p in runs.iterdir() if p.is_dir()) == ["fold3", "fold3-frac0.5"]
    saved = yaml.safe_load((runs / "fold3-frac0.5" / "training_config.yaml").read_text())
    assert saved["data"]["train_fraction"] == 0.5
    rows = pd.DataFrame(json.loads((out / "learning_curve.json").read_text())["rows"])
    transformer = rows[rows["model"] == "transformer"].set_index("fraction")
    assert transformer["train"].to_dict() == {0.5: 16, 1.0: 32}
    assert transformer["reused"].tolist() == [False, False]
    # TF-IDF on every fold, the transformer on the chosen one only
    assert sorted(rows.loc[rows["model"] == "tfidf", "fold"].unique()) == ["1", "2", "3"]
    assert rows[["accuracy", "average_precision"]].stack().between(0, 1).all()
    assert "| 0.5 | 16 |" in (out / "learning_curve.md").read_text()
    # the full-data member is the CV's fold model: a second run trains nothing
    assert main(args) == 0
    rows = pd.DataFrame(json.loads((out / "learning_curve.json").read_text())["rows"])
    assert rows.loc[rows["model"] == "transformer", "reused"].tolist() == [True, True]
