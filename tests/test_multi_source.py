"""data.sources: several corpora, each read and split by its own rules, trained as one model."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import TINY_DISTILBERT, make_reviews
from training.config import ConfigError, config_from_dict
from training.train import load_splits, run


def _write(rows: list[dict[str, object]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture()
def two_corpora(tmp_path: Path) -> tuple[Path, Path]:
    """A hotel-like corpus with folds and its own label names, and a product-like one without folds."""
    return write_two_corpora(tmp_path)


def write_two_corpora(tmp_path: Path) -> tuple[Path, Path]:
    """The files of :func:`two_corpora` in ``tmp_path``."""
    hotels = []
    for row in make_reviews(36, seed=1):
        hotels.append(
            {
                "id": f"h-{row['id']}",
                "review": row["text"],
                "truth": "deceptive" if row["label"] == "fake" else "truthful",
                "hotel": row["group"],
                "fold": row["fold"],
                "polarity": "positive",
            }
        )
    products = [
        {"id": f"p-{row['id']}", "text": row["text"], "label": row["label"], "category": f"cat{i % 3}"}
        for i, row in enumerate(make_reviews(60, seed=2))
    ]
    return _write(hotels, tmp_path / "hotels.csv"), _write(products, tmp_path / "products.csv")


def _raw(hotels: Path, products: Path, tokenizer_dir: Path, out: Path, **data: object) -> dict[str, object]:
    return {
        "data": {
            "sources": [
                {
                    "name": "hotels",
                    "path": str(hotels),
                    "text_column": "review",
                    "label_column": "truth",
                    "label_map": {"truthful": "genuine", "deceptive": "fake"},
                    "group_column": "hotel",
                    "split_column": "fold",
                    "id_column": "id",
                    "keep_columns": ["polarity"],
                    "eval_splits": ["3"],
                    "oversample": 2,
                },
                {
                    "name": "products",
                    "path": str(products),
                    "id_column": "id",
                    "keep_columns": ["category"],
                    "eval_fraction": 0.25,
                },
            ],
            **data,
        },
        "model": {
            "init": "random",
            "tokenizer": str(tokenizer_dir),
            "random_config": TINY_DISTILBERT,
            "max_length": 32,
            "combine_tfidf": True,
            "tfidf_min_df": 2,
            "tfidf_max_features": 50,
        },
        "training": {"seed": 3, "epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "select_best": False},
        "evaluation": {"operating_flag_rate": 0.1},
        "output": {"dir": str(out)},
    }


def test_each_source_is_split_by_its_own_rules(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path
) -> None:
    hotels, products = two_corpora
    cfg = config_from_dict(_raw(hotels, products, tokenizer_dir, tmp_path / "m"))
    train, val = load_splits(cfg)
    by_domain = Counter(val["domain"])
    raw_hotels = pd.read_csv(hotels, dtype=str)
    # hotels: exactly fold 3 held out, every other fold trained on, twice (oversample: 2)
    held = set(raw_hotels.loc[raw_hotels["fold"] == "3", "id"])
    assert {i for i, d in zip(val["id"], val["domain"], strict=True) if d == "hotels"} == held
    train_hotels = [i for i, d in zip(train["id"], train["domain"], strict=True) if d == "hotels"]
    assert not held & set(train_hotels)
    assert Counter(Counter(train_hotels).values()) == {2: len(raw_hotels) - len(held)}
    # products: a grouped share near 25 %, and the same rows the product file alone would give
    assert 0.2 <= by_domain["products"] / 60 <= 0.4
    alone = config_from_dict(
        {
            "data": {"path": str(products), "id_column": "id", "eval_fraction": 0.25},
            "model": {"init": "random", "tokenizer": str(tokenizer_dir)},
            "training": {"seed": 3},
        }
    )
    _, val_alone = load_splits(alone)
    assert sorted(i for i, d in zip(val["id"], val["domain"], strict=True) if d == "products") == sorted(
        val_alone["id"]
    )
    # every source's kept columns are carried, blank where a source lacks them
    assert {"domain", "polarity", "category"} <= set(val.column_names)
    assert set(val.filter(lambda r: r["domain"] == "products")["polarity"]) == {""}


def test_multi_source_run_writes_domain_in_predictions(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path
) -> None:
    hotels, products = two_corpora
    out = tmp_path / "model"
    run(config_from_dict(_raw(hotels, products, tokenizer_dir, out)))
    predictions = pd.read_csv(out / "val_predictions.csv", dtype=str, keep_default_na=False)
    assert set(predictions["domain"]) == {"hotels", "products"}
    assert {"tfidf_score", "transformer_score", "polarity", "category"} <= set(predictions.columns)
    saved = (out / "training_config.yaml").read_text()
    assert "oversample: 2" in saved and "name: products" in saved


def test_tfidf_part_is_pruned(two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path) -> None:
    import json

    hotels, products = two_corpora
    out = tmp_path / "model"
    run(config_from_dict(_raw(hotels, products, tokenizer_dir, out)))
    payload = json.loads((out / "tfidf_model.json").read_text())
    assert 0 < len(payload["vocabulary"]) <= 50


def test_per_file_key_beside_sources_is_refused(two_corpora: tuple[Path, Path], tokenizer_dir: Path) -> None:
    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, Path("unused"), text_column="body")
    with pytest.raises(
        ConfigError, match=r"data.text_column is set beside data.sources.*data.sources\[i\].text_column"
    ):
        config_from_dict(raw)


def test_source_errors_name_the_source(two_corpora: tuple[Path, Path], tokenizer_dir: Path) -> None:
    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, Path("unused"))
    raw["data"]["sources"][1]["eval_fractoin"] = 0.1  # type: ignore[index]
    with pytest.raises(
        ConfigError, match=r"unknown config key 'data.sources\[1\].eval_fractoin'; did you mean"
    ):
        config_from_dict(raw)
    raw = _raw(hotels, products, tokenizer_dir, Path("unused"))
    raw["data"]["sources"][0]["oversample"] = 0  # type: ignore[index]
    with pytest.raises(
        ConfigError, match=r"config key \"data.sources\['hotels'\].oversample\" is 0; expected a value >= 1"
    ):
        config_from_dict(raw)
    raw = _raw(hotels, products, tokenizer_dir, Path("unused"))
    raw["data"]["sources"][1]["name"] = "hotels"  # type: ignore[index]
    with pytest.raises(ConfigError, match="repeat; each source needs its own name"):
        config_from_dict(raw)
    raw = _raw(hotels, products, tokenizer_dir, Path("unused"))
    del raw["data"]["sources"][0]["name"]  # type: ignore[index]
    with pytest.raises(ConfigError, match="needs a name"):
        config_from_dict(raw)


def test_ids_shared_across_sources_are_refused(tmp_path: Path, tokenizer_dir: Path) -> None:
    rows = make_reviews(40, seed=4)
    a = _write(rows, tmp_path / "a.csv")
    b = _write(rows, tmp_path / "b.csv")
    raw = {
        "data": {
            "sources": [
                {
                    "name": "a",
                    "path": str(a),
                    "id_column": "id",
                    "group_column": "group",
                    "eval_fraction": 0.3,
                },
                {
                    "name": "b",
                    "path": str(b),
                    "id_column": "id",
                    "group_column": "group",
                    "eval_fraction": 0.3,
                },
            ]
        },
        "model": {"init": "random", "tokenizer": str(tokenizer_dir)},
    }
    with pytest.raises(ValueError, match=r"appears in the validation rows of both 'a' and 'b'"):
        load_splits(config_from_dict(raw))


def test_reference_config_holds_out_op_spam_fold_5() -> None:
    from training.config import load_config

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "configs" / "reference.yaml")
    op_spam = next(s for s in cfg.data.sources if s.name == "op_spam")
    assert op_spam.split_column == "fold" and op_spam.eval_splits == ["5"] and op_spam.train_splits is None
    assert cfg.training.select_best is False


def test_one_source_is_overridden_by_name(two_corpora: tuple[Path, Path], tokenizer_dir: Path) -> None:
    from training.config import apply_overrides

    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, Path("unused"))
    cfg = config_from_dict(apply_overrides(raw, ["--data.sources.hotels.oversample=5"]))
    assert [s.oversample for s in cfg.data.sources] == [5, 1]
    assert raw["data"]["sources"][0]["oversample"] == 2  # type: ignore[index]  # the input is not changed
    with pytest.raises(
        ConfigError, match=r"names source 'motels'; the config's data.sources are \['hotels', 'products'\]"
    ):
        apply_overrides(raw, ["--data.sources.motels.oversample=5"])
    with pytest.raises(ConfigError, match=r"config key 'data.sources\[0\].oversample' has value 'many'"):
        config_from_dict(apply_overrides(raw, ["--data.sources.hotels.oversample=many"]))


def test_inner_validation_never_touches_the_reported_rows(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path
) -> None:
    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, tmp_path / "m")
    outer_train, outer_val = load_splits(config_from_dict(raw))
    raw["data"]["sources"][0]["inner_eval_splits"] = ["2"]  # type: ignore[index]
    raw["data"]["inner_validation"] = True  # type: ignore[index]
    inner_train, inner_val = load_splits(config_from_dict(raw))
    reported = set(outer_val["id"])
    assert not reported & (set(inner_train["id"]) | set(inner_val["id"]))
    # together the inner rows are exactly the outer training rows, split again by each source's rule
    assert set(inner_train["id"]) | set(inner_val["id"]) == set(outer_train["id"])
    assert not set(inner_train["id"]) & set(inner_val["id"])
    raw_hotels = pd.read_csv(hotels, dtype=str)
    fold_2 = set(raw_hotels.loc[raw_hotels["fold"] == "2", "id"])
    assert {i for i, d in zip(inner_val["id"], inner_val["domain"], strict=True) if d == "hotels"} == fold_2
    assert Counter(inner_val["domain"])["products"] > 0


def test_inner_validation_needs_inner_splits_where_a_source_splits_by_column(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path
) -> None:
    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, tmp_path / "m", inner_validation=True)
    with pytest.raises(
        ConfigError, match=r"data.sources\['hotels'\] splits by 'fold' and names no inner_eval_splits"
    ):
        config_from_dict(raw)
    raw["data"]["sources"][0]["inner_eval_splits"] = ["3"]  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"inner_eval_splits \['3'\] overlap .*eval_splits \['3'\]"):
        config_from_dict(raw)
