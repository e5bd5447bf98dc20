"""`fakereview model-card`: Hugging Face card with parseable YAML metadata from a report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from fakereview_nlp.evaluation.model_card import build_model_card
from fakereview_nlp.evaluation.report import build_report, write_report


def _inputs():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    model = 1 / (1 + np.exp(-(rng.normal(0, 1, 300) + 2 * (2 * labels - 1))))
    tfidf = 1 / (1 + np.exp(-(rng.normal(0, 1, 300) + 1 * (2 * labels - 1))))
    return labels, model, tfidf


@pytest.fixture()
def report_dir(tmp_path):
    labels, model, tfidf = _inputs()
    report = build_report(
        labels,
        {"transformer": model, "tfidf": tfidf},
        slices={"polarity": ["pos" if i % 2 else "neg" for i in range(300)]},
        folds=[str(i % 3) for i in range(300)],
        n_boot=20,
        data={"path": "op_spam.csv"},
    )
    out = tmp_path / "report"
    write_report(report, out, plots=False)
    return out


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    return yaml.safe_load(head)


def test_model_card_command_writes_yaml_that_parses(report_dir, tmp_path, tiny_model_dir):
    import shutil

    from fakereview_nlp.cli.main import main

    model_dir = tmp_path / "model"  # read as a ModelFolder: a whole model directory
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "calibration.json").write_text(
        json.dumps({"temperature": 1.5, "ece_before": 0.1, "ece_after": 0.02})
    )
    (model_dir / "operating_points.json").write_text(
        json.dumps({"threshold": 0.91, "operating_flag_rate": 0.01, "prevalence": 0.05, "points": []})
    )
    (model_dir / "training_config.yaml").write_text("model:\n  max_length: 256\n")
    out = tmp_path / "card" / "model_card.md"
    code = main(
        [
            "model-card",
            str(report_dir),
            "-o",
            str(out),
            "--model-dir",
            str(model_dir),
            "--base-model",
            "distilbert-base-uncased",
            "--dataset",
            "op_spam",
        ]
    )
    assert code == 0
    text = out.read_text()
    meta = _front_matter(text)
    assert meta["library_name"] == "transformers"
    assert meta["base_model"] == "distilbert-base-uncased"
    assert meta["datasets"] == ["op_spam"]
    assert meta["language"] == ["en"] and meta["license"] == "apache-2.0"
    (entry,) = meta["model-index"]
    (result,) = entry["results"]
    assert result["task"]["type"] == "text-classification"
    types = {m["type"] for m in result["metrics"]}
    assert {"accuracy", "roc_auc", "average_precision", "precision_at_1pct_flag_rate"} <= types
    assert all(isinstance(m["value"], float) for m in result["metrics"])
    for section in (
        "## Uses",
        "### Out-of-scope use",
        "## Training data and its caveats",
        "## Evaluation",
        "## Bias, risks and limitations",
        "prevalence 5%",
    ):
        assert section in text
    assert "Mechanical Turk" in text  # op_spam provenance is quoted
    assert "P(fake) ≥ 0.91" in text and "temperature T = 1.5" in text
    assert "truncated" in text
    assert "mean of two P(fake)" not in text


def test_model_card_of_a_combined_model_says_so(report_dir, tmp_path):
    report = json.loads((report_dir / "report.json").read_text())
    card = build_model_card(report, training_config={"model": {"combine_tfidf": True, "max_length": 64}})
    assert "the score is the **mean of two P(fake)**" in card and "`tfidf_model.json`" in card
    assert "the transformer part only, without the TF-IDF model" in card


def test_model_card_of_a_per_source_model_names_its_fake_kinds(report_dir):
    report = json.loads((report_dir / "report.json").read_text())
    per_source = build_model_card(report, training_config={"model": {"fake_kinds": "per_source"}})
    one = build_model_card(report, training_config={"model": {"fake_kinds": "one"}})
    assert "one fake output per training source" in per_source and "log-sum-exp" in per_source
    assert "one fake output per training source" not in one


def test_model_card_bad_inputs(report_dir, tmp_path):
    from fakereview_nlp.evaluation.model_card import load_report

    report = load_report(report_dir)
    with pytest.raises(ValueError, match=r"prevalence 0.2 is not in the report"):
        build_model_card(report, prevalence=0.2)
    with pytest.raises(ValueError, match=r"model 'x' is not in the report"):
        build_model_card(report, model_key="x")
    with pytest.raises(FileNotFoundError, match=r"no report.json"):
        load_report(tmp_path / "missing")


def test_model_card_values_equal_the_report_and_the_metric_functions(report_dir, tmp_path):
    """Each model-index value is the report's number, which is the metric function's on the same inputs."""
    from fakereview_nlp.cli.main import main
    from fakereview_nlp.metrics import average_precision, flag_rate_metrics, roc_auc, threshold_metrics

    labels, model, _ = _inputs()
    out = tmp_path / "model_card.md"
    assert main(["model-card", str(report_dir), "-o", str(out), "--prevalence", "0.05"]) == 0
    (entry,) = _front_matter(out.read_text())["model-index"]
    card = {m["type"]: m["value"] for m in entry["results"][0]["metrics"]}
    report = json.loads((report_dir / "report.json").read_text())
    metrics = report["results"]["transformer"]["metrics"]
    (table,) = [t for t in report["results"]["transformer"]["flag_rates"] if t["prevalence"] == 0.05]
    direct = {
        "accuracy": (metrics["accuracy"], threshold_metrics(labels, model, 0.5).accuracy),
        "f1": (metrics["f1"], threshold_metrics(labels, model, 0.5).f1),
        "roc_auc": (metrics["roc_auc"], roc_auc(labels, model)),
        "average_precision": (metrics["average_precision[π=5%]"], average_precision(labels, model, 0.05)),
    }
    rates = [row["flag_rate"] for row in table["rows"]]
    for row, result in zip(table["rows"], flag_rate_metrics(labels, model, rates, prevalence=0.05), strict=True):
        key = f"{100 * row['flag_rate']:g}pct"
        direct[f"precision_at_{key}_flag_rate"] = (row["precision"], result.precision)
        direct[f"recall_at_{key}_flag_rate"] = (row["recall"], result.recall)
    assert set(card) == set(direct)
    for kind, (in_report, from_metrics) in direct.items():
        assert in_report == pytest.approx(from_metrics, abs=1e-12), kind
        assert card[kind] == pytest.approx(in_report, abs=5e-5), kind  # the card rounds to 4 decimals
