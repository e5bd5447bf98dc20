"""Flag-rate metrics: precision and recall when the top ``r`` share of reviews is flagged.

Moderation teams do not use a 0.5 threshold: they can check a fixed share of traffic. The
question this module answers is "if we flag the top 1 % of reviews, what share of the flagged
are fake (precision), and what share of all fakes did we catch (recall)?", at the share of
fakes they really see (``prevalence``) rather than the 50 % of a balanced test set.

Everything here is plain numpy: no network, no torch, no scikit-learn.

Weights. Every review weighs 1. With ``prevalence=π`` a fake weighs ``π/p`` and a genuine
review ``(1−π)/(1−p)``, where ``p`` is the share of fakes in ``labels``; the weighted set then
holds ``N`` in total and a share ``π`` of fakes.

Flag rate ``r``. Reviews are flagged from the highest score down until the flagged weight is
exactly ``r·N``. Reviews tied at the boundary score are flagged *fractionally*, all with the
same fraction, so the result does not depend on input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: The flag rates reported by default: 0.5 %, 1 %, 2 %, 5 % and 10 % of all reviews.
DEFAULT_FLAG_RATES: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.10)

# Relative tolerance when deciding whether the flag budget r·N is used up by whole score
# groups: r·N is a float product, cumulative weights are float sums.
_BUDGET_RTOL = 1e-9


@dataclass(frozen=True)
class FlagRateResult:
    """Precision and recall when the top ``flag_rate`` share of (weighted) reviews is flagged.

    Attributes:
        flag_rate: the share ``r`` of reviews flagged, in (0, 1].
        threshold: the boundary score; every review scoring above it is flagged, reviews
            scoring exactly ``threshold`` may be flagged fractionally.
        precision: flagged fake weight / ``r·N``.
        recall: flagged fake weight / total fake weight.
        n_flagged: number of reviews with any flagged fraction.
        prevalence: the prevalence the weights assume; ``None`` = the share of fakes in the data.
        precision_low, precision_high, recall_low, recall_high: bootstrap confidence bounds,
            ``None`` unless asked for with ``n_boot > 0``.
        confidence: the confidence level of those bounds, ``None`` without them.
    """

    flag_rate: float
    threshold: float
    precision: float
    recall: float
    n_flagged: int
    prevalence: float | None = None
    precision_low: float | None = None
    precision_high: float | None = None
    recall_low: float | None = None
    recall_high: float | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class ThresholdMetrics:
    """Metrics of the hard decision ``flagged = score >= threshold`` (weighted by prevalence if given)."""

    threshold: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    flag_rate: float
    n_flagged: int
    prevalence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def flag_rate_key(rate: float) -> str:
    """The label of a flag rate in metric names: ``0.01`` → ``"1%"``, ``0.005`` → ``"0.5%"``."""
    return f"{100 * rate:g}%"


# ----------------------------------------------------------------------------- validation


def check_inputs(labels: ArrayLike, scores: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Validate and convert ``labels`` (0/1, 1 = fake) and ``scores`` (higher = more likely fake).

    Raises ``ValueError`` naming the problem: lengths differ, empty input, labels not 0/1,
    NaN or infinite scores, no fakes or no genuine reviews.
    """
    y = np.asarray(labels)
    s = np.asarray(scores)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(
            f"labels and scores must be 1-D, got shapes {y.shape} and {s.shape}; "
            "pass one label and one P(fake) score per review (for logits use column 1 or a softmax)"
        )
    if len(y) != len(s):
        raise ValueError(
            f"labels and scores have different lengths ({len(y)} vs {len(s)}); "
            "pass exactly one score per labelled review"
        )
    if len(y) == 0:
        raise ValueError(
            "empty input: labels and scores hold no reviews; evaluate at least one fake and one genuine"
        )
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(
            f"labels must be 0/1 numbers (1 = fake), got dtype {y.dtype} (e.g. {y[0]!r}); "
            "map names with fakereview_nlp.LABEL2ID first"
        )
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        seen = sorted({float(v) if not float(v).is_integer() else int(v) for v in y[bad][:10]})
        raise ValueError(
            f"labels must be 0/1 (1 = fake), got values {seen}; map them with fakereview_nlp.LABEL2ID"
        )
    try:
        s = s.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"scores must be numbers, got dtype {s.dtype}: {err}") from err
    finite = np.isfinite(s)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"scores must be finite: {int((~finite).sum())} NaN or infinite score(s), first at index {first} "
            f"({s[first]}); check the model outputs for overflow or missing predictions"
        )
    y = y.astype(np.int64)
    n_fake = int(y.sum())
    if n_fake == 0:
        raise ValueError(
            f"no fakes among the {len(y)} labels (all 0); flag-rate metrics need at least one fake "
            "and one genuine review: check the label mapping or the evaluation split"
        )
    if n_fake == len(y):
        raise ValueError(
            f"no genuine reviews among the {len(y)} labels (all 1); flag-rate metrics need at least one "
            "fake and one genuine review: check the label mapping or the evaluation split"
        )
    return y, s


def check_flag_rates(flag_rates: float | Sequence[float]) -> tuple[float, ...]:
    rates = (flag_rates,) if isinstance(flag_rates, int | float) else tuple(flag_rates)
    if not rates:
        raise ValueError("flag_rates is empty; pass at least one flag rate in (0, 1], e.g. (0.01, 0.05)")
    for rate in rates:
        if not (isinstance(rate, int | float | np.floating) and 0.0 < float(rate) <= 1.0):
            raise ValueError(
                f"flag rate {rate!r} is outside (0, 1]; it is a share of reviews, e.g. 0.01 for 1 % (not 1)"
            )
    return tuple(float(r) for r in rates)


def check_prevalence(prevalence: float | None) -> float | None:
    if prevalence is None:
        return None
    if not (isinstance(prevalence, int | float | np.floating) and 0.0 < float(prevalence) < 1.0):
        raise ValueError(
            f"prevalence {prevalence!r} is outside (0, 1); it is the share of fakes in real traffic, "
            "e.g. 0.05 for 5 %, or None to use the share in the labels"
        )
    return float(prevalence)


def review_weights(labels: NDArray[np.int64], prevalence: float | None) -> NDArray[np.float64]:
    """Per-review weights: 1, or ``π/p`` for fakes and ``(1−π)/(1−p)`` for genuine reviews."""
    if prevalence is None:
        return np.ones(len(labels), dtype=np.float64)
    p = labels.mean()
    return np.where(labels == 1, prevalence / p, (1.0 - prevalence) / (1.0 - p))


# ----------------------------------------------------------------------------- flag rates


def flag_rate_point(
    y: NDArray[np.int64], s: NDArray[np.float64], w: NDArray[np.float64], rates: tuple[float, ...]
) -> NDArray[np.float64]:
    """Rows ``(threshold, precision, recall, n_flagged)`` for each rate; inputs already validated."""
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    # Group tied scores: starts[k] is the first sorted position of the k-th distinct score.
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    group_w = np.add.reduceat(w[order], starts)
    group_fake = np.add.reduceat((w * y)[order], starts)
    group_n = np.diff(np.r_[starts, len(s)])
    cum_w = np.cumsum(group_w)
    cum_fake = np.cumsum(group_fake)
    cum_n = np.cumsum(group_n)
    total_w = float(cum_w[-1])  # == N up to rounding
    total_fake = float(cum_fake[-1])
    out = np.empty((len(rates), 4), dtype=np.float64)
    for i, rate in enumerate(rates):
        budget = rate * total_w
        # First group whose cumulative weight reaches the budget: the boundary group.
        k = int(np.searchsorted(cum_w, budget * (1.0 - _BUDGET_RTOL), side="left"))
        k = min(k, len(cum_w) - 1)
        before_w = cum_w[k - 1] if k > 0 else 0.0
        before_fake = cum_fake[k - 1] if k > 0 else 0.0
        fraction = min(max((budget - before_w) / group_w[k], 0.0), 1.0)
        flagged_fake = before_fake + fraction * group_fake[k]
        out[i] = (s_sorted[starts[k]], flagged_fake / budget, flagged_fake / total_fake, cum_n[k])
    np.clip(out[:, 1:3], 0.0, 1.0, out=out[:, 1:3])
    return out


def flag_rate_metrics(
    labels: ArrayLike,
    scores: ArrayLike,
    flag_rates: float | Sequence[float] = DEFAULT_FLAG_RATES,
    prevalence: float | None = None,
    *,
    n_boot: int = 0,
    confidence: float = 0.95,
    groups: ArrayLike | None = None,
    seed: int = 0,
) -> list[FlagRateResult]:
    """Precision and recall when the top ``r`` share of reviews is flagged, one result per rate.

    Args:
        labels (`array-like` of 0/1): 1 = fake.
        scores (`array-like` of float): higher = more likely fake (P(fake), a logit, any score).
        flag_rates (`float` or sequence, defaults to `(0.005, 0.01, 0.02, 0.05, 0.10)`): shares in (0, 1].
        prevalence (`float`, *optional*): the share of fakes to re-weight to, in (0, 1);
            ``None`` keeps the share in ``labels``.
        n_boot (`int`, defaults to `0`): bootstrap resamples for confidence bounds; 0 = none.
        confidence (`float`, defaults to `0.95`): level of the percentile bootstrap interval.
        groups (`array-like`, *optional*): resample whole groups (hotels, products) instead of reviews.
        seed (`int`, defaults to `0`): seed of the bootstrap.

    Returns:
        `list[FlagRateResult]`, in the order of ``flag_rates``.

    Example::

        >>> r = flag_rate_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], flag_rates=[0.25, 0.5])
        >>> [(x.precision, x.recall, x.n_flagged) for x in r]
        [(1.0, 0.5, 1), (0.5, 0.5, 2)]
    """
    y, s = check_inputs(labels, scores)
    rates = check_flag_rates(flag_rates)
    pi = check_prevalence(prevalence)
    point = flag_rate_point(y, s, review_weights(y, pi), rates)
    bounds: NDArray[np.float64] | None = None
    if n_boot:

        def statistic(yb: NDArray[np.int64], sb: NDArray[np.float64]) -> NDArray[np.float64]:
            return flag_rate_point(yb, sb, review_weights(yb, pi), rates)[:, 1:3].ravel()

        low, high = bootstrap_ci(
            y, s, statistic, n_boot=n_boot, confidence=confidence, groups=groups, seed=seed
        )
        bounds = np.stack([low, high], axis=1).reshape(len(rates), 2, 2)  # rate × (P, R) × (low, high)
    results = []
    for i, rate in enumerate(rates):
        threshold, precision, recall, n_flagged = point[i]
        ci: dict[str, float | None] = {}
        if bounds is not None:
            ci = {
                "precision_low": float(bounds[i, 0, 0]),
                "precision_high": float(bounds[i, 0, 1]),
                "recall_low": float(bounds[i, 1, 0]),
                "recall_high": float(bounds[i, 1, 1]),
                "confidence": float(confidence),
            }
        results.append(
            FlagRateResult(
                flag_rate=rate,
                threshold=float(threshold),
                precision=float(precision),
                recall=float(recall),
                n_flagged=int(n_flagged),
                prevalence=pi,
                **ci,
            )
        )
    return results


# ----------------------------------------------------------------------------- ranking metrics


def _weighted_curve(
    y: NDArray[np.int64], s: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Cumulative (true-positive weight, false-positive weight, threshold) per distinct score, high → low."""
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    tp = np.cumsum(np.add.reduceat((w * y)[order], starts))
    fp = np.cumsum(np.add.reduceat((w * (1 - y))[order], starts))
    return tp, fp, s_sorted[starts]


def precision_recall_curve(
    labels: ArrayLike, scores: ArrayLike, prevalence: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(precision, recall, thresholds)`` at every distinct score, thresholds decreasing.

    A review is flagged when ``score >= threshold``; ``prevalence`` re-weights as in
    :func:`flag_rate_metrics`.
    """
    y, s = check_inputs(labels, scores)
    w = review_weights(y, check_prevalence(prevalence))
    tp, fp, thresholds = _weighted_curve(y, s, w)
    return tp / (tp + fp), tp / tp[-1], thresholds


def average_precision(labels: ArrayLike, scores: ArrayLike, prevalence: float | None = None) -> float:
    """Average precision, ``Σ (R_k − R_{k−1}) P_k`` over distinct thresholds (scikit-learn's definition).

    Tied scores form one threshold, so the value does not depend on input order. With
    ``prevalence`` the precision is the one expected at that share of fakes.
    """
    precision, recall, _ = precision_recall_curve(labels, scores, prevalence)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve: P(a random fake scores above a random genuine review), ties count ½.

    It does not depend on prevalence.
    """
    y, s = check_inputs(labels, scores)
    # Mann–Whitney U from average ranks (ties get their mean rank).
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    ends = np.r_[starts[1:], len(s)]
    mean_rank = (starts + ends - 1) / 2.0 + 1.0
    ranks = np.empty(len(s), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


# ----------------------------------------------------------------------------- thresholds


def threshold_metrics(
    labels: ArrayLike, scores: ArrayLike, threshold: float = 0.5, prevalence: float | None = None
) -> ThresholdMetrics:
    """Accuracy, precision, recall and F1 of ``flagged = score >= threshold``.

    ``>=`` is the rule :mod:`fakereview_nlp.inference` uses with the saved operating threshold.
    With ``prevalence`` every count is re-weighted as in :func:`flag_rate_metrics`. Precision is
    0 when nothing is flagged (and F1 then 0).
    """
    y, s = check_inputs(labels, scores)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    pi = check_prevalence(prevalence)
    w = review_weights(y, pi)
    flagged = s >= threshold
    tp = float(w[flagged & (y == 1)].sum())
    fp = float(w[flagged & (y == 0)].sum())
    tn = float(w[~flagged & (y == 0)].sum())
    total_fake = float(w[y == 1].sum())
    total = float(w.sum())
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / total_fake
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return ThresholdMetrics(
        threshold=float(threshold),
        accuracy=(tp + tn) / total,
        precision=precision,
        recall=recall,
        f1=f1,
        flag_rate=(tp + fp) / total,
        n_flagged=int(flagged.sum()),
        prevalence=pi,
    )


# ----------------------------------------------------------------------------- calibration


def _check_probabilities(s: NDArray[np.float64]) -> None:
    if s.min() < 0.0 or s.max() > 1.0:
        raise ValueError(
            f"calibration metrics need probabilities P(fake) in [0, 1], got scores in [{s.min():.4g}, "
            f"{s.max():.4g}]; pass softmax(logits / T)[:, 1], not raw logits"
        )


def reliability_bins(
    labels: ArrayLike, probs: ArrayLike, n_bins: int = 10
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Per equal-width bin of P(fake): ``(mean predicted P(fake), observed share of fakes, count)``.

    Empty bins hold NaN means and a count of 0. Bin ``i`` covers ``[i/n, (i+1)/n)``; 1.0 falls in the last.
    """
    y, s = check_inputs(labels, probs)
    _check_probabilities(s)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    index = np.minimum((s * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = np.bincount(index, weights=s, minlength=n_bins) / count
        frac_fake = np.bincount(index, weights=y.astype(np.float64), minlength=n_bins) / count
    return mean_prob, frac_fake, count


def expected_calibration_error(labels: ArrayLike, probs: ArrayLike, n_bins: int = 10) -> float:
    """ECE of P(fake): ``Σ_b (n_b / N) · |share of fakes in b − mean P(fake) in b|``, equal-width bins.

    It measures whether "P(fake) = 0.8" means 80 % of such reviews are fake, which is what a
    moderator reading the score needs (rather than the top-label confidence variant).
    """
    mean_prob, frac_fake, count = reliability_bins(labels, probs, n_bins)
    used = count > 0
    return float(np.sum(count[used] * np.abs(frac_fake[used] - mean_prob[used])) / count.sum())


def brier_score(labels: ArrayLike, probs: ArrayLike) -> float:
    """Mean squared error between P(fake) and the 0/1 label."""
    y, s = check_inputs(labels, probs)
    _check_probabilities(s)
    return float(np.mean((s - y) ** 2))


# ----------------------------------------------------------------------------- bootstrap


def bootstrap_samples(
    labels: ArrayLike,
    scores: ArrayLike,
    statistic: Callable[[NDArray[np.int64], NDArray[np.float64]], Any],
    *,
    n_boot: int = 1000,
    groups: ArrayLike | None = None,
    seed: int = 0,
) -> NDArray[np.float64]:
    """``statistic`` on ``n_boot`` bootstrap resamples, shape ``(n_boot, k)``.

    Args:
        statistic: maps a resample ``(labels, scores)`` to a float or a 1-D array of ``k`` floats.
            To compare several models on the *same* resamples (a paired bootstrap), pass
            ``scores=np.arange(n)`` and index each model's scores with the resampled positions.
        n_boot (`int`, defaults to `1000`): number of resamples.
        groups (`array-like`, *optional*): one key per review; whole groups are resampled
            (a cluster bootstrap), because reviews of one hotel or product are not independent.
        seed (`int`, defaults to `0`): the same seed gives the same resamples.

    Resamples without a fake or without a genuine review are drawn again (at most ``10·n_boot``
    draws in all), so the interval is conditional on both classes being present.
    """
    y, s = check_inputs(labels, scores)
    if not isinstance(n_boot, int | np.integer) or isinstance(n_boot, bool) or n_boot < 1:
        raise ValueError(
            f"n_boot must be a positive integer, got {n_boot!r}; 1000 is usual, 200 for a quick look"
        )
    rng = np.random.default_rng(seed)
    if groups is None:
        members = None
    else:
        g = np.asarray(groups)
        if g.shape != y.shape:
            raise ValueError(
                f"groups has {len(g)} entries for {len(y)} reviews; pass one group key per review"
            )
        _, inverse = np.unique(g, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        splits = np.flatnonzero(np.diff(inverse[order])) + 1
        members = np.split(order, splits)
    samples: list[NDArray[np.float64]] = []
    draws = 0
    while len(samples) < n_boot:
        draws += 1
        if draws > 10 * n_boot:
            raise ValueError(
                f"only {len(samples)} of {draws - 1} bootstrap resamples held both classes; the data has too "
                "few fakes, genuine reviews or groups for a bootstrap (resample reviews, not groups, or add data)"
            )
        if members is None:
            idx = rng.integers(0, len(y), len(y))
        else:
            picks = rng.integers(0, len(members), len(members))
            idx = np.concatenate([members[k] for k in picks])
        yb = y[idx]
        n_fake = int(yb.sum())
        if n_fake == 0 or n_fake == len(yb):
            continue
        samples.append(np.atleast_1d(np.asarray(statistic(yb, s[idx]), dtype=np.float64)))
    return np.stack(samples)


def percentile_interval(
    samples: NDArray[np.float64], confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(low, high)`` percentile bounds over axis 0 of bootstrap ``samples``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}; e.g. 0.95")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha], axis=0)
    return low, high


def bootstrap_ci(
    labels: ArrayLike,
    scores: ArrayLike,
    statistic: Callable[[NDArray[np.int64], NDArray[np.float64]], Any],
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    groups: ArrayLike | None = None,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile bootstrap interval ``(low, high)`` of ``statistic(labels, scores)``.

    Args:
        statistic: maps a resample ``(labels, scores)`` to a float or a 1-D array of floats.
        n_boot (`int`, defaults to `1000`): number of resamples.
        confidence (`float`, defaults to `0.95`): interval level, in (0, 1).
        groups (`array-like`, *optional*): resample whole groups (see :func:`bootstrap_samples`).
        seed (`int`, defaults to `0`): the same seed gives the same interval.

    Returns:
        ``(low, high)``, arrays shaped like the statistic's output.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}; e.g. 0.95")
    samples = bootstrap_samples(labels, scores, statistic, n_boot=n_boot, groups=groups, seed=seed)
    return percentile_interval(samples, confidence)


__all__ = [
    "flag_rate_point",
    "DEFAULT_FLAG_RATES",
    "FlagRateResult",
    "ThresholdMetrics",
    "average_precision",
    "bootstrap_ci",
    "bootstrap_samples",
    "brier_score",
    "check_inputs",
    "expected_calibration_error",
    "flag_rate_key",
    "flag_rate_metrics",
    "percentile_interval",
    "precision_recall_curve",
    "reliability_bins",
    "review_weights",
    "roc_auc",
    "threshold_metrics",
]
