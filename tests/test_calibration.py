"""Temperature scaling, calibration.json and operating_points.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fakereview_nlp.metrics import expected_calibration_error, flag_rate_metrics
from fakereview_nlp.model.calibration import (
    apply_temperature,
    fit_temperature,
    load_calibration,
    save_calibration,
)
from fakereview_nlp.model.operating_points import (
    compute_operating_points,
    load_operating_points,
    save_operating_points,
)


def _synthetic(temperature: float, n: int = 20000, seed: int = 0):
    """Labels drawn from sigmoid(z); logits over-confident by ``temperature`` (margin z·T)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    logits = np.stack([-z * temperature / 2, z * temperature / 2], axis=1)
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_known_temperature(true_t):
    logits, labels = _synthetic(true_t)
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.05)


def test_temperature_lowers_ece_and_keeps_ranking():
    logits, labels = _synthetic(3.0)
    t = fit_temperature(logits, labels)
    before = apply_temperature(logits, 1.0)
    after = apply_temperature(logits, t)
    assert expected_calibration_error(labels, after) < expected_calibration_error(labels, before)
    assert [r.recall for r in flag_rate_metrics(labels, before)] == [
        r.recall for r in flag_rate_metrics(labels, after)
    ]
    assert fit_temperature(logits, labels) == t  # deterministic


def test_apply_temperature_is_softmax():
    logits = np.array([[0.3, 1.2], [2.0, -1.0], [800.0, -800.0]])
    z = logits[:2] / 2
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    probs = apply_temperature(logits, 2.0)
    np.testing.assert_allclose(probs[:2], softmax[:, 1])
    assert probs[2] == 0.0  # no overflow or NaN for huge logits


def test_calibration_bad_inputs():
    with pytest.raises(ValueError, match=r"logits must have shape \(n, 2\)"):
        fit_temperature(np.zeros(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"temperature must be a finite number > 0, got 0"):
        apply_temperature(np.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match=r"no fakes among"):
        fit_temperature(np.zeros((2, 2)), [0, 0])


def test_calibration_file_roundtrip(tmp_path):
    path = save_calibration(tmp_path, 1.7, 0.08, 0.02)
    assert json.loads(path.read_text()) == {"temperature": 1.7, "ece_before": 0.08, "ece_after": 0.02}
    assert load_calibration(tmp_path)["temperature"] == 1.7
    assert load_calibration(tmp_path / "missing") is None


def test_operating_points(tmp_path):
    labels = [1, 0, 1, 0, 1, 0, 0, 0, 0, 0]
    scores = [0.95, 0.9, 0.85, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    points = compute_operating_points(
        labels, scores, flag_rates=[0.1, 0.5], prevalence=0.05, operating_flag_rate=0.2
    )
    assert [p["flag_rate"] for p in points["points"]] == [0.1, 0.2, 0.5]
    assert points["operating_flag_rate"] == 0.2
    assert points["threshold"] == points["points"][1]["threshold"]
    assert points["prevalence"] == 0.05
    assert set(points["points"][0]) == {"flag_rate", "threshold", "precision", "recall"}
    path = save_operating_points(tmp_path, points)
    assert path.name == "operating_points.json"
    assert load_operating_points(tmp_path) == points
    unweighted = compute_operating_points(labels, scores, flag_rates=[0.2], operating_flag_rate=0.2)
    assert unweighted["prevalence"] is None
    assert unweighted["threshold"] == 0.9
    with pytest.raises(ValueError, match=r"operating points lack \['points'\]"):
        save_operating_points(tmp_path, {"threshold": 0.5, "operating_flag_rate": 0.01, "prevalence": None})
