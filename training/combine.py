"""The transformer + TF-IDF combination, saved beside a model (``model.combine_tfidf: true``).

On op_spam the 5-fold CV shows the mean of the transformer's and a TF-IDF model's P(fake)
beating either alone (``reports/opspam_cv``), so a model directory can carry both: the TF-IDF
model is fitted on exactly the training rows the transformer saw and saved as
``tfidf_model.json``; :class:`fakereview_nlp.inference.FakeReviewClassifier` finds it and scores
``combined_score(transformer P(fake), TF-IDF P(fake))``. The operating threshold is chosen on the
combined validation scores, and ``val_predictions.csv`` keeps both parts.

A finished run gets the combination without retraining the transformer (seconds of CPU)::

    python -m training.combine RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from fakereview_nlp.baseline import TFIDF_FILE, TfidfBaseline, combined_score
from training.config import TrainConfig, config_from_dict
from training.output import COMPLETE_MARKER, publish, staging_dir

logger = logging.getLogger("training.combine")


def fit_tfidf_part(
    train_texts: Iterable[str],
    train_labels: Iterable[int],
    val_texts: Iterable[str],
    *,
    min_df: int = 1,
    max_features: int | None = None,
) -> tuple[TfidfBaseline, np.ndarray]:
    """The TF-IDF model on the transformer's training rows, and its P(fake) on the validation rows."""
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


def attach_tfidf(run_dir: str | Path) -> dict[str, Any]:
    """Add the TF-IDF part to the finished, transformer-only run in ``run_dir`` (atomically).

    Reads the run's saved config to rebuild its exact train/validation split, fits TF-IDF on the
    training rows, rescales nothing in the transformer, re-chooses the operating threshold on the
    combined validation scores, and marks the saved config ``model.combine_tfidf: true``.
    Returns the operating points of the combined model.
    """
    from fakereview_nlp.operating_points import compute_operating_points, save_operating_points
    from training.train import load_splits

    final = Path(run_dir)
    marker = final / COMPLETE_MARKER
    if not marker.is_file():
        raise FileNotFoundError(
            f"{final} has no {COMPLETE_MARKER}, so it is not a finished training run; "
            "train it first with python -m training.train CONFIG"
        )
    if (final / TFIDF_FILE).exists():
        raise ValueError(f"{final} already holds {TFIDF_FILE}; the run is combined already")
    cfg: TrainConfig = config_from_dict(yaml.safe_load(marker.read_text()))
    train, val = load_splits(cfg)
    predictions = pd.read_csv(final / "val_predictions.csv", dtype={"id": str})
    texts = pd.Series(list(val["text"]), index=[str(i) for i in val["id"]])
    if set(texts.index) != set(predictions["id"]):
        raise ValueError(
            f"the validation rows rebuilt from {marker} are not the ones in {final / 'val_predictions.csv'} "
            f"({len(texts)} vs {len(predictions)} ids); was the data file at {cfg.data.path} changed?"
        )
    model, tfidf = fit_tfidf_part(
        train["text"],
        train["label"],
        texts.loc[predictions["id"]].tolist(),
        min_df=cfg.model.tfidf_min_df,
        max_features=cfg.model.tfidf_max_features,
    )
    combined = combine_predictions(predictions, tfidf)
    labels = combined["label"].to_numpy()
    points = compute_operating_points(
        labels,
        combined["fake_score"].to_numpy(),
        flag_rates=cfg.evaluation.flag_rates,
        prevalence=cfg.evaluation.prevalence,
        operating_flag_rate=cfg.evaluation.operating_flag_rate,
    )
    staging = staging_dir(final)
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(final, staging)
    model.save(staging)
    save_operating_points(staging, points)
    combined.to_csv(staging / "val_predictions.csv", index=False)
    metrics_path = staging / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics["combined_validation"] = combined_metrics(labels, combined)
    metrics_path.write_text(json.dumps(metrics, indent=2))
    cfg.model.combine_tfidf = True
    (staging / COMPLETE_MARKER).write_text(cfg.to_yaml())
    publish(staging, final, overwrite=True)
    logger.info("added %s to %s: %s", TFIDF_FILE, final, metrics["combined_validation"])
    return points


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.combine", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished training output directory")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO)
    attach_tfidf(args.run_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
