"""Temperature scaling: one scalar ``T`` that makes P(fake) = softmax(logits / T)[:, 1] honest.

Fine-tuned transformers are over-confident; dividing the logits by a ``T`` fitted on
validation data (Guo et al., 2017) fixes most of it without changing the ranking, so flag-rate
precision and recall are untouched while "P(fake) = 0.8" comes to mean roughly 80 %.

The fitted value is saved as ``calibration.json`` next to the weights::

    {"temperature": 1.83, "ece_before": 0.071, "ece_after": 0.018}

and :mod:`fakereview_nlp.inference` applies it in ``predict_proba``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fakereview_nlp.files import atomic_write_text, read_json
from fakereview_nlp.metrics import check_inputs

CALIBRATION_FILE = "calibration.json"

#: Search range of log T: T in [e^-5, e^5] ≈ [0.0067, 148].
_LOG_T_BOUNDS = (-5.0, 5.0)

logger = logging.getLogger(__name__)


def _margins(logits: ArrayLike) -> NDArray[np.float64]:
    """``logit_fake − logit_genuine`` per review from ``(n, 2)`` logits."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(
            f"logits must have shape (n, 2) with columns (genuine, fake), got {z.shape}; "
            "pass the classifier's raw outputs before softmax"
        )
    if not np.isfinite(z).all():
        raise ValueError("logits hold NaN or infinite values; check the model outputs for overflow")
    return z[:, 1] - z[:, 0]


def _nll(margin: NDArray[np.float64], sign: NDArray[np.float64], log_t: float) -> float:
    # -log sigmoid(sign * margin / T), computed stably as softplus(-x).
    return float(np.mean(np.logaddexp(0.0, -sign * margin * math.exp(-log_t))))


def fit_temperature(logits: ArrayLike, labels: ArrayLike, *, tol: float = 1e-7) -> float:
    """The temperature ``T`` minimising the negative log-likelihood of ``labels`` under softmax(logits / T).

    Args:
        logits (`array-like` of shape `(n, 2)`): raw validation logits, columns (genuine, fake).
        labels (`array-like` of 0/1): 1 = fake.
        tol (`float`, defaults to `1e-7`): golden-section tolerance on ``log T``.

    The NLL is convex in ``1/T`` and so unimodal in ``log T``: a golden-section search over
    ``log T ∈ [−5, 5]`` finds the minimum deterministically, with no optimiser state or seed.
    Perfectly separated logits push ``T`` to the lower bound (≈ 0.0067).

    Returns:
        `float`, the temperature (``> 1`` softens an over-confident model).

    Example::

        >>> logits = np.array([[0.0, 4.0], [0.0, -4.0], [0.0, 4.0], [0.0, 4.0]])
        >>> round(fit_temperature(logits, [1, 0, 1, 0]), 2)  # one confident mistake
        3.64
    """
    margin = _margins(logits)
    y, _ = check_inputs(labels, margin)
    sign = np.where(y == 1, 1.0, -1.0)
    lo, hi = _LOG_T_BOUNDS
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo + (1 - ratio) * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _nll(margin, sign, a), _nll(margin, sign, b)
    while hi - lo > tol:
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - ratio) * (hi - lo)
            fa = _nll(margin, sign, a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll(margin, sign, b)
    return float(math.exp((lo + hi) / 2.0))


def fit_logit_shift(logits: ArrayLike, labels: ArrayLike) -> float:
    """The shift ``d`` of the fake logit that, with a temperature, best fits ``labels`` (Platt scaling).

    ``P(fake) = sigmoid((margin + d) / T)`` with ``margin = logit_fake - logit_genuine``: a
    logistic regression of the labels on the margin (no penalty), whose intercept over its slope
    is ``d``. A model that over-calls fakes at 0.5 on every source (a shared bias, which a
    temperature alone cannot move) gets a negative ``d``. Added to the classifier's fake bias
    (``training.output.shift_fake_bias``), it travels with the weights, so
    ``transformers.pipeline`` sees it too; the temperature is then fitted on the shifted logits.

    Returns:
        `float`, the shift in logit units; 0.0 (with a warning) where the logits do not rank fakes higher.
    """
    from sklearn.linear_model import LogisticRegression

    margin = _margins(logits)
    y, _ = check_inputs(labels, margin)
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
    slope, intercept = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    if slope <= 1e-6:
        # a model that has not learned to rank (or ranks backwards) has no meaningful cut to move
        logger.warning(
            "the validation logits do not rank fakes above genuine reviews (slope %.3g); no fake-logit "
            "shift is applied: check the labels or train longer",
            slope,
        )
        return 0.0
    return intercept / slope


def fit_calibration(logits: ArrayLike, labels: ArrayLike, *, shift: bool = False) -> tuple[float, float]:
    """``(shift, temperature)`` for ``softmax((logits + [0, shift]) / temperature)``: the fake-logit
    shift (:func:`fit_logit_shift`, 0.0 unless ``shift``) and the temperature fitted on the shifted logits."""
    d = fit_logit_shift(logits, labels) if shift else 0.0
    return d, fit_temperature(np.asarray(logits, dtype=np.float64) + np.array([0.0, d]), labels)


def apply_temperature(logits: ArrayLike, temperature: float) -> NDArray[np.float64]:
    """P(fake) = softmax(logits / T)[:, 1], shape ``(n,)``."""
    if not (
        isinstance(temperature, int | float | np.floating) and math.isfinite(temperature) and temperature > 0
    ):
        raise ValueError(
            f"temperature must be a finite number > 0, got {temperature!r}; 1.0 leaves logits as they are"
        )
    margin = _margins(logits) / float(temperature)
    # softmax over two classes == sigmoid of the margin; this form cannot overflow.
    return np.exp(-np.logaddexp(0.0, -margin))


def save_calibration(
    model_dir: str | os.PathLike[str], temperature: float, ece_before: float, ece_after: float
) -> Path:
    """Write ``calibration.json`` = ``{"temperature", "ece_before", "ece_after"}`` into ``model_dir``."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    path = Path(model_dir) / CALIBRATION_FILE
    payload = {
        "temperature": float(temperature),
        "ece_before": float(ece_before),
        "ece_after": float(ece_after),
    }
    return atomic_write_text(path, json.dumps(payload, indent=2) + "\n")


def load_calibration(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The contents of ``model_dir/calibration.json``, or ``None`` when the model was never calibrated."""
    path = Path(model_dir) / CALIBRATION_FILE
    payload = read_json(path, fix="delete it or re-run calibration")
    if payload is None:
        return None
    temperature = payload.get("temperature") if isinstance(payload, dict) else None
    if not isinstance(temperature, int | float) or not temperature > 0:
        raise ValueError(f"{path} has no positive 'temperature' (got {temperature!r}); re-run calibration")
    return payload


__all__ = ["CALIBRATION_FILE", "apply_temperature", "fit_temperature", "load_calibration", "save_calibration"]
