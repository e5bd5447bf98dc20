"""The packaged ``evaluate`` metric loads by path with the Hub switched off."""

from __future__ import annotations

import pytest

from fakereview_nlp.evaluation.hf_metric import METRIC_SCRIPT, load_metric


def test_metric_script_is_inside_the_package():
    assert METRIC_SCRIPT.is_file()
    assert METRIC_SCRIPT.parent.name == "hf_metric"


def test_load_metric_offline_and_compute(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    metric = load_metric()
    out = metric.compute(predictions=[0.9, 0.2, 0.7, 0.1, 0.6, 0.4], references=[1, 0, 1, 0, 0, 1])
    assert all(isinstance(v, float) for v in out.values())
    for key in (
        "accuracy",
        "f1",
        "average_precision",
        "roc_auc",
        "ece",
        "brier",
        "precision@1%",
        "recall@10%",
    ):
        assert key in out
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["roc_auc"] == pytest.approx(8 / 9)  # fakes 0.9, 0.7, 0.4 beat 3, 3 and 2 of the 3 genuine
    assert out["precision@0.5%"] == 1.0


def test_metric_add_batch_then_compute():
    metric = load_metric()
    metric.add_batch(predictions=[0.9, 0.1], references=[1, 0])
    metric.add_batch(predictions=[0.8, 0.3], references=[1, 0])
    out = metric.compute(flag_rates=[0.5], prevalence=0.1)
    assert out["recall@50%"] == pytest.approx(1.0)
    # At 10 % prevalence, half of all traffic cannot be 100 % fake.
    assert out["precision@50%"] == pytest.approx(0.2)
