"""Fake-review detection metrics for ``evaluate``: ranking, calibration and flag-rate metrics.

Loaded by path (``fakereview_nlp.evaluation.hf_metric.load_metric()``), never from the Hub. ``compute``
returns a flat dict of floats so the training loop can log it and early-stop on any key.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

from fakereview_nlp.metrics import (
    DEFAULT_FLAG_RATES,
    average_precision,
    brier_score,
    expected_calibration_error,
    flag_rate_key,
    flag_rate_metrics,
    roc_auc,
    threshold_metrics,
)

_DESCRIPTION = """\
Metrics for telling genuine reviews (0) from fake ones (1) given P(fake): accuracy and F1 at a
threshold, average precision, ROC AUC, expected calibration error, Brier score, and precision
and recall when the top 0.5 %, 1 %, 2 %, 5 % and 10 % of reviews are flagged (ties at the
boundary flagged fractionally; optional re-weighting to a real-world prevalence).
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions (`list` of `float`): P(fake) in [0, 1] per review.
    references (`list` of `int`): 0 = genuine, 1 = fake.
    threshold (`float`, defaults to `0.5`): decision threshold for accuracy and F1.
    flag_rates (`list` of `float`, defaults to `(0.005, 0.01, 0.02, 0.05, 0.1)`).
    prevalence (`float`, *optional*): re-weight flag-rate precision to this share of fakes.
    n_bins (`int`, defaults to `10`): bins of the expected calibration error.
Returns:
    `dict[str, float]` with accuracy, f1, average_precision, roc_auc, ece, brier and
    ``precision@1%``, ``recall@1%`` (and so on for each flag rate).
Examples:
    >>> metric = fakereview_nlp.evaluation.hf_metric.load_metric()
    >>> metric.compute(predictions=[0.9, 0.2, 0.7, 0.1], references=[1, 0, 1, 0])["roc_auc"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class FakeReviewMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(
        self,
        predictions: list[float],
        references: list[int],
        threshold: float = 0.5,
        flag_rates: tuple[float, ...] = DEFAULT_FLAG_RATES,
        prevalence: float | None = None,
        n_bins: int = 10,
    ) -> dict[str, float]:
        probs = np.asarray(predictions, dtype=np.float64)
        labels = np.asarray(references, dtype=np.int64)
        at = threshold_metrics(labels, probs, threshold)
        out = {
            "accuracy": at.accuracy,
            "f1": at.f1,
            "average_precision": average_precision(labels, probs),
            "roc_auc": roc_auc(labels, probs),
            "ece": expected_calibration_error(labels, probs, n_bins),
            "brier": brier_score(labels, probs),
        }
        for result in flag_rate_metrics(labels, probs, flag_rates, prevalence):
            out[f"precision@{flag_rate_key(result.flag_rate)}"] = result.precision
            out[f"recall@{flag_rate_key(result.flag_rate)}"] = result.recall
        return {key: float(value) for key, value in out.items()}
