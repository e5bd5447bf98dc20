"""One implementation each of the canonical columns, the label mapper, the grouping union-find and
the two-class softmax, used by data loading, corpus import, training and inference alike."""

from __future__ import annotations

import ast
from pathlib import Path

import datasets
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("fakereview_nlp", "training", "benchmarks") for p in (ROOT / d).rglob("*.py")]


def _defined(name_test: object) -> list[str]:
    out = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            out += [f"{path.relative_to(ROOT)}:{n}" for n in names if name_test(n)]  # type: ignore[operator]
    return sorted(out)


def test_canonical_columns_defined_once() -> None:
    assert _defined(lambda n: n == "CANONICAL_COLUMNS") == ["fakereview_nlp/labels.py:CANONICAL_COLUMNS"]
    from fakereview_nlp import labels
    from fakereview_nlp.data import corpora

    assert corpora.CANONICAL_COLUMNS is labels.CANONICAL_COLUMNS


def test_one_label_mapper_one_union_find_one_softmax() -> None:
    assert _defined(lambda n: "map_labels" in n) == ["fakereview_nlp/labels.py:map_labels"]
    assert _defined(lambda n: n.lower() in {"unionfind", "union", "find"}) == [
        "fakereview_nlp/data/grouping.py:UnionFind",
        "fakereview_nlp/data/grouping.py:find",
        "fakereview_nlp/data/grouping.py:union",
    ]
    assert _defined(lambda n: "softmax" in n.lower() or "sigmoid" in n.lower()) == []


def test_data_and_corpora_share_the_label_mapper() -> None:
    from fakereview_nlp import labels
    from fakereview_nlp.data import corpora
    from fakereview_nlp.data import reviews as data

    assert data.map_labels is labels.map_labels is corpora.map_labels
    with pytest.raises(ValueError, match=r"label values 'spam' \(1\) are not in label_map"):
        data.map_labels(["fake", "spam"], None)
    with pytest.raises(
        ValueError, match=r"label values 'spam' \(1\) in x\.csv are not in label_map.*right corpus"
    ):
        corpora._label_names(["deceptive", "spam"], corpora.OP_SPAM_LABEL_MAP, "x.csv")
    with pytest.raises(ValueError, match=r"1 rows in x\.csv have an empty label"):
        corpora._label_names(["deceptive", " "], corpora.OP_SPAM_LABEL_MAP, "x.csv")
    assert corpora._label_names(["deceptive", "truthful"], corpora.OP_SPAM_LABEL_MAP, "x") == [
        "fake",
        "genuine",
    ]


def test_groups_unchanged_by_the_shared_union_find() -> None:
    """Group keys decide splits and folds: sharing the union-find must not move one row."""
    import hashlib
    import random

    from fakereview_nlp.data.corpora import _union_groups
    from fakereview_nlp.data.reviews import group_keys

    # every expected value below was printed by the implementations before they were shared
    ds = datasets.Dataset.from_dict(
        {
            "text": ["a b", "c d", "a b", "e f", "c d", "g h", "i j", "g h x"],
            "group": ["", "h1", "h2", "h2", "", "h3", "h1", ""],
        }
    )
    assert group_keys(ds) == ["0", "1", "0", "0", "1", "5", "1", "7"]
    assert group_keys(ds, prefix_chars=2) == ["0", "1", "0", "0", "1", "5", "1", "5"]
    rng = random.Random(1)
    texts = [
        rng.choice(["aa", "ab", "ba", "bb", "cc", "cd"]) + " " + rng.choice(["x", "y", "z"])
        for _ in range(40)
    ]
    groups = [rng.choice(["", "g1", "g2", "g3", "g4", "g5", "g6"]) for _ in range(40)]
    ds = datasets.Dataset.from_dict({"text": texts, "group": groups})
    keys = repr((group_keys(ds), group_keys(ds, prefix_chars=1)))
    assert hashlib.sha256(keys.encode()).hexdigest() == (
        "ee788335f2a9f218d809ae2bab59cbdbe279ada8815eb6e886980cc85c60c995"
    )
    rng = random.Random(2)
    rows = [
        [f"product:p{rng.randint(0, 15)}"]
        + ([f"prefix:{rng.choice('abcdefgh')}"] if rng.random() < 0.7 else [])
        for _ in range(60)
    ]
    assert hashlib.sha256(repr(_union_groups(rows)).encode()).hexdigest() == (
        "93c8cffd686a1c9f329bdbbe4d8f0bb800eeb2c479f5f7a37076b2d017109509"
    )


def test_data_and_corpora_share_the_union_find(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakereview_nlp.data import corpora, grouping
    from fakereview_nlp.data import reviews as data

    made: list[int] = []
    real = grouping.UnionFind.__init__

    def spy(self: grouping.UnionFind, *args: object, **kwargs: object) -> None:
        made.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(grouping.UnionFind, "__init__", spy)
    data.group_keys(datasets.Dataset.from_dict({"text": ["a", "a"], "group": ["", ""]}))
    corpora._union_groups([["product:1", "prefix:a"], ["product:2", "prefix:a"]])
    assert len(made) == 2


def test_inference_scores_with_the_calibration_softmax(tiny_model_dir: Path) -> None:
    import torch

    from fakereview_nlp import FakeReviewClassifier
    from fakereview_nlp.model.calibration import apply_temperature

    clf = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")
    clf.temperature = 0.7
    text = "Best hotel ever!!! Amazing amazing amazing!!!"
    with torch.inference_mode():
        ids = clf.tokenizer([text], truncation=True, max_length=clf.max_length, return_tensors="pt")
        logits = clf.model(**ids).logits.float().numpy()
    np.testing.assert_array_equal(
        clf.predict_proba([text]), apply_temperature(logits, 0.7).astype(np.float32)
    )
