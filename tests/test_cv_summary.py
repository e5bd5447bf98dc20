"""benchmarks/cv_summary.py on fabricated data: --paired per-fold change on shared folds, and agreement."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.cv_summary import agreement, paired


def _report(folder: Path, accuracies: dict[str, float], n: int = 100) -> Path:
    folder.mkdir()
    folds = [
        {
            "fold": k,
            "n": n,
            "n_fake": n // 2,
            "models": {"transformer": {"accuracy": a, "average_precision": a}},
        }
        for k, a in accuracies.items()
    ]
    (folder / "report.json").write_text(json.dumps({"models": ["transformer"], "folds": {"folds": folds}}))
    return folder


def test_paired_compares_only_shared_folds(tmp_path: Path) -> None:
    before = _report(tmp_path / "a", {"1": 0.90, "2": 0.92, "3": 0.94})
    after = _report(tmp_path / "b", {"1": 0.95, "2": 0.91})
    lines = paired(before, after)
    assert lines[0].endswith("on folds 1, 2")
    assert "0.910 -> 0.930 (per fold +0.050 -0.010; better on 1, worse on 1)" in lines[1]


def test_paired_refuses_different_folds(tmp_path: Path) -> None:
    before = _report(tmp_path / "a", {"1": 0.9})
    after = _report(tmp_path / "b", {"1": 0.9}, n=99)
    with pytest.raises(ValueError, match=r"fold 1 has 100 vs 99 reviews: not the same folds"):
        paired(before, after)


def test_agreement_counts_who_is_right_and_the_combiner_ceiling() -> None:
    oof = pd.DataFrame(
        {
            "label": [1, 1, 0, 0],
            "transformer_score": [0.9, 0.8, 0.7, 0.6],  # right, right, wrong, wrong
            "tfidf_score": [0.9, 0.2, 0.1, 0.7],  # right, wrong, right, wrong
        }
    )
    assert agreement(oof) == (
        "agreement at 0.5: both right 0.250; only transformer_score 0.250; only tfidf_score 0.250; "
        "both wrong 0.250; ceiling for following one of the two per review 0.750"
    )
