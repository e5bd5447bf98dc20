"""benchmarks/cross_domain.py end to end on fabricated corpora and a tiny random model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tests.test_multi_source import _raw, two_corpora  # noqa: F401  (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_cross_domain_reports_length_leave_one_out_and_robustness(
    two_corpora: tuple[Path, Path], tokenizer_dir: Path, tiny_model_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    import cross_domain

    hotels, products = two_corpora
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump(_raw(hotels, products, tokenizer_dir, tmp_path / "m")), encoding="utf-8")
    out = tmp_path / "report"
    code = cross_domain.main(
        [
            str(config),
            "--model", f"tiny={tiny_model_dir}",
            "--loo", f"products={tiny_model_dir}",
            "--perturb-model", "tiny",
            "--perturb-rows", "20",
            "--n-boot", "20",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((out / "cross_domain.json").read_text(encoding="utf-8"))
    assert set(summary["domains"]) == {"hotels", "products"}
    # length table: the length-only AUC is direction-free, and every model has a row per domain
    for domain in ("hotels", "products"):
        rows = summary["length"][domain]
        assert {"tiny", "tfidf_all"} <= set(rows)
        assert all(0.5 <= r["length_only_auc"] <= 1.0 for r in rows.values())
    # leave one out: every row of the left-out source, scored by the model and TF-IDF without it
    loo = summary["loo"]["products"]
    assert loo["n"] == 60 and set(loo["results"]) == {"without_products", "tfidf_without_products"}
    assert 0.0 <= loo["results"]["without_products"]["recall_at_operating"] <= 1.0
    assert (out / "loo_products" / "report.md").is_file()
    # recall at the operating threshold, per domain, and the robustness slices
    assert summary["operating"]["tiny"]["threshold"] == 0.5
    assert set(summary["robustness"]) <= {"hotels", "products"} and summary["robustness"]
    assert {"typos", "lower_case", "upper_case", "sentence_order"} <= set(next(iter(summary["robustness"].values())))
    text = (out / "cross_domain.md").read_text(encoding="utf-8")
    for heading in ("## Length", "## Leave one source out", "## Robustness", "## Recall at the operating threshold"):
        assert heading in text
