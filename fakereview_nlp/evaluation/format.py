"""What the report's parts share: metric-name suffixes, prevalence labels, plot file names, fold means, JSON values.

A leaf module: :mod:`fakereview_nlp.evaluation.report` (computing), :mod:`fakereview_nlp.evaluation.markdown`
(rendering), :mod:`fakereview_nlp.evaluation.plots` and :mod:`fakereview_nlp.evaluation.model_card` all import
it, and it imports none of them, so the report's files form no import cycle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

PLOT_FILES = {
    "flag_rate_curves": "flag_rate_curves.png",
    "pr_curve": "pr_curve.png",
    "reliability": "reliability.png",
    "score_histograms": "score_histograms.png",
}


def prevalence_suffix(prevalence: float | None) -> str:
    """``None`` → ``""`` (the test set's own share of fakes); ``0.05`` → ``"[π=5%]"``."""
    return "" if prevalence is None else f"[π={100 * prevalence:g}%]"


def prevalence_label(prevalence: float | None, test_share: float | None = None) -> str:
    if prevalence is None:
        return "test prevalence" + ("" if test_share is None else f" ({100 * test_share:.1f}% fake)")
    return f"prevalence {100 * prevalence:g}%"


def mean_sd_text(stat: Mapping[str, Any] | None, signed: bool = False) -> str:
    """``"0.884 ± 0.021"`` for a fold summary; ``"(4 of 5 folds)"`` is added when folds had no value."""
    if not stat or stat.get("mean") is None:
        return "–"
    text = f"{stat['mean']:+.3f} ± {stat['sd']:.3f}" if signed else f"{stat['mean']:.3f} ± {stat['sd']:.3f}"
    of = stat.get("of")
    if of is not None and stat.get("n", of) < of:
        text += f" ({stat['n']} of {of} folds)"
    return text


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers, NaN/inf as ``None`` and paths as strings (for ``json.dumps``)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def number_text(value: float | None, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; an en dash for a value the report does not have."""
    return "–" if value is None else f"{value:.{digits}f}"


def ci_text(value: float | None, ci: Sequence[float] | None) -> str:
    """``value (low–high)`` with three decimals, or the value alone without an interval."""
    if value is None:
        return "–"
    return number_text(value) if not ci else f"{value:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table as lines, followed by a blank line."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


__all__ = [
    "PLOT_FILES",
    "ci_text",
    "jsonable",
    "markdown_table",
    "mean_sd_text",
    "number_text",
    "prevalence_label",
    "prevalence_suffix",
]
