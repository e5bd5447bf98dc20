"""The ``evaluate`` metric wrapping :mod:`fakereview_nlp.metrics`, loadable offline by path.

``evaluate.load("accuracy")`` downloads a script from the Hub; this module ships the script
inside the package and loads it by its local path, so validation and early stopping work
with ``HF_HUB_OFFLINE=1`` / ``HF_EVALUATE_OFFLINE=1``.

Example::

    >>> from fakereview_nlp.evaluation.hf_metric import load_metric
    >>> metric = load_metric()  # doctest: +SKIP
    >>> metric.compute(predictions=[0.9, 0.2, 0.7, 0.1], references=[1, 0, 1, 0])  # doctest: +SKIP
    {'accuracy': 1.0, 'f1': 1.0, 'average_precision': 1.0, 'roc_auc': 1.0, ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Path of the metric script, ``<package>/metric/fake_review_metric.py``.
METRIC_SCRIPT = Path(__file__).with_name("fake_review_metric.py")


def load_metric(**kwargs: Any) -> Any:
    """``evaluate.load`` of the packaged ``fake_review_metric.py``; ``kwargs`` go to ``evaluate.load``.

    Pass ``experiment_id=...`` when several processes compute the metric at once.
    """
    import evaluate

    return evaluate.load(str(METRIC_SCRIPT), **kwargs)


__all__ = ["METRIC_SCRIPT", "load_metric"]
