"""Operating points: the score thresholds that flag a chosen share of traffic, saved with the model.

``operating_points.json`` in a model directory::

    {
      "threshold": 0.93,               # the threshold at operating_flag_rate
      "operating_flag_rate": 0.01,
      "prevalence": 0.05,              # null = the share of fakes in the validation labels
      "points": [{"flag_rate": 0.005, "threshold": ..., "precision": ..., "recall": ...}, ...]
    }

:mod:`fakereview_nlp.inference` reads ``threshold`` and sets ``flagged = score >= threshold``.
Compute the points on the scores inference will produce, i.e. *after* temperature scaling:
scaling keeps the ranking but moves every threshold.

The share actually flagged by ``>=`` can exceed the flag rate when many validation reviews
tie exactly at the threshold (they are counted fractionally when the points are computed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from numpy.typing import ArrayLike

from fakereview_nlp.files import atomic_write_text, read_json
from fakereview_nlp.metrics import DEFAULT_FLAG_RATES, check_flag_rates, flag_rate_metrics

OPERATING_POINTS_FILE = "operating_points.json"


def compute_operating_points(
    labels: ArrayLike,
    scores: ArrayLike,
    flag_rates: Sequence[float] = DEFAULT_FLAG_RATES,
    prevalence: float | None = None,
    operating_flag_rate: float = 0.01,
) -> dict[str, Any]:
    """Thresholds, precision and recall at each flag rate, and the one used to set ``flagged``.

    Args:
        labels (`array-like` of 0/1): validation labels, 1 = fake.
        scores (`array-like` of float): calibrated validation P(fake).
        flag_rates (sequence, defaults to `(0.005, 0.01, 0.02, 0.05, 0.10)`): shares in (0, 1].
        prevalence (`float`, *optional*): assumed share of fakes in real traffic, in (0, 1).
        operating_flag_rate (`float`, defaults to `0.01`): the rate whose threshold becomes
            ``"threshold"``; added to ``flag_rates`` if missing.

    Returns:
        `dict` in the ``operating_points.json`` layout (see the module docstring).
    """
    (operating,) = check_flag_rates([operating_flag_rate])
    rates = sorted(set(check_flag_rates(flag_rates)) | {operating})
    results = flag_rate_metrics(labels, scores, rates, prevalence)
    points = [
        {"flag_rate": r.flag_rate, "threshold": r.threshold, "precision": r.precision, "recall": r.recall}
        for r in results
    ]
    chosen = next(p for p in points if p["flag_rate"] == operating)
    return {
        "threshold": chosen["threshold"],
        "operating_flag_rate": operating,
        "prevalence": None if prevalence is None else float(prevalence),
        "points": points,
    }


def save_operating_points(model_dir: str | os.PathLike[str], points: dict[str, Any]) -> Path:
    """Write ``points`` (from :func:`compute_operating_points`) to ``model_dir/operating_points.json``."""
    missing = {"threshold", "operating_flag_rate", "prevalence", "points"} - set(points)
    if missing:
        raise ValueError(
            f"operating points lack {sorted(missing)}; build them with compute_operating_points(...)"
        )
    return atomic_write_text(Path(model_dir) / OPERATING_POINTS_FILE, json.dumps(points, indent=2) + "\n")


def load_operating_points(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The contents of ``model_dir/operating_points.json``, or ``None`` when there is none."""
    path = Path(model_dir) / OPERATING_POINTS_FILE
    payload = read_json(path, fix="delete it or recompute the operating points")
    if payload is None:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("threshold"), int | float):
        raise ValueError(f"{path} has no numeric 'threshold'; recompute it with compute_operating_points")
    return payload


__all__ = [
    "OPERATING_POINTS_FILE",
    "compute_operating_points",
    "load_operating_points",
    "save_operating_points",
]
