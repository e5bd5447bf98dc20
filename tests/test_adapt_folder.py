"""training.adapt's folder seams without adapting: the adapted model's model_info.json and the
completing training config (the user's data section, the final output folder)."""

from __future__ import annotations

from pathlib import Path

import yaml

from training.adapt import adapted_model_info, completed_config, resolve_options
from training.config import config_from_dict


def test_model_info_names_the_base_and_the_label_languages(tiny_model_dir: Path) -> None:
    opts = resolve_options(tiny_model_dir, ["--adapt.method=tfidf"])
    texts = ["The room was clean and the staff at the front desk were helpful."] * 20
    info = adapted_model_info(tiny_model_dir, opts, texts, {"genuine": 12, "fake": 8}, version="9.9")
    assert info["languages"] == ["en"] and info["languages_method"]
    # no model_info.json and no training_config.yaml in the base: the folder names the encoder
    assert info["base_model"] == str(tiny_model_dir) == info["adapted_from"]
    assert (info["version"], info["adapt_method"], info["n_labels"]) == (
        "9.9",
        "tfidf",
        {"genuine": 12, "fake": 8},
    )


def test_completed_config_is_a_loadable_config_of_the_users_file(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    opts = resolve_options(tiny_model_dir)
    data = {"path": "labels.csv", "text_column": "review", "label_column": "y", "label_map": {"0": "genuine",
            "1": "fake"}, "group_column": None}  # fmt: skip
    raw = yaml.safe_load(completed_config(opts, data, tmp_path / "adapted"))
    assert {k: raw["data"][k] for k in data} == data
    assert raw["output"]["dir"] == str(tmp_path / "adapted")
    cfg = config_from_dict(raw)  # what training's own output check reads back
    assert cfg.data.text_column == "review" and cfg.training == opts.train.training
