"""The transformer + TF-IDF combination, saved beside a model (``model.combine_tfidf: true``).

On op_spam the 5-fold CV shows the mean of the transformer's and a TF-IDF model's P(fake)
beating either alone (``reports/opspam_cv``), so a model directory can carry both: the TF-IDF
model is fitted on exactly the training rows the transformer saw and saved as
``tfidf_model.json``; :class:`fakereview_nlp.inference.FakeReviewClassifier` finds it and scores
``combined_score(transformer P(fake), TF-IDF P(fake))``. The operating threshold is chosen on the
combined validation scores, and ``val_predictions.csv`` keeps both parts.

A finished run gets the combination without retraining the transformer (seconds of CPU)::

    python -m training.combine RUN_DIR

and loses it again, serving the transformer alone (``--transformer-only``, optionally with
``--calibrate-shift``): the run then is what training with ``model.combine_tfidf: false`` (and
``evaluation.calibrate_shift: true``) writes, with no retraining, since neither key changes the
transformer's training.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fakereview_nlp.cli.handler import run_handler
from fakereview_nlp.files import atomic_path, atomic_write_text
from fakereview_nlp.model.baseline import TFIDF_FILE
from training.config import TrainConfig, config_from_dict
from training.output import COMPLETE_MARKER, match_umask, publish, staging_dir
from training.tfidf_part import combine_predictions, combined_metrics, fit_tfidf_part
from training.train import load_splits

logger = logging.getLogger("training.combine")


def attach_tfidf(run_dir: str | Path) -> dict[str, Any]:
    """Add the TF-IDF part to the finished, transformer-only run in ``run_dir`` (atomically).

    Reads the run's saved config to rebuild its exact train/validation split, fits TF-IDF on the
    training rows, rescales nothing in the transformer, re-chooses the operating threshold on the
    combined validation scores, and marks the saved config ``model.combine_tfidf: true``.
    Returns the operating points of the combined model.
    """
    from fakereview_nlp.model.operating_points import compute_operating_points

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
    extra = {"combined_validation": combined_metrics(labels, combined)}
    cfg.model.combine_tfidf = True
    _republish(final, cfg, points, combined, extra, model.save)
    logger.info("added %s to %s: %s", TFIDF_FILE, final, extra["combined_validation"])
    return points


def detach_tfidf(run_dir: str | Path, *, calibrate_shift: bool = False) -> dict[str, Any]:
    """Serve the transformer of the finished, combined run in ``run_dir`` alone (atomically).

    Removes ``tfidf_model.json``, refits the calibration on the transformer's validation logits
    (with ``calibrate_shift`` also the fake-logit shift, folded into the classifier's bias), re-chooses
    the operating threshold on the transformer's scores and marks the saved config
    ``model.combine_tfidf: false``. Returns the operating points of the transformer alone.
    """
    import numpy as np

    from fakereview_nlp.metrics import expected_calibration_error
    from fakereview_nlp.model.calibration import apply_temperature, fit_calibration, save_calibration
    from fakereview_nlp.model.operating_points import compute_operating_points
    from training.output import shift_fake_bias

    final = Path(run_dir)
    marker = final / COMPLETE_MARKER
    if not marker.is_file():
        raise FileNotFoundError(f"{final} has no {COMPLETE_MARKER}, so it is not a finished training run")
    if not (final / TFIDF_FILE).exists():
        raise ValueError(f"{final} holds no {TFIDF_FILE}; it serves the transformer alone already")
    cfg: TrainConfig = config_from_dict(yaml.safe_load(marker.read_text()))
    predictions = pd.read_csv(final / "val_predictions.csv", dtype={"id": str})
    labels = predictions["label"].to_numpy()
    logits = predictions[["logit_genuine", "logit_fake"]].to_numpy(dtype=np.float64)
    raw = apply_temperature(logits, 1.0)
    shift, temperature = fit_calibration(logits, labels, shift=calibrate_shift)
    logits = logits + np.array([0.0, shift])
    scores = apply_temperature(logits, temperature)
    points = compute_operating_points(
        labels,
        scores,
        flag_rates=cfg.evaluation.flag_rates,
        prevalence=cfg.evaluation.prevalence,
        operating_flag_rate=cfg.evaluation.operating_flag_rate,
    )
    out = predictions.drop(columns=[c for c in predictions.columns if c.startswith(("transformer_", "tfidf_"))])
    out["logit_fake"] = logits[:, 1]
    out["fake_score"] = scores

    def serve_transformer(staging: Path) -> None:
        (staging / TFIDF_FILE).unlink()
        if shift:
            shift_fake_bias(staging, shift)
        save_calibration(
            staging,
            temperature,
            ece_before=expected_calibration_error(labels, raw),
            ece_after=expected_calibration_error(labels, scores),
        )

    cfg.model.combine_tfidf = False
    cfg.evaluation.calibrate_shift = calibrate_shift
    extra = {"temperature": temperature, "fake_logit_shift": shift, "served": "transformer"}
    _republish(final, cfg, points, out, extra, serve_transformer)
    logger.info("%s serves the transformer alone (shift %.4f, temperature %.4f)", final, shift, temperature)
    return points


def _republish(
    final: Path,
    cfg: TrainConfig,
    points: dict[str, Any],
    predictions: pd.DataFrame,
    metrics_update: dict[str, Any],
    change: Callable[[Path], None],
) -> None:
    """Copy the run beside itself, apply ``change`` and the new operating points, predictions, metrics
    and resolved config to the copy, and rename it over the run: a crash leaves the old run whole."""
    from fakereview_nlp.model.operating_points import save_operating_points

    staging = staging_dir(final)
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(final, staging)
    change(staging)
    save_operating_points(staging, points)
    with atomic_path(staging / "val_predictions.csv") as tmp:
        predictions.to_csv(tmp, index=False)
    metrics_path = staging / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics.update(metrics_update)
    atomic_write_text(metrics_path, json.dumps(metrics, indent=2))
    atomic_write_text(staging / COMPLETE_MARKER, cfg.to_yaml())
    match_umask(staging)
    publish(staging, final, overwrite=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.combine", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished training output directory")
    parser.add_argument(
        "--transformer-only", action="store_true", help="remove the TF-IDF part instead of adding it"
    )
    parser.add_argument(
        "--calibrate-shift", action="store_true",
        help="with --transformer-only: also fit the fake-logit shift (evaluation.calibrate_shift)",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks for errors")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO)
    # user errors: one line `combine: error: ...`, exit 2 (-v: the traceback too)
    return run_handler(_run, args, verbose=args.verbose, prog="combine")


def _run(args: argparse.Namespace) -> int:
    if args.transformer_only:
        detach_tfidf(args.run_dir, calibrate_shift=args.calibrate_shift)
    else:
        attach_tfidf(args.run_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
