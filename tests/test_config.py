from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError, TrainConfig, apply_overrides, config_from_dict, load_config

CONFIGS = sorted(Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, TrainConfig)
    assert cfg.data.path.startswith("../shared/data/")


def test_unknown_key_names_key_and_suggests() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown config key 'training\.learning_rat'; did you mean 'training\.learning_rate'",
    ):
        config_from_dict({"training": {"learning_rat": 1e-4}})


def test_unknown_section() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'trainig'; did you mean 'training'"):
        config_from_dict({"trainig": {}})


def test_wrong_type_names_key_value_and_expected() -> None:
    with pytest.raises(ConfigError, match=r"'training\.epochs' has value 'three' \(str\); expected int"):
        config_from_dict({"training": {"epochs": "three"}})


def test_bool_is_not_an_int() -> None:
    with pytest.raises(ConfigError, match=r"'training\.batch_size' has value True"):
        config_from_dict({"training": {"batch_size": True}})


def test_literal_lists_allowed_values() -> None:
    with pytest.raises(
        ConfigError,
        match=r"'training\.mixed_precision' has value 'fp8' \(str\); expected one of 'no', 'fp16', 'bf16'",
    ):
        config_from_dict({"training": {"mixed_precision": "fp8"}})


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        (
            "training",
            "learning_rate",
            0.0,
            r"'training\.learning_rate' is 0\.0; expected a value in \(0\.0, 1\.0\]",
        ),
        ("training", "epochs", 0, r"'training\.epochs' is 0; expected a value >= 1"),
        (
            "training",
            "warmup_ratio",
            1.5,
            r"'training\.warmup_ratio' is 1\.5; expected a value in \[0\.0, 1\.0\]",
        ),
        (
            "evaluation",
            "prevalence",
            1.0,
            r"'evaluation\.prevalence' is 1\.0; expected a value in \(0\.0, 1\.0\)",
        ),
        ("model", "max_length", 4, r"'model\.max_length' is 4; expected a value in \[8, 8192\]"),
        (
            "training",
            "class_weights",
            "balanced",
            r"training\.class_weights is 'balanced'; expected 'none', 'auto'",
        ),
    ],
)
def test_out_of_range_values(section: str, key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict({section: {key: value}})


def test_split_column_needs_eval_splits() -> None:
    with pytest.raises(ConfigError, match=r"data\.eval_splits is empty"):
        config_from_dict({"data": {"split_column": "fold"}})


def test_random_init_needs_tokenizer() -> None:
    with pytest.raises(ConfigError, match=r"model\.tokenizer is not set"):
        config_from_dict({"model": {"init": "random"}})


def test_overrides_are_typed_yaml() -> None:
    raw = apply_overrides(
        {"training": {"epochs": 3}},
        ["--training.epochs=5", "--training.learning_rate=1e-4", "--data.eval_splits=[5]", "--output.dir=x"],
    )
    cfg = config_from_dict(raw)
    assert cfg.training.epochs == 5
    assert cfg.training.learning_rate == pytest.approx(1e-4)
    assert cfg.data.eval_splits == ["5"]  # fold names are text, even when YAML reads 5 as an int
    assert cfg.output.dir == "x"


def test_override_type_error_names_key() -> None:
    with pytest.raises(ConfigError, match=r"'training\.epochs' has value 2\.5"):
        config_from_dict(apply_overrides({}, ["--training.epochs=2.5"]))


def test_malformed_override() -> None:
    with pytest.raises(ConfigError, match=r"must look like --section\.key=value"):
        apply_overrides({}, ["training.epochs=3"])


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    cfg = config_from_dict({"training": {"epochs": 2}, "data": {"label_map": {"truthful": "genuine"}}})
    path = tmp_path / "resolved.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path) == cfg


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"config file 'nope\.yaml' does not exist"):
        load_config("nope.yaml")
