"""Does a detector win by length? Length-only AUC and AUC within length bins.

In several corpora length alone separates the classes (MAiDE-up's GPT-4 fakes are longer than
the real reviews, Combat-AI's GPT fakes shorter). A detector that learned "long means fake"
scores well on its own corpus and fails elsewhere, so every cross-domain report sets the model's
AUC beside the AUC of length alone and beside the model's mean AUC *within* length bins, where
length cannot help.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fakereview_nlp.metrics import check_inputs, roc_auc


@dataclass(frozen=True)
class LengthBin:
    """One length bin: its character-length range, its class counts and the model's AUC in it."""

    low: int
    high: int
    genuine: int
    fake: int
    #: None where the bin has fewer than ``min_per_class`` reviews of a class (too few to rank).
    roc_auc: float | None


@dataclass(frozen=True)
class LengthReport:
    """The model's AUC, the AUC of length alone, and the mean AUC within length bins."""

    roc_auc: float
    #: AUC of character length as a score, direction-free: max(AUC, 1 - AUC).
    length_only_auc: float
    #: "longer" or "shorter": which fakes are, on average of ranks.
    fakes_are: str
    bins: tuple[LengthBin, ...]
    #: mean AUC over the bins with enough reviews of both classes; None where no bin has.
    within_bins_auc: float | None

    @property
    def bins_used(self) -> int:
        return sum(b.roc_auc is not None for b in self.bins)


def length_report(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    lengths: Sequence[int] | np.ndarray,
    *,
    n_bins: int = 4,
    min_per_class: int = 50,
) -> LengthReport:
    """AUC overall, of length alone, and within length quantiles of the given rows.

    Quartiles by default; where fewer than two of them hold ``min_per_class`` reviews of each
    class (a few hundred held-out rows whose classes differ in length), the rows are cut into
    thirds, then halves, so that the within-bin figure rests on at least two bins when it can.
    ``bins`` says which cut was used.

    Args:
        labels: 1 = fake, 0 = genuine.
        scores: the model's P(fake).
        lengths: review length in characters, one per row.
        n_bins (`int`, defaults to `4`): length quantiles (quartiles).
        min_per_class (`int`, defaults to `50`): a bin's AUC counts only with at least this many
            reviews of each class in it.

    Returns:
        `LengthReport`.
    """
    y, s = check_inputs(labels, scores)
    n = np.asarray(lengths, dtype=float)
    if n.shape != y.shape:
        raise ValueError(f"lengths has {n.shape[0]} rows but labels has {y.shape[0]}; give one length per review")
    if n_bins < 1 or min_per_class < 1:
        raise ValueError(f"n_bins and min_per_class must be >= 1, got {n_bins} and {min_per_class}")
    length_auc = roc_auc(y, n)
    for k in range(n_bins, 1, -1):
        bins = _bins(y, s, n, k, min_per_class)
        if sum(b.roc_auc is not None for b in bins) >= 2:
            break
    else:
        bins = _bins(y, s, n, n_bins, min_per_class)
    used = [b.roc_auc for b in bins if b.roc_auc is not None]
    return LengthReport(
        roc_auc=roc_auc(y, s),
        length_only_auc=max(length_auc, 1.0 - length_auc),
        fakes_are="longer" if length_auc >= 0.5 else "shorter",
        bins=tuple(bins),
        within_bins_auc=float(np.mean(used)) if used else None,
    )


def _bins(y: np.ndarray, s: np.ndarray, n: np.ndarray, n_bins: int, min_per_class: int) -> list[LengthBin]:
    edges = np.unique(np.quantile(n, np.linspace(0, 1, n_bins + 1)[1:-1]))
    which = np.searchsorted(edges, n, side="right")
    bins: list[LengthBin] = []
    for b in range(len(edges) + 1):
        inside = which == b
        if not inside.any():
            continue
        yb, sb = y[inside], s[inside]
        fakes, genuine = int(yb.sum()), int((1 - yb).sum())
        auc = roc_auc(yb, sb) if min(fakes, genuine) >= min_per_class else None
        bins.append(LengthBin(int(n[inside].min()), int(n[inside].max()), genuine, fakes, auc))
    return bins
