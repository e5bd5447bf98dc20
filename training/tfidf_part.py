"""The TF-IDF part of a combined model: fitted on the transformer's training rows, averaged with it.

Used by ``training.train`` (``model.combine_tfidf: true``) and ``training.combine`` (adding the
part to a finished run). Kept apart from both so that neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from fakereview_nlp.model.baseline import TfidfBaseline, combined_score


def fit_tfidf_part(
    train_texts: Iterable[str],
    train_labels: Iterable[int],
    val_texts: Iterable[str],
    *,
    min_df: int = 1,
    max_features: int | None = None,
) -> tuple[TfidfBaseline, np.ndarray]:
    """The TF-IDF model on the transformer's training rows, and its P(fake) on the validation rows.

    ``min_df`` and ``max_features`` prune it (``model.tfidf_min_df`` / ``model.tfidf_max_features``).
    """
    model = TfidfBaseline(min_df=min_df, max_features=max_features)
    model.fit(list(train_texts), np.asarray(list(train_labels)))
    return model, model.predict_proba(list(val_texts))


def combine_predictions(predictions: pd.DataFrame, tfidf: np.ndarray) -> pd.DataFrame:
    """Validation predictions with ``fake_score`` (and its uncalibrated twin) = the combination.

    The transformer's own scores stay as ``transformer_score`` / ``transformer_score_uncalibrated``.
    """
    out = predictions.copy()
    out["transformer_score"] = predictions["fake_score"]
    out["transformer_score_uncalibrated"] = predictions["fake_score_uncalibrated"]
    out["tfidf_score"] = tfidf
    out["fake_score"] = combined_score(predictions["fake_score"], tfidf)
    out["fake_score_uncalibrated"] = combined_score(predictions["fake_score_uncalibrated"], tfidf)
    return out


def combined_metrics(labels: np.ndarray, combined: pd.DataFrame) -> dict[str, float]:
    """Accuracy and average precision of the transformer, TF-IDF and their mean on the validation rows."""
    from fakereview_nlp.metrics import average_precision, threshold_metrics

    out: dict[str, float] = {}
    for name, column in [
        ("transformer", "transformer_score"),
        ("tfidf", "tfidf_score"),
        ("combined", "fake_score"),
    ]:
        scores = combined[column].to_numpy()
        out[f"{name}_accuracy"] = threshold_metrics(labels, scores).accuracy
        out[f"{name}_average_precision"] = float(average_precision(labels, scores))
    return out
