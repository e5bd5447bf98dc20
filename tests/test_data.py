from __future__ import annotations

import json
from pathlib import Path

import datasets
import pandas as pd
import pytest

from fakereview_nlp.data.reviews import (
    grouped_folds,
    grouped_split,
    load_reviews,
    map_labels,
    split_by_column,
    stratified_subsample,
)
from fakereview_nlp.text import normalize_text
from tests.conftest import make_reviews


def write(tmp_path: Path, rows: list[dict[str, object]], fmt: str) -> Path:
    frame = pd.DataFrame(rows)
    path = tmp_path / f"reviews.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_each_format_reads_to_canonical_schema(tmp_path: Path, fmt: str) -> None:
    rows = make_reviews(10)
    ds = load_reviews(write(tmp_path, rows, fmt), group_column="group", split_column="fold", id_column="id")
    assert ds.column_names == ["id", "text", "label", "group", "split"]
    assert ds["label"] == [0, 1] * 5
    assert ds["id"][3] == "r3"
    assert ds["split"][0] in {"1", "2", "3"}


def test_hub_id_path_is_used_for_non_files(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {}

    def fake_load(name: str, split: str) -> datasets.Dataset:
        calls["args"] = (name, split)
        return datasets.Dataset.from_dict({"text": ["a b", "c"], "label": ["fake", "genuine"]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    ds = load_reviews("someone/fake-reviews", hf_split="test")
    assert calls["args"] == ("someone/fake-reviews", "test")
    assert ds["label"] == [1, 0]


def test_missing_file_names_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"review file '.*nope\.csv' does not exist"):
        load_reviews(tmp_path / "nope.csv")


def test_label_map_and_unmapped_values_listed() -> None:
    assert map_labels(["truthful", "deceptive"], {"truthful": "genuine", "deceptive": "fake"}) == [0, 1]
    with pytest.raises(ValueError, match=r"label values 'maybe' \(2\), 'spam' \(1\) are not in label_map"):
        map_labels(["fake", "maybe", "spam", "maybe"], None)


def test_label_map_target_must_be_canonical() -> None:
    with pytest.raises(ValueError, match=r"label_map maps 'deceptive' to 'spam'; targets must be one of"):
        map_labels(["deceptive"], {"deceptive": "spam"})


def test_missing_column_lists_columns(tmp_path: Path) -> None:
    path = write(tmp_path, make_reviews(4), "csv")
    with pytest.raises(
        ValueError, match=r"text_column='review' is not a column of .*; its columns are \['id', 'text'"
    ):
        load_reviews(path, text_column="review")


def test_normalisation_removes_trailing_space_cue(tmp_path: Path) -> None:
    rows = [
        {"text": "Lovely stay.  \n", "label": "genuine"},
        {"text": "Lovely\u00a0stay.", "label": "fake"},
        {"text": "Cafe\u0301 was nice", "label": "fake"},
    ]
    ds = load_reviews(write(tmp_path, rows, "jsonl"))
    assert ds["text"] == ["Lovely stay.", "Lovely stay.", "Caf\u00e9 was nice"]
    assert normalize_text(" a \t b ") == "a b"


def test_bad_rows_dropped_with_warning_or_rejected(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        {"text": "fine review", "label": "fake"},
        {"text": "   ", "label": "genuine"},
        {"text": "no label here", "label": ""},
        {"text": "another", "label": "genuine"},
    ]
    path = write(tmp_path, rows, "csv")
    ds = load_reviews(path)
    assert ds["text"] == ["fine review", "another"]
    assert "dropping 2 of 4 rows" in caplog.text
    with pytest.raises(
        ValueError,
        match=r"2 of 4 rows in .* are unusable \(1 with empty or missing 'text', 1 with a missing 'label'\)",
    ):
        load_reviews(path, bad_rows="error")


def _dataset_with_duplicates() -> datasets.Dataset:
    rows = make_reviews(60)
    # the same text under two different groups must still land on one side
    rows[5]["text"] = rows[40]["text"] = "identical text in two hotels"
    rows[7]["group"] = ""
    return datasets.Dataset.from_list(
        [
            {
                "id": r["id"],
                "text": r["text"],
                "label": 1 if r["label"] == "fake" else 0,
                "group": r["group"],
                "split": "",
            }
            for r in rows
        ]
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_grouped_split_has_no_shared_group_or_text(seed: int) -> None:
    ds = _dataset_with_duplicates()
    train, val = grouped_split(ds, eval_fraction=0.25, seed=seed)
    assert len(train) + len(val) == len(ds)
    assert not ({g for g in train["group"] if g} & {g for g in val["group"] if g})
    assert not (set(train["text"]) & set(val["text"]))
    assert len(val) >= 0.25 * len(ds)


def test_grouped_split_is_seeded() -> None:
    ds = _dataset_with_duplicates()
    assert (
        grouped_split(ds, eval_fraction=0.3, seed=7)[1]["id"]
        == grouped_split(ds, eval_fraction=0.3, seed=7)[1]["id"]
    )


def test_grouped_folds_keep_groups_and_texts_together() -> None:
    ds = _dataset_with_duplicates()
    folds = grouped_folds(ds, n_folds=3, seed=0)
    by_group: dict[str, set[str]] = {}
    by_text: dict[str, set[str]] = {}
    for fold, group, text in zip(folds, ds["group"], ds["text"], strict=True):
        if group:
            by_group.setdefault(group, set()).add(fold)
        by_text.setdefault(text, set()).add(fold)
    assert all(len(v) == 1 for v in by_group.values())
    assert all(len(v) == 1 for v in by_text.values())
    assert set(folds) == {"1", "2", "3"}


def test_split_by_column_and_unknown_split() -> None:
    ds = datasets.Dataset.from_dict(
        {
            "id": ["a", "b", "c"],
            "text": ["x", "y", "z"],
            "label": [0, 1, 0],
            "group": ["", "", ""],
            "split": ["1", "2", "3"],
        }
    )
    train, val = split_by_column(ds, eval_splits=["3"])
    assert train["id"] == ["a", "b"] and val["id"] == ["c"]
    train, _ = split_by_column(ds, eval_splits=["3"], train_splits=["1"])
    assert train["id"] == ["a"]
    with pytest.raises(
        ValueError, match=r"eval split\(s\) \['9'\] are not in the split column; it holds \['1', '2', '3'\]"
    ):
        split_by_column(ds, eval_splits=["9"])


def test_prefix_columns_put_metadata_before_text(tmp_path: Path) -> None:
    rows = [{"text": "Works  well.", "label": "fake", "rating": "5", "verified_purchase": "N"}]
    ds = load_reviews(write(tmp_path, rows, "csv"), prefix_columns=["verified_purchase", "rating"])
    assert ds["text"] == ["verified_purchase_N rating_5 | Works well."]
    with pytest.raises(ValueError, match=r"prefix_columns\[0\]='stars' is not a column"):
        load_reviews(write(tmp_path, rows, "csv"), prefix_columns=["stars"])


def test_near_duplicate_openings_stay_in_one_fold() -> None:
    texts = [f"This product is great and I love it, number {i}" for i in range(6)]
    texts += [f"unrelated review {i} about something else entirely" for i in range(24)]
    ds = datasets.Dataset.from_dict(
        {
            "id": [str(i) for i in range(30)],
            "text": texts,
            "label": [i % 2 for i in range(30)],
            "group": [""] * 30,
            "split": [""] * 30,
        }
    )
    folds = grouped_folds(ds, n_folds=3, seed=0, prefix_chars=30)
    assert len(set(folds[:6])) == 1
    _, val = grouped_split(ds, eval_fraction=0.3, seed=1, prefix_chars=30)
    shared = [t for t in val["text"] if t.startswith("This product")]
    assert len(shared) in (0, 6)


def test_stratified_subsample_keeps_class_shares_and_is_seeded() -> None:
    labels = [0] * 30 + [1] * 10
    rows = stratified_subsample(labels, 0.5, seed=1)
    assert rows == sorted(rows) and len(set(rows)) == len(rows)
    assert [labels[i] for i in rows].count(0) == 15
    assert [labels[i] for i in rows].count(1) == 5
    assert stratified_subsample(labels, 0.5, seed=1) == rows
    assert stratified_subsample(labels, 0.5, seed=2) != rows
    # a tiny share still keeps one row of each class
    assert sorted({labels[i] for i in stratified_subsample(labels, 0.01, seed=1)}) == [0, 1]
    assert stratified_subsample(labels, 1.0, seed=1) == list(range(40))


@pytest.mark.parametrize("fraction", [0.0, 1.5, -0.1])
def test_stratified_subsample_rejects_fraction_outside_unit_interval(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\], got .*1.0 keeps every row"):
        stratified_subsample([0, 1], fraction, seed=0)
