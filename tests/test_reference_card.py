"""training.reference_card: the card's figures are the report's, for the files it names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from fakereview_nlp.evaluation.report import build_report
from fakereview_nlp.metrics import average_precision, threshold_metrics
from training.reference_card import main


def _setup(tmp_path: Path) -> tuple[Path, Path, dict[str, dict[str, np.ndarray]], np.ndarray]:
    rng = np.random.default_rng(0)
    model_dir, report_dir = tmp_path / "model", tmp_path / "reports"
    model_dir.mkdir()
    config = {
        "data": {
            "sources": [
                {"name": "op_spam", "split_column": "fold", "eval_splits": ["5"], "oversample": 3},
                {"name": "fake_reviews_cg", "split_column": None, "eval_fraction": 0.1, "oversample": 1},
            ]
        },
        "model": {"max_length": 256, "tfidf_min_df": 2, "tfidf_max_features": 20000},
        "training": {"epochs": 2, "batch_size": 32, "learning_rate": 1e-4, "warmup_ratio": 0.06,
                     "mixed_precision": "bf16", "seed": 42},
    }  # fmt: skip
    (model_dir / "training_config.yaml").write_text(yaml.safe_dump(config))
    (model_dir / "operating_points.json").write_text(
        json.dumps({"threshold": 0.9, "operating_flag_rate": 0.01, "prevalence": 0.05})
    )
    (model_dir / "calibration.json").write_text(json.dumps({"temperature": 1.9, "ece_before": 0.1, "ece_after": 0.05}))
    labels = rng.integers(0, 2, 200)
    scores: dict[str, dict[str, np.ndarray]] = {}
    summary = {"config": "configs/reference.yaml", "models": {"reference": "m"}, "domains": {}, "matrix": {}}
    for d in ("op_spam", "fake_reviews_cg"):
        scores[d] = {
            "reference": np.clip(labels * 0.6 + rng.random(200) * 0.5, 0, 1),
            "tfidf_op_spam": rng.random(200),
        }
        report = build_report(labels, scores[d], prevalences=(0.05,), flag_rates=(0.005, 0.01, 0.02, 0.05),
                              baseline="tfidf_op_spam", n_boot=50)  # fmt: skip
        (report_dir / d).mkdir(parents=True)
        (report_dir / d / "report.json").write_text(json.dumps(report, default=float))
        summary["domains"][d] = {"n": 200, "fakes": int(labels.sum())}
        summary["matrix"][d] = {
            m: {k: {"value": r["metrics"][k], "ci": r["ci"].get(k)} for k in ("accuracy", "average_precision")}
            for m, r in report["results"].items()
        }
    summary["model_order"] = ["reference", "tfidf_op_spam"]
    (report_dir / "cross_domain.json").write_text(json.dumps(summary))
    return model_dir, report_dir, scores, labels


def test_card_quotes_the_report_figures(tmp_path: Path) -> None:
    model_dir, report_dir, scores, labels = _setup(tmp_path)
    out = tmp_path / "model_card.md"
    assert main([str(model_dir), str(report_dir), "--out", str(out), "--wall-seconds", "600"]) == 0
    card = out.read_text()
    assert card == (model_dir / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "cc-by-nc-sa-3.0" and meta["datasets"] == ["op_spam", "fake_reviews_cg"]
    for d in ("op_spam", "fake_reviews_cg"):
        accuracy = threshold_metrics(labels, scores[d]["reference"]).accuracy
        ap = average_precision(labels, scores[d]["reference"])
        assert f"{accuracy:.3f} (" in card and f"{ap:.3f} (" in card
        values = {r["metrics"][0]["type"]: r["metrics"][0]["value"]
                  for r in meta["model-index"][0]["results"] if r["dataset"]["name"] == d}  # fmt: skip
        assert values == {"accuracy": round(accuracy, 4), "average_precision": round(ap, 4)}
    assert "fake_score >= 0.9000" in card and "temperature | 1.900" in card and "10.0 min" in card


def test_card_shows_leave_one_out_length_and_operating_recall(tmp_path: Path) -> None:
    model_dir, report_dir, _, _ = _setup(tmp_path)
    summary = json.loads((report_dir / "cross_domain.json").read_text())
    summary["operating"] = {"reference": {"threshold": 0.9, "op_spam": {"recall": 0.123, "genuine_flagged": 0.004}}}
    summary["length"] = {
        "op_spam": {"reference": {"length_only_auc": 0.612, "fakes_are": "longer", "roc_auc": 0.901,
                                  "within_bins_auc": 0.887, "bins_used": 4}}
    }  # fmt: skip
    summary["loo"] = {
        "maide_up": {
            "n": 2000, "length_only_auc": 0.679,
            "results": {
                "without_maide_up": {"roc_auc": {"value": 0.834, "ci": [0.81, 0.86]}, "accuracy": 0.7,
                                     "recall_at_operating": 0.05, "within_bins_auc": 0.82},
                "tfidf_without_maide_up": {"roc_auc": {"value": 0.701, "ci": [0.68, 0.72]}},
            },
        }
    }  # fmt: skip
    (report_dir / "cross_domain.json").write_text(json.dumps(summary))
    (model_dir / "model_info.json").write_text(json.dumps({"version": "2026.12.0", "languages": ["en"]}))
    out = tmp_path / "card.md"
    assert main([str(model_dir), str(report_dir), "--out", str(out)]) == 0
    card = out.read_text()
    assert "(version 2026.12.0)" in card
    assert "| maide_up | 2000 | 0.834 (0.810–0.860) | 0.700 | 0.050 | 0.820 | 0.701 (0.680–0.720) | 0.679 |" in card
    assert "| op_spam | 0.612 (fakes longer) | 0.901 | 0.887 | 4 |" in card
    assert "| op_spam | 0.123 | 0.004 |" in card
    assert "| op_spam | CC BY-NC-SA 3.0" in card
    assert "one fake output per training source" not in card and "Wall time" not in card


def test_card_of_a_per_source_model_names_its_kinds_and_the_training_cpu(tmp_path: Path) -> None:
    model_dir, report_dir, _, _ = _setup(tmp_path)
    config = yaml.safe_load((model_dir / "training_config.yaml").read_text())
    config["model"]["fake_kinds"] = "per_source"
    (model_dir / "training_config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "card.md"
    args = [str(model_dir), str(report_dir), "--out", str(out), "--wall-seconds", "1800", "--cpu", "2 test cores"]
    assert main(args) == 0
    card = out.read_text()
    assert "one fake output per training source (`fake:<source>`)" in card
    assert "one `fake:<source>` per training source" in card
    assert "Wall time 30.0 min on 2 test cores." in card
