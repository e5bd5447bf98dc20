"""The evaluation report computed from labels and scores: :func:`build_report` and :func:`write_report`.

:func:`build_report` takes labels and already-computed scores of one or more models (e.g. pooled
out-of-fold scores of the transformer and the TF-IDF baseline) and returns every number as a
JSON-ready dict; :func:`write_report` writes it as ``report.json``, ``report.md`` and PNG plots.
The report's other parts each have their own file:

- :mod:`fakereview_nlp.evaluation.markdown`: ``report.md`` from the dict;
- :mod:`fakereview_nlp.evaluation.plots`: the PNG plots from the dict;
- :mod:`fakereview_nlp.cli.evaluate`: ``fakereview evaluate`` (read a file, score it, call these);
- :mod:`fakereview_nlp.evaluation.format`: names they all share (a leaf: no import cycle).

Metric names are flat strings so tables, JSON and per-fold summaries share them:
``accuracy``, ``f1`` (at the 0.5 threshold), ``roc_auc``, ``average_precision``,
``precision@1%``, ``recall@1%`` at the test set's own share of fakes, and the same with a
suffix such as ``[π=5%]`` when re-weighted to an assumed prevalence.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fakereview_nlp.evaluation.format import PLOT_FILES, jsonable, prevalence_label, prevalence_suffix
from fakereview_nlp.evaluation.markdown import render_markdown
from fakereview_nlp.files import atomic_write_text
from fakereview_nlp.metrics import (
    DEFAULT_FLAG_RATES,
    average_precision,
    bootstrap_samples,
    brier_score,
    check_flag_rates,
    check_inputs,
    check_prevalence,
    expected_calibration_error,
    flag_rate_key,
    flag_rate_point,
    percentile_interval,
    precision_recall_curve,
    reliability_bins,
    review_weights,
    roc_auc,
    threshold_metrics,
)

logger = logging.getLogger(__name__)

REPORT_VERSION = 1
#: Word-count edges of the length buckets: ``<50``, ``50–99``, ``100–199``, ``200–399``, ``≥400``.
DEFAULT_LENGTH_EDGES: tuple[int, ...] = (50, 100, 200, 400)
#: Prevalences reported besides the test set's own share of fakes.
DEFAULT_PREVALENCES: tuple[float, ...] = (0.05,)
_MAX_PR_POINTS = 400
# Flag rates of the curves in the plots, besides the table's rates.
_CURVE_RATES = tuple(float(r) for r in np.geomspace(0.002, 1.0, 40))


def fingerprint_rows(ids: Sequence[str], texts: Sequence[str], labels: Sequence[int]) -> str:
    """sha256 over ``id \\t label \\t text`` lines: the same evaluation rows give the same fingerprint."""
    digest = hashlib.sha256()
    for row_id, text, label in zip(ids, texts, labels, strict=True):
        digest.update(f"{row_id}\t{label}\t{text}\n".encode())
    return digest.hexdigest()


def fingerprint_file(path: str | os.PathLike[str]) -> str | None:
    """sha256 of a local file's bytes, ``None`` for a Hub dataset id."""
    file = Path(path)
    if not file.is_file():
        return None
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- metrics


def _is_probability(s: NDArray[np.float64]) -> bool:
    return bool(s.min() >= 0.0 and s.max() <= 1.0)


def summary_metrics(
    labels: ArrayLike,
    scores: ArrayLike,
    *,
    prevalences: Sequence[float | None] = (None, 0.05),
    flag_rates: Sequence[float] = DEFAULT_FLAG_RATES,
    threshold: float = 0.5,
) -> dict[str, float]:
    """Flat dict of the headline metrics of one model on one set of reviews.

    Keys: ``accuracy``, ``f1`` (at ``threshold``), ``roc_auc``, and for each prevalence
    ``average_precision{s}``, ``precision@{r}{s}``, ``recall@{r}{s}`` with ``s`` from
    :func:`prevalence_suffix`.
    """
    y, s = check_inputs(labels, scores)
    rates = check_flag_rates(flag_rates)
    at = threshold_metrics(y, s, threshold)
    out = {"accuracy": at.accuracy, "f1": at.f1, "roc_auc": roc_auc(y, s)}
    for prevalence in prevalences:
        pi = check_prevalence(prevalence)
        suffix = prevalence_suffix(pi)
        out[f"average_precision{suffix}"] = average_precision(y, s, pi)
        points = flag_rate_point(y, s, review_weights(y, pi), rates)
        for rate, (_, precision, recall, _) in zip(rates, points, strict=True):
            out[f"precision@{flag_rate_key(rate)}{suffix}"] = float(precision)
            out[f"recall@{flag_rate_key(rate)}{suffix}"] = float(recall)
    return {k: float(v) for k, v in out.items()}


class _Ranked:
    """One model's scores sorted once, so bootstrap resamples need no sorting.

    A resample is the original reviews with integer multiplicities (how often each was drawn),
    so every metric below is computed from per-score-group counts weighted by those
    multiplicities: O(n) per resample instead of several O(n log n) sorts.
    """

    def __init__(self, y: NDArray[np.int64], s: NDArray[np.float64]) -> None:
        self.order = np.argsort(-s, kind="stable")
        s_sorted = s[self.order]
        self.starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
        self.group_scores = s_sorted[self.starts]
        self.y_sorted = y[self.order].astype(np.float64)

    def stats(
        self,
        mult: NDArray[np.float64],
        pis: Sequence[float | None],
        rates: Sequence[float],
        curve_rates: Sequence[float],
        threshold: float,
    ) -> tuple[list[float], list[float]]:
        """(headline values in :func:`_headline_keys` order, curve precision+recall per prevalence)."""
        m = mult[self.order]
        fake = np.add.reduceat(m * self.y_sorted, self.starts)
        gen = np.add.reduceat(m * (1.0 - self.y_sorted), self.starts)
        n_fake, n_gen = fake.sum(), gen.sum()
        cum_fake, cum_gen = np.cumsum(fake), np.cumsum(gen)
        # Threshold metrics: groups scoring >= threshold form a prefix of the descending order.
        k = int(np.searchsorted(-self.group_scores, -threshold, side="right"))
        tp = cum_fake[k - 1] if k else 0.0
        fp = cum_gen[k - 1] if k else 0.0
        precision = tp / (tp + fp) if tp + fp > 0 else 0.0
        recall = tp / n_fake
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        accuracy = (tp + (n_gen - fp)) / (n_fake + n_gen)
        # ROC AUC: each fake beats the genuine reviews below its score and ties with half of its own group.
        auc = float(np.sum(fake * ((n_gen - cum_gen) + 0.5 * gen)) / (n_fake * n_gen))
        head = [accuracy, f1, auc]
        curves: list[float] = []
        present = (fake + gen) > 0
        for pi in pis:
            wf, wg = (
                (1.0, 1.0)
                if pi is None
                else (pi * (n_fake + n_gen) / n_fake, (1 - pi) * (n_fake + n_gen) / n_gen)
            )
            tpw, fpw = wf * cum_fake, wg * cum_gen
            prec = tpw[present] / (tpw[present] + fpw[present])
            rec = tpw[present] / tpw[-1]
            head.append(float(np.sum(np.diff(np.r_[0.0, rec]) * prec)))
            points = self._flag_points(wf * fake, wf * fake + wg * gen, tuple(rates) + tuple(curve_rates))
            for precision_r, recall_r in points[: len(rates)]:
                head += [precision_r, recall_r]
            curves += [p for p, _ in points[len(rates) :]] + [r for _, r in points[len(rates) :]]
        return head, curves

    @staticmethod
    def _flag_points(
        fake_w: NDArray[np.float64], group_w: NDArray[np.float64], rates: Sequence[float]
    ) -> list[tuple[float, float]]:
        cum_w, cum_fake = np.cumsum(group_w), np.cumsum(fake_w)
        total_w, total_fake = cum_w[-1], cum_fake[-1]
        budgets = np.asarray(rates) * total_w
        ks = np.minimum(np.searchsorted(cum_w, budgets * (1.0 - 1e-9), side="left"), len(cum_w) - 1)
        before_w = np.where(ks > 0, cum_w[ks - 1], 0.0)
        before_fake = np.where(ks > 0, cum_fake[ks - 1], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.clip(np.nan_to_num((budgets - before_w) / group_w[ks]), 0.0, 1.0)
        flagged = before_fake + fraction * fake_w[ks]
        precision = np.clip(flagged / budgets, 0.0, 1.0)
        recall = np.clip(flagged / total_fake, 0.0, 1.0)
        return list(zip(precision.tolist(), recall.tolist(), strict=True))


def _headline_keys(prevalences: Sequence[float | None], flag_rates: Sequence[float]) -> list[str]:
    keys = ["accuracy", "f1", "roc_auc"]
    for pi in prevalences:
        suffix = prevalence_suffix(pi)
        keys.append(f"average_precision{suffix}")
        for rate in flag_rates:
            keys += [f"precision@{flag_rate_key(rate)}{suffix}", f"recall@{flag_rate_key(rate)}{suffix}"]
    return keys


def _mean_sd(values: Sequence[float | None], of: int) -> dict[str, Any]:
    """Mean and sd of the defined ``values``; ``n`` says how many of the ``of`` folds they are.

    A fold with one class has no metrics (``None``); it is left out of the mean, and ``n < of``
    says so in ``report.json`` and ``report.md`` instead of a mean over fewer folds passing as all.
    """
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"fold values {arr.tolist()} include NaN or infinity; a fold metric is broken")
    if not len(arr):
        return {"mean": None, "sd": None, "n": 0, "of": of}
    sd = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"mean": float(arr.mean()), "sd": sd, "n": len(arr), "of": of}


def _if_both_classes(y: NDArray[np.int64], fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``, or ``None`` when ``y`` lacks fakes or genuine reviews (the metric is undefined there).

    Only that case gives ``None``: any other error (a bad score, a bug) is raised, not hidden.
    """
    n_fake = int(np.sum(y))
    if n_fake == 0 or n_fake == len(y):
        return None
    return fn(*args, **kwargs)


# ----------------------------------------------------------------------------- the report


def build_report(
    labels: ArrayLike,
    scores_by_model: Mapping[str, ArrayLike],
    *,
    groups: Sequence[str] | None = None,
    slices: Mapping[str, Sequence[Any]] | None = None,
    lengths: ArrayLike | None = None,
    prevalences: Sequence[float] = DEFAULT_PREVALENCES,
    flag_rates: Sequence[float] = DEFAULT_FLAG_RATES,
    folds: Sequence[Any] | None = None,
    baseline: str | None = None,
    threshold: float = 0.5,
    operating_thresholds: Mapping[str, float] | None = None,
    slice_flag_rate: float = 0.05,
    length_edges: Sequence[int] = DEFAULT_LENGTH_EDGES,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the report shows, as a JSON-ready dict, for one or more models on the same reviews.

    Args:
        labels (`array-like` of 0/1): 1 = fake; ``N`` reviews.
        scores_by_model (`dict[str, array-like]`): model name → ``N`` scores, higher = more
            likely fake (P(fake) for calibration metrics). Order is kept in every table; put
            the model under test first.
        groups (sequence of ``N`` keys, *optional*): hotels/products; the bootstrap then
            resamples whole groups.
        slices (`dict[str, sequence]`, *optional*): column name → ``N`` values (e.g.
            ``{"polarity": [...]}``); one table row per value.
        lengths (`array-like` of ``N`` ints, *optional*): words per review, bucketed by ``length_edges``.
        prevalences (sequence of floats, defaults to `(0.05,)`): assumed real-world shares of
            fakes; the test set's own share is always reported first.
        flag_rates (sequence, defaults to `(0.005, 0.01, 0.02, 0.05, 0.10)`).
        folds (sequence of ``N`` fold keys, *optional*): for pooled out-of-fold scores; adds
            per-fold metrics of every model side by side, their mean ± sd, and paired differences.
        baseline (`str`, *optional*): the model every other one is compared to; defaults to
            ``"tfidf"`` when that key is present.
        threshold (`float`, defaults to `0.5`): threshold of accuracy and F1.
        operating_thresholds (`dict[str, float]`, *optional*): model → saved operating threshold
            (``operating_points.json``); adds threshold metrics at it.
        slice_flag_rate (`float`, defaults to `0.05`): slices and length buckets show what the
            threshold that flags this share of *all* reviews does inside each slice.
        n_boot (`int`, defaults to `1000`): bootstrap resamples for the CIs; 0 = no CIs.
        confidence (`float`, defaults to `0.95`), seed (`int`, defaults to `0`): of the bootstrap.
        config (`dict`, *optional*), data (`dict`, *optional*): recorded as given (command
            options, data path, fingerprints).

    Returns:
        `dict` (see ``report.json``): ``data``, ``config``, ``models``, ``baseline``,
        ``results`` per model, ``comparison``, ``folds``, ``slices``, ``length_buckets``, ``curves``.
    """
    y, scores = _checked_scores(labels, scores_by_model)
    rates = check_flag_rates(flag_rates)
    pis = _report_prevalences(prevalences)
    (slice_rate,) = check_flag_rates([slice_flag_rate])
    baseline = _resolved_baseline(baseline, scores)
    _check_one_per_review(len(y), groups=groups, folds=folds, lengths=lengths, slices=slices)

    models = list(scores)
    curve_rates = tuple(sorted(set(rates) | set(_CURVE_RATES)))
    headline = _headline_keys(pis, rates)
    boot = _paired_bootstrap(y, scores, pis, rates, curve_rates, headline, threshold, n_boot, groups, seed)
    results, curves = _per_model(
        y, scores, pis, rates, curve_rates, headline, threshold, operating_thresholds, boot, confidence
    )
    return {
        "report_version": REPORT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "package_version": _package_version(),
        "config": dict(config or {}),
        "data": _data_block(y, groups, data),
        "models": models,
        "baseline": baseline,
        "prevalences": pis,
        "flag_rates": list(rates),
        "threshold": threshold,
        "bootstrap": {
            "n_boot": n_boot,
            "confidence": confidence,
            "seed": seed,
            "unit": "review" if groups is None else "group",
        },
        "headline_metrics": headline,
        "results": results,
        "comparison": _comparison(models, baseline, results, boot, headline, confidence),
        "folds": None if folds is None else _fold_block(y, scores, folds, baseline, pis, rates, threshold),
        "slices": {
            column: _slice_block(y, scores, list(values), None, slice_rate, threshold)
            for column, values in (slices or {}).items()
        },
        "length_buckets": None
        if lengths is None
        else _slice_block(y, scores, *_length_buckets(lengths, length_edges), slice_rate, threshold),
        "slice_flag_rate": slice_rate,
        "curves": curves,
    }


# The checks of build_report's inputs, in the order it makes them (the first failing one is raised).


def _checked_scores(
    labels: ArrayLike, scores_by_model: Mapping[str, ArrayLike]
) -> tuple[NDArray[np.int64], dict[str, NDArray[np.float64]]]:
    """Labels as 0/1 and every model's scores as floats, each checked against the labels."""
    label_array = np.asarray(labels)
    y, _ = check_inputs(label_array, np.zeros(label_array.shape))
    if not scores_by_model:
        raise ValueError("scores_by_model is empty; pass at least one {'model name': scores}")
    scores: dict[str, NDArray[np.float64]] = {}
    for name, values in scores_by_model.items():
        arr = np.asarray(values)
        if arr.shape != y.shape:
            raise ValueError(
                f"scores of model {name!r} have shape {arr.shape} but there are {len(y)} labels; "
                "pass one score per review, in the order of labels"
            )
        scores[name] = check_inputs(y, arr)[1]
    return y, scores


def _report_prevalences(prevalences: Sequence[float]) -> list[float | None]:
    """``None`` (the test set's own share) first, then the checked ``prevalences``, each once."""
    pis: list[float | None] = [None] + [check_prevalence(p) for p in prevalences if p is not None]
    return list(dict.fromkeys(pis))


def _resolved_baseline(baseline: str | None, scores: Mapping[str, Any]) -> str | None:
    """``baseline`` checked against the models; ``"tfidf"`` by default when it is one of several."""
    if baseline is None and "tfidf" in scores and len(scores) > 1:
        baseline = "tfidf"
    if baseline is not None and baseline not in scores:
        raise ValueError(f"baseline {baseline!r} is not one of the models {list(scores)}")
    return baseline


def _check_one_per_review(
    n: int,
    *,
    groups: Sequence[str] | None,
    folds: Sequence[Any] | None,
    lengths: ArrayLike | None,
    slices: Mapping[str, Sequence[Any]] | None,
) -> None:
    """Raise unless every per-review column given has ``n`` entries."""
    for name, values in (("groups", groups), ("folds", folds), ("lengths", lengths)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} reviews; pass one per review")
    for column, values in (slices or {}).items():
        if len(values) != n:
            raise ValueError(
                f"slice {column!r} has {len(values)} entries for {n} reviews; pass one per review"
            )


def _data_block(
    y: NDArray[np.int64], groups: Sequence[str] | None, data: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``data`` as given plus the label counts and a fingerprint of the labels."""
    n = len(y)
    return {
        **dict(data or {}),
        "n": n,
        "n_fake": int(y.sum()),
        "n_genuine": int(n - y.sum()),
        "share_fake": float(y.mean()),
        "n_groups": None if groups is None else len(set(groups)),
        "labels_sha256": hashlib.sha256(y.astype(np.int8).tobytes()).hexdigest(),
    }


def _per_model(
    y: NDArray[np.int64], scores: Mapping[str, NDArray[np.float64]], pis: list[float | None],
    rates: tuple[float, ...], curve_rates: tuple[float, ...], headline: list[str], threshold: float,
    operating_thresholds: Mapping[str, float] | None, boot: Mapping[str, NDArray[np.float64]] | None,
    confidence: float,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """``results`` and ``curves`` of every model, in model order.

    A model's bootstrap block holds its headline statistics first, then its curve points, so
    the two entries read the two parts of the same resamples.
    """
    results: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for name, s in scores.items():
        operating = (operating_thresholds or {}).get(name)
        block = None if boot is None else boot[name]
        results[name] = _model_result(y, s, pis, rates, threshold, operating, block, headline, confidence)
        curve_boot = None if block is None else block[:, len(headline) :]
        curves[name] = _curves(y, s, pis, curve_rates, curve_boot, confidence)
    return results, curves


def _paired_bootstrap(
    y: NDArray[np.int64], scores: Mapping[str, NDArray[np.float64]], pis: list[float | None],
    rates: tuple[float, ...], curve_rates: tuple[float, ...], headline: list[str], threshold: float,
    n_boot: int, groups: Sequence[str] | None, seed: int,
) -> dict[str, NDArray[np.float64]] | None:  # fmt: skip
    """Bootstrap samples of every model's headline and curve statistics, or ``None`` without ``n_boot``.

    One bootstrap for all models: each resample scores every model on the same reviews, so
    differences between models get paired confidence intervals.
    """
    if not n_boot:
        return None
    n = len(y)
    models = list(scores)
    width = len(headline) + 2 * len(pis) * len(curve_rates)
    ranked = {name: _Ranked(y, scores[name]) for name in models}

    def statistic(yb: NDArray[np.int64], idx: NDArray[np.float64]) -> NDArray[np.float64]:
        mult = np.bincount(idx.astype(np.int64), minlength=n).astype(np.float64)
        row: list[float] = []
        for name in models:
            head, curve = ranked[name].stats(mult, pis, rates, curve_rates, threshold)
            row += head + curve
        return np.asarray(row)

    samples = bootstrap_samples(
        y, np.arange(n, dtype=np.float64), statistic, n_boot=n_boot, groups=groups, seed=seed
    )
    return {name: samples[:, i * width : (i + 1) * width] for i, name in enumerate(models)}


def _model_result(
    y: NDArray[np.int64], s: NDArray[np.float64], pis: list[float | None], rates: tuple[float, ...],
    threshold: float, operating: float | None, boot: NDArray[np.float64] | None, headline: list[str],
    confidence: float,
) -> dict[str, Any]:  # fmt: skip
    """One model's entry of ``results``: metrics with intervals, flag-rate tables, thresholds, calibration."""
    point = summary_metrics(y, s, prevalences=pis, flag_rates=rates, threshold=threshold)
    ci: dict[str, list[float]] = {}
    if boot is not None:
        low, high = percentile_interval(boot[:, : len(headline)], confidence)
        ci = {k: [float(lo), float(hi)] for k, lo, hi in zip(headline, low, high, strict=True)}
    thresholds = [
        {
            "name": "0.5" if threshold == 0.5 else f"{threshold:g}",
            **_threshold_block(y, s, threshold, pis),
        }
    ]
    if operating is not None:
        thresholds.append({"name": "operating", **_threshold_block(y, s, float(operating), pis)})
    probability = _is_probability(s)
    return {
        "metrics": point,
        "histogram": _histogram(y, s, probability),
        "ci": ci or None,
        "flag_rates": _flag_tables(y, s, pis, rates, ci),
        "thresholds": thresholds,
        "calibration": _calibration_block(y, s) if probability else None,
        "scores_are_probabilities": probability,
    }


def _flag_tables(
    y: NDArray[np.int64], s: NDArray[np.float64], pis: list[float | None], rates: tuple[float, ...],
    ci: Mapping[str, list[float]],
) -> list[dict[str, Any]]:  # fmt: skip
    """Precision and recall at each flag rate, one table per prevalence."""
    flag_tables = []
    for pi in pis:
        table = []
        pts = flag_rate_point(y, s, review_weights(y, pi), rates)
        for rate, (thr, precision, recall, n_flagged) in zip(rates, pts, strict=True):
            key = f"{flag_rate_key(rate)}{prevalence_suffix(pi)}"
            table.append(
                {
                    "flag_rate": rate,
                    "threshold": float(thr),
                    "precision": float(precision),
                    "recall": float(recall),
                    "n_flagged": int(n_flagged),
                    "precision_ci": ci.get(f"precision@{key}"),
                    "recall_ci": ci.get(f"recall@{key}"),
                }
            )
        flag_tables.append({"prevalence": pi, "rows": table})
    return flag_tables


def _calibration_block(y: NDArray[np.int64], s: NDArray[np.float64]) -> dict[str, Any]:
    """ECE, Brier score and the ten reliability bins of probability scores."""
    mean_prob, frac_fake, count = reliability_bins(y, s, 10)
    return {
        "ece": expected_calibration_error(y, s, 10),
        "brier": brier_score(y, s),
        "n_bins": 10,
        "bins": [
            {
                "mean_score": None if c == 0 else float(m),
                "share_fake": None if c == 0 else float(f),
                "count": int(c),
            }
            for m, f, c in zip(mean_prob, frac_fake, count, strict=True)
        ],
    }


def _histogram(y: NDArray[np.int64], s: NDArray[np.float64], probability: bool) -> dict[str, Any]:
    """Counts of scores per class in 30 bins (over [0, 1] for probabilities), for the histogram plot."""
    # Over [0, 1] for probabilities, unless they bunch in a narrow band (e.g. a weak model's ~0.5).
    wide = probability and s.max() - s.min() >= 0.1
    edges = np.linspace(0.0, 1.0, 31) if wide else np.linspace(s.min(), s.max() + 1e-12, 31)
    return {
        "edges": edges.tolist(),
        "genuine": np.histogram(s[y == 0], edges)[0].tolist(),
        "fake": np.histogram(s[y == 1], edges)[0].tolist(),
    }


def _threshold_block(
    y: NDArray[np.int64], s: NDArray[np.float64], threshold: float, pis: Sequence[float | None]
) -> dict[str, Any]:
    return {
        "threshold": threshold,
        "by_prevalence": [threshold_metrics(y, s, threshold, pi).to_dict() for pi in pis],
    }


def _curves(
    y: NDArray[np.int64],
    s: NDArray[np.float64],
    pis: Sequence[float | None],
    curve_rates: Sequence[float],
    boot: NDArray[np.float64] | None,
    confidence: float,
) -> list[dict[str, Any]]:
    out = []
    k = len(curve_rates)
    for i, pi in enumerate(pis):
        pts = flag_rate_point(y, s, review_weights(y, pi), tuple(curve_rates))
        precision, recall, _ = precision_recall_curve(y, s, pi)
        if len(precision) > _MAX_PR_POINTS:  # keep report.json small on large test sets
            keep = np.unique(np.linspace(0, len(precision) - 1, _MAX_PR_POINTS).round().astype(np.int64))
            precision, recall = precision[keep], recall[keep]
        entry: dict[str, Any] = {
            "prevalence": pi,
            "flag_rates": list(curve_rates),
            "precision": pts[:, 1].tolist(),
            "recall": pts[:, 2].tolist(),
            "pr_curve": {"precision": precision.tolist(), "recall": recall.tolist()},
        }
        if boot is not None:
            block = boot[:, 2 * k * i : 2 * k * (i + 1)]
            low, high = percentile_interval(block, confidence)
            entry.update(
                precision_low=low[:k].tolist(),
                precision_high=high[:k].tolist(),
                recall_low=low[k:].tolist(),
                recall_high=high[k:].tolist(),
            )
        out.append(entry)
    return out


def _comparison(
    models: Sequence[str],
    baseline: str | None,
    results: Mapping[str, Any],
    boot: Mapping[str, NDArray[np.float64]] | None,
    headline: Sequence[str],
    confidence: float,
) -> list[dict[str, Any]]:
    """Each model against the baseline on every headline metric, with a paired bootstrap CI of the difference."""
    if baseline is None:
        return []
    out = []
    for name in models:
        if name == baseline:
            continue
        rows = []
        diff_ci: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
        if boot is not None:
            diff = boot[name][:, : len(headline)] - boot[baseline][:, : len(headline)]
            diff_ci = percentile_interval(diff, confidence)
        for j, key in enumerate(headline):
            a = results[name]["metrics"][key]
            b = results[baseline]["metrics"][key]
            ci = None if diff_ci is None else [float(diff_ci[0][j]), float(diff_ci[1][j])]
            if ci is not None and ci[0] <= 0.0 <= ci[1]:
                verdict = (
                    "tie" if a == b else ("better (not significant)" if a > b else "worse (not significant)")
                )
            else:
                verdict = "tie" if a == b else ("better" if a > b else "worse")
            rows.append(
                {
                    "metric": key,
                    "model": a,
                    "baseline": b,
                    "difference": a - b,
                    "difference_ci": ci,
                    "verdict": verdict,
                }
            )
        loses = [r["metric"] for r in rows if r["verdict"].startswith("worse")]
        out.append({"model": name, "baseline": baseline, "rows": rows, "worse_on": loses})
    return out


def _fold_block(
    y: NDArray[np.int64],
    scores: Mapping[str, NDArray[np.float64]],
    folds: Sequence[Any],
    baseline: str | None,
    pis: Sequence[float | None],
    rates: Sequence[float],
    threshold: float,
) -> dict[str, Any]:
    fold_keys = np.asarray([str(f) for f in folds])
    names = sorted(set(fold_keys.tolist()), key=lambda k: (len(k), k))
    per_fold: list[dict[str, Any]] = []
    for fold in names:
        mask = fold_keys == fold
        yf = y[mask]
        row: dict[str, Any] = {"fold": fold, "n": int(mask.sum()), "n_fake": int(yf.sum()), "models": {}}
        for name, s in scores.items():
            row["models"][name] = _if_both_classes(
                yf, summary_metrics, yf, s[mask], prevalences=pis, flag_rates=rates, threshold=threshold
            )
        per_fold.append(row)
    keys = _headline_keys(pis, rates)
    summary = {
        name: {k: _mean_sd([(f["models"][name] or {}).get(k) for f in per_fold], len(per_fold)) for k in keys}
        for name in scores
    }
    paired: dict[str, Any] = {}
    if baseline is not None:
        for name in scores:
            if name == baseline:
                continue
            block = {}
            for k in keys:
                diffs = [
                    f["models"][name][k] - f["models"][baseline][k]
                    for f in per_fold
                    if f["models"][name] and f["models"][baseline]
                ]
                block[k] = {
                    **_mean_sd(diffs, len(per_fold)),
                    "wins": int(sum(d > 0 for d in diffs)),
                    "losses": int(sum(d < 0 for d in diffs)),
                }
            paired[name] = block
    return {"folds": per_fold, "summary": summary, "paired_vs_baseline": paired}


def _length_buckets(lengths: ArrayLike, edges: Sequence[int]) -> tuple[list[str], list[str]]:
    """The bucket name of every review, and all bucket names shortest first."""
    values = np.asarray(lengths)
    bounds = sorted(int(e) for e in edges)
    if not bounds:
        raise ValueError("length_edges is empty; pass word counts such as (50, 100, 200, 400)")
    labels = [f"<{bounds[0]} words"] + [
        f"{a}–{b - 1} words" for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    labels.append(f"≥{bounds[-1]} words")
    return [labels[int(np.searchsorted(bounds, v, side="right"))] for v in values], labels


def _slice_block(
    y: NDArray[np.int64],
    scores: Mapping[str, NDArray[np.float64]],
    values: Sequence[Any],
    order: Sequence[str] | None,
    slice_rate: float,
    threshold: float,
) -> list[dict[str, Any]]:
    """Per slice value: counts, accuracy/AP/AUC inside it, and what the global flag threshold does there."""
    keys = np.asarray([str(v) if str(v).strip() else "(missing)" for v in values], dtype=object)
    global_thr = {
        name: float(flag_rate_point(y, s, review_weights(y, None), (slice_rate,))[0, 0])
        for name, s in scores.items()
    }
    present = set(keys.tolist())
    ordered = [v for v in order if v in present] if order is not None else sorted(present, key=_natural_key)
    rows = []
    for value in ordered:
        mask = keys == value
        yv = y[mask]
        row: dict[str, Any] = {"value": value, "n": int(mask.sum()), "n_fake": int(yv.sum()), "models": {}}
        for name, s in scores.items():
            sv = s[mask]
            flagged = sv >= global_thr[name]
            n_fake, n_genuine = int(yv.sum()), int(len(yv) - yv.sum())
            row["models"][name] = {
                "accuracy": float(np.mean((sv >= threshold) == (yv == 1))),
                "average_precision": _if_both_classes(yv, average_precision, yv, sv),
                "roc_auc": _if_both_classes(yv, roc_auc, yv, sv),
                "flagged_share": float(flagged.mean()),
                "recall_at_global_threshold": float(flagged[yv == 1].mean()) if n_fake else None,
                "false_flag_rate": float(flagged[yv == 0].mean()) if n_genuine else None,
                "global_threshold": global_thr[name],
            }
        rows.append(row)
    return rows


def _natural_key(text: str) -> tuple[Any, ...]:
    """Numbers in numeric order (fold 2 before fold 10), then text."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _package_version() -> str:
    from fakereview_nlp import __version__

    return __version__


# ----------------------------------------------------------------------------- writing


def write_report(
    report: Mapping[str, Any], out_dir: str | os.PathLike[str], *, plots: bool = True
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and (with ``plots``) the PNG plots into ``out_dir``.

    Returns:
        `dict` of file kind → path: ``json``, ``markdown`` and the keys of ``PLOT_FILES``.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    # JSON first: it holds every number, so a plotting failure cannot lose the results.
    json_path = folder / "report.json"
    atomic_write_text(json_path, json.dumps(jsonable(report), indent=2, allow_nan=False) + "\n")
    written["json"] = json_path
    if plots:
        from fakereview_nlp.evaluation import plots as report_plots

        written.update(report_plots.write_plots(report, folder))
    md_path = folder / "report.md"
    atomic_write_text(
        md_path,
        render_markdown(report, plot_files={k: p.name for k, p in written.items() if k in PLOT_FILES}),
    )
    written["markdown"] = md_path
    return written


__all__ = [
    "DEFAULT_LENGTH_EDGES",
    "DEFAULT_PREVALENCES",
    "PLOT_FILES",
    "build_report",
    "fingerprint_file",
    "fingerprint_rows",
    "prevalence_label",
    "prevalence_suffix",
    "render_markdown",
    "summary_metrics",
    "write_report",
]
