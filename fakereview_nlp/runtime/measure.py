"""Measure the runtimes of one model on this machine and record ``"auto"``'s choice.

:func:`prepare_runtime` builds the ONNX copies, then :func:`measure_backends` scores made-up probe
reviews with float32 torch (the reference), torch at its default precision (where that is not
float32), ONNX float32 and ONNX int8, compares each one's verdicts with the reference's and times it; the rules of
:mod:`fakereview_nlp.runtime.choice` pick the winner. This module drives whole classifiers, so it
sits above :mod:`fakereview_nlp.inference` (like :mod:`fakereview_nlp.runtime.int8`).

The probe reviews are written for this purpose (no corpus text), 1 to 9 sentences long, so the
timed batches have review-like lengths. They check that a runtime computes what float32 torch
computes on this CPU; whether bf16 or int8 keeps the verdicts of *real* reviews is decided on
held-out reviews (the model folder's agreement record), not here.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Sequence

import numpy as np

from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.model.folder import weights_hash
from fakereview_nlp.runtime.backends import agreement
from fakereview_nlp.runtime.choice import (
    BackendTiming,
    RuntimeChoice,
    machine_signature,
    pick_backend,
    recorded_agreement,
    release_lock,
    take_lock,
    write_choice,
)
from fakereview_nlp.runtime.devices import resolve_dtype
from fakereview_nlp.runtime.onnx import build_onnx, find_onnx

logger = logging.getLogger(__name__)

_SENTENCES = (
    "We checked in late on a Friday and the night porter found us a quieter room at the back.",
    "The shower pressure was weak, but the towels were fresh every morning.",
    "Absolutely the best purchase I have made this year, I recommend it to everyone!",
    "The charger stopped working after three weeks and support asked for a video of the fault.",
    "Breakfast ran until ten, which suited us, though the coffee machine was often empty.",
    "My kids loved the pool and the staff remembered our names by the second day.",
    "Parking cost twenty dollars a night, which nobody mentioned when we booked.",
    "This blender is powerful, easy to clean, and looks great on the counter.",
    "The pasta arrived lukewarm and the waiter never came back to check on us.",
    "Five stars, amazing quality, fast shipping, will definitely buy again!!!",
    "The room smelled of smoke even though it was listed as non-smoking.",
    "Our server suggested the lamb special and it was the highlight of the trip.",
    "It fits my older model too, after removing the plastic clip on the side.",
    "Everything was perfect from start to finish, truly an unforgettable experience.",
    "The lift was out of order for two days and we were on the ninth floor.",
    "Battery life is about six hours with the screen at half brightness.",
)


def probe_reviews(n: int = 48, seed: int = 0) -> list[str]:
    """``n`` made-up reviews of 1 to 9 sentences (deterministic for a seed)."""
    rng = random.Random(seed)
    return [" ".join(rng.sample(_SENTENCES, rng.randint(1, 9))) for _ in range(n)]


def _time(classifier: FakeReviewClassifier, texts: list[str], rounds: int) -> tuple[np.ndarray, float]:
    scores = classifier.predict_proba(texts[:4])  # first-call setup (threads, kernels) is not timed
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        scores = classifier.predict_proba(texts)
        best = min(best, time.perf_counter() - start)
    return np.asarray(scores), len(texts) / best


def measure_backends(
    model_dir: str | os.PathLike[str], texts: Sequence[str] | None = None, *, rounds: int = 2
) -> RuntimeChoice:
    """Time and compare every candidate runtime of ``model_dir`` on this machine (see the module docstring).

    Args:
        model_dir (path): a model folder; its ONNX copies must be built (:func:`prepare_runtime` does).
        texts (`Sequence[str]`, *optional*): the reviews to time; defaults to :func:`probe_reviews`.
        rounds (`int`, defaults to `2`): timed passes per runtime; the fastest counts.
    """
    probes = list(texts) if texts is not None else probe_reviews()
    reference = FakeReviewClassifier.from_pretrained(
        model_dir, device="cpu", dtype="float32", backend="torch"
    )
    ref_scores, ref_speed = _time(reference, probes, rounds)
    threshold = reference.threshold
    default_dtype = str(resolve_dtype(None, reference.device)).removeprefix("torch.")
    del reference
    timings = [BackendTiming("torch-float32", round(ref_speed, 2), 1.0, 1.0, True)]
    candidates = ["onnx", "onnx-int8"] if default_dtype == "float32" else ["torch", "onnx", "onnx-int8"]
    for backend in candidates:
        try:
            classifier = FakeReviewClassifier.from_pretrained(model_dir, device="cpu", backend=backend)
            scores, speed = _time(classifier, probes, rounds)
        except (OSError, ValueError, RuntimeError) as err:  # a runtime that cannot run is not a candidate
            timings.append(BackendTiming(backend, 0.0, float("nan"), float("nan"), False, f"failed: {err}"))
            continue
        agreed = agreement(ref_scores, scores, threshold)
        eligible, why = _eligibility(model_dir, backend, agreed.label, agreed.flagged, default_dtype)
        timings.append(BackendTiming(backend, round(speed, 2), agreed.label, agreed.flagged, eligible, why))
    return RuntimeChoice(
        backend=pick_backend(timings),
        timings=tuple(timings),
        machine=machine_signature(),
        weights_sha256=weights_hash(model_dir),
        probe_reviews=len(probes),
    )


def _eligibility(
    model_dir: str | os.PathLike[str], backend: str, label: float, flagged: float, default_dtype: str
) -> tuple[bool, str]:
    if label < 1.0 or flagged < 1.0:
        return False, f"probe verdicts differ from float32 torch (labels {label:.1%}, flags {flagged:.1%})"
    if backend in ("torch", "onnx-int8"):  # not exact: held-out agreement decides
        key = f"torch-{default_dtype}" if backend == "torch" else backend
        record = recorded_agreement(model_dir, key)
        if record is None:
            return (
                False,
                f"no held-out agreement recorded for {key} (benchmarks/inference_throughput.py --record)",
            )
        if not record.get("accepted"):
            return False, (
                f"held-out agreement of {key} below the gate (labels {record.get('label', float('nan')):.2%}, "
                f"flags {record.get('flagged', float('nan')):.2%}, "
                f"flagged overlap {record.get('flagged_iou', float('nan')):.2%})"
            )
    return True, ""


def prepare_runtime(
    model_dir: str | os.PathLike[str], *, texts: Sequence[str] | None = None, lock_held: bool = False
) -> RuntimeChoice:
    """Build the ONNX copies (if missing), measure, and cache the choice ``"auto"`` will use.

    Args:
        model_dir (path): the model folder.
        texts (`Sequence[str]`, *optional*): reviews to time instead of the probe reviews.
        lock_held (`bool`, defaults to `False`): the caller (the background starter) already
            holds the measurement lock; it is released here either way.

    Raises:
        `ValueError`: another measurement of these weights is running (its lock file is named).
    """
    if not lock_held and not take_lock(model_dir):
        raise ValueError(
            f"a runtime measurement of {model_dir} is already running; wait for it, or delete its lock "
            "file in the cache if no fakereview process is running"
        )
    try:
        if find_onnx(model_dir, int8=True) is None or find_onnx(model_dir, int8=False) is None:
            try:
                build_onnx(model_dir)
            except ValueError as err:  # not exportable: torch only, recorded so it is not retried
                logger.warning("%s", err)
        choice = measure_backends(model_dir, texts)
        write_choice(model_dir, choice)
        return choice
    finally:
        release_lock(model_dir)


__all__ = ["measure_backends", "prepare_runtime", "probe_reviews"]
