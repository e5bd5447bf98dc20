"""New-source rules: row filters, leave-one-source-out, length balancing, length and robustness slices."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from fakereview_nlp.evaluation.length import length_report
from fakereview_nlp.evaluation.perturb import PERTURBATIONS, add_typos, perturb_all, shuffle_sentences
from tests.test_multi_source import _raw, _write, two_corpora  # noqa: F401  (fixture)
from training.config import ConfigError, config_from_dict, load_config
from training.sampler import length_balanced_indices
from training.train import load_splits

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- filters and leave_out


def _with_language(products: Path, tmp_path: Path) -> Path:
    import pandas as pd

    df = pd.read_csv(products, dtype=str)
    df["language"] = ["English" if i % 3 else "French" for i in range(len(df))]
    return _write(df.to_dict("records"), tmp_path / "products_lang.csv")


def test_filter_keeps_only_the_listed_values(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    hotels, products = two_corpora
    lang = _with_language(products, tmp_path)
    raw = _raw(hotels, lang, tokenizer_dir, tmp_path / "m")
    raw["data"]["sources"][1]["filters"] = {"language": ["English"]}  # type: ignore[index]
    train, val = load_splits(config_from_dict(raw))
    product_ids = {i for i, d in zip([*train["id"], *val["id"]], [*train["domain"], *val["domain"]], strict=True)
                   if d == "products"}  # fmt: skip
    import pandas as pd

    table = pd.read_csv(lang, dtype=str)
    assert product_ids == set(table.loc[table["language"] == "English", "id"])
    assert len(product_ids) == 40


def test_filter_errors_name_the_column_and_values(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    hotels, products = two_corpora
    lang = _with_language(products, tmp_path)
    raw = _raw(hotels, lang, tokenizer_dir, tmp_path / "m")
    raw["data"]["sources"][1]["filters"] = {"language": []}  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"data.sources\['products'\].filters.language is empty"):
        config_from_dict(raw)
    raw["data"]["sources"][1]["filters"] = {"language": ["Klingon"]}  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"filter language: \['Klingon'\] keeps no row of .*values there: \['English', 'French'\]"):
        load_splits(config_from_dict(raw))
    raw["data"]["sources"][1]["filters"] = {"lang": ["English"]}  # type: ignore[index]
    with pytest.raises(ValueError, match=r"lang"):
        load_splits(config_from_dict(raw))


def test_leave_out_drops_a_source_and_the_resolved_config_reloads(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, tmp_path / "m", leave_out=["products"])
    cfg = config_from_dict(raw)
    assert [s.name for s in cfg.data.sources] == ["hotels"]
    train, val = load_splits(cfg)
    assert set(train["domain"]) == set(val["domain"]) == {"hotels"}
    again = config_from_dict(yaml.safe_load(cfg.to_yaml()))
    assert [s.name for s in again.data.sources] == ["hotels"]
    with pytest.raises(ConfigError, match=r"data.leave_out names \['movies'\], which are not in data.sources"):
        config_from_dict(_raw(hotels, products, tokenizer_dir, tmp_path / "m", leave_out=["movies"]))
    with pytest.raises(ConfigError, match=r"leaves no source"):
        config_from_dict(_raw(hotels, products, tokenizer_dir, tmp_path / "m", leave_out=["hotels", "products"]))


def test_reference_config_has_the_four_sources_with_their_rules() -> None:
    cfg = load_config(ROOT / "configs" / "reference.yaml")
    by_name = {s.name: s for s in cfg.data.sources}
    assert list(by_name) == ["op_spam", "fake_reviews_cg", "maide_up", "combat_ai"]
    assert by_name["maide_up"].group_column == "hotel" and by_name["maide_up"].filters == {"language": ["English"]}
    assert by_name["combat_ai"].near_duplicate_prefix_chars > 0
    assert by_name["maide_up"].length_balance and by_name["combat_ai"].length_balance
    loo = load_config(ROOT / "configs" / "reference.yaml", ["--data.leave_out=[combat_ai]"])
    assert [s.name for s in loo.data.sources] == ["op_spam", "fake_reviews_cg", "maide_up"]


# ----------------------------------------------------------------------------- length balancing


def test_length_balanced_rows_have_one_length_distribution_per_class() -> None:
    rng = np.random.default_rng(0)
    # fakes long, genuine short: length alone separates them
    lengths = np.r_[rng.normal(300, 60, 400), rng.normal(180, 60, 400)].clip(10).astype(int)
    labels = np.r_[np.ones(400, int), np.zeros(400, int)]
    assert length_report(labels, lengths, lengths).length_only_auc > 0.85
    idx = length_balanced_indices(lengths, labels, seed=1)
    assert idx == length_balanced_indices(lengths, labels, seed=1)  # seeded
    kept_l, kept_y = lengths[idx], labels[idx]
    assert Counter(kept_y.tolist())[0] == Counter(kept_y.tolist())[1]
    # within the balanced rows length says little of the label any more
    assert length_report(kept_y, kept_l, kept_l).length_only_auc < 0.56
    assert max(Counter(idx).values()) <= 4  # max_repeat


def test_length_balance_leaves_out_single_class_bins_and_checks_inputs() -> None:
    lengths = [10, 11, 12, 100, 101, 102, 103, 104]
    labels = [0, 0, 0, 0, 1, 0, 1, 1]
    idx = length_balanced_indices(lengths, labels, seed=0, bins=2)
    assert set(idx) <= {3, 4, 5, 6, 7}  # the short bin holds genuine reviews only
    with pytest.raises(ValueError, match=r"lengths has 2 rows but labels has 1"):
        length_balanced_indices([1, 2], [0], seed=0)
    with pytest.raises(ValueError, match=r"bins and max_repeat must be >= 1, got bins=0"):
        length_balanced_indices([1, 2], [0, 1], seed=0, bins=0)


def test_length_balanced_training_rows_in_a_run(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, tmp_path / "m")
    raw["data"]["sources"][1]["length_balance"] = True  # type: ignore[index]
    plain_train, plain_val = load_splits(config_from_dict(_raw(hotels, products, tokenizer_dir, tmp_path / "m")))
    train, val = load_splits(config_from_dict(raw))
    assert sorted(val["id"]) == sorted(plain_val["id"])  # validation rows are never resampled
    products_train = [y for y, d in zip(train["label"], train["domain"], strict=True) if d == "products"]
    assert Counter(products_train)[0] == Counter(products_train)[1]


# ----------------------------------------------------------------------------- length report


def test_a_model_that_scores_length_loses_its_auc_within_quartiles() -> None:
    rng = np.random.default_rng(0)
    lengths = np.r_[rng.normal(400, 100, 600), rng.normal(200, 100, 600)].clip(5)
    labels = np.r_[np.ones(600, int), np.zeros(600, int)]
    by_length = length_report(labels, lengths / lengths.max(), lengths)
    assert by_length.roc_auc > 0.9 and by_length.length_only_auc == pytest.approx(by_length.roc_auc)
    assert by_length.fakes_are == "longer"
    assert by_length.within_bins_auc is not None and by_length.within_bins_auc < 0.75
    # a score that knows the label apart from length keeps its AUC in every bin
    signal = labels + rng.normal(0, 0.5, len(labels))
    fair = length_report(labels, signal, lengths)
    assert fair.within_bins_auc is not None and abs(fair.within_bins_auc - fair.roc_auc) < 0.05


def test_length_report_skips_bins_with_too_few_of_a_class() -> None:
    labels = np.r_[np.ones(60, int), np.zeros(60, int)]
    lengths = np.r_[np.arange(60) + 1000, np.arange(60)]  # no overlap: every quartile holds one class
    rep = length_report(labels, labels.astype(float), lengths)
    assert rep.bins_used == 0 and rep.within_bins_auc is None
    assert rep.length_only_auc == 1.0
    with pytest.raises(ValueError, match=r"lengths has 2 rows but labels has 120"):
        length_report(labels, labels.astype(float), [1, 2])


# ----------------------------------------------------------------------------- perturbations


def test_perturbations_are_deterministic_and_keep_the_words() -> None:
    text = "The breakfast was wonderful. Staff were friendly! Parking cost extra though."
    assert add_typos(text, rate=1.0, seed=3) == add_typos(text, rate=1.0, seed=3)
    typo = add_typos(text, rate=1.0, seed=3)
    assert typo != text and sorted(typo) == sorted(text)  # letters swapped, none added or lost
    assert add_typos(text, rate=0.0) == text
    shuffled = shuffle_sentences(text, seed=1)
    assert sorted(shuffled.split()) == sorted(text.split())
    assert shuffle_sentences("One sentence only", seed=5) == "One sentence only"
    out = perturb_all([text, text], "upper_case")
    assert out == [text.upper()] * 2
    assert set(PERTURBATIONS) == {"typos", "lower_case", "upper_case", "sentence_order"}


def test_perturbation_errors() -> None:
    with pytest.raises(TypeError, match=r"wrap a single review as \[text\]"):
        perturb_all("a review", "typos")
    with pytest.raises(ValueError, match=r"unknown perturbation 'emoji'; choose one of"):
        perturb_all(["a"], "emoji")
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\], got 2"):
        add_typos("text", rate=2)
