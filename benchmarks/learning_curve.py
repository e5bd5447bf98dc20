"""Learning curve: test accuracy and AP against the share of training reviews, transformer and TF-IDF.

    python benchmarks/learning_curve.py configs/minilm_opspam_cpu.yaml --folds 5 \\
        --fractions 0.25,0.5,0.75,1 --runs-dir runs/opspam_cv256 --out reports/opspam_learning_curve

Answers "would more data help, or is the model the limit?". For each fraction, every chosen fold's
transformer trains on a seeded, class-stratified share of that fold's training rows
(``data.train_fraction``) and the TF-IDF baseline on exactly the same rows; both are scored on the
whole held-out fold. The TF-IDF curve is also measured on every fold (``--tfidf-folds``), since it
costs seconds. Fraction 1 reuses the CV's own fold model when ``--runs-dir`` is the CV's runs
directory (same resolved config); other fractions go to ``fold<k>-frac<f>`` beside it.
Extra ``--section.key=value`` arguments override the config, as in ``python -m training.cv``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# training/ is not installed with the package: run from a checkout, like python -m training.cv.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakereview_nlp.data.reviews import stratified_subsample  # noqa: E402
from fakereview_nlp.files import atomic_write_text  # noqa: E402
from fakereview_nlp.metrics import average_precision  # noqa: E402
from fakereview_nlp.model.baseline import tfidf_scores  # noqa: E402
from training.config import TrainConfig, load_config  # noqa: E402
from training.cv import _fold_rows, assign_folds, fold_fingerprint, fold_overrides, train_fold  # noqa: E402

logger = logging.getLogger("learning_curve")


def fold_rows(
    frame: pd.DataFrame, fold: str, cfg: TrainConfig, fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fold ``fold``'s training rows at ``fraction`` (the rows its transformer sees, same order) and
    its whole test fold."""
    train, test = _fold_rows(frame, fold, cfg)
    rows = stratified_subsample(train["label"].tolist(), fraction, seed=cfg.training.seed)
    return train.iloc[rows], test


def scores_row(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": float(np.mean((scores >= 0.5) == (labels == 1))),
        "average_precision": average_precision(labels, scores),
    }


def member_overrides(
    base: TrainConfig, fold: str, fraction: float, runs_dir: Path, data_file: Path | None
) -> list[str]:
    overrides = fold_overrides(base, fold, runs_dir, data_file)
    if fraction < 1.0:
        overrides += [
            f"--data.train_fraction={fraction}",
            f"--output.dir={runs_dir / f'fold{fold}-frac{fraction:g}'}",
        ]
    return overrides


def learning_curve(
    config_path: str,
    overrides: list[str],
    *,
    fractions: list[float],
    folds: list[str] | None,
    tfidf_folds: list[str] | None,
    n_folds: int,
    runs_dir: Path,
    transformer: bool = True,
) -> dict[str, Any]:
    """One row per (fraction, model, fold) with train size, accuracy at 0.5 and AP on the test fold."""
    base = load_config(config_path, overrides)
    frame, data_file = assign_folds(base, n_folds, runs_dir)
    present = sorted(set(frame["split"]), key=lambda s: (len(s), s))
    chosen = folds or [present[-1]]
    every = tfidf_folds or present
    unknown = sorted((set(chosen) | set(every)) - set(present))
    if unknown:
        raise ValueError(f"fold(s) {unknown} are not in the data; it has folds {present}")
    rows: list[dict[str, Any]] = []
    for fraction in fractions:
        for fold in sorted(set(chosen) | set(every), key=lambda s: (len(s), s)):
            member = overrides + member_overrides(base, fold, fraction, runs_dir, data_file)
            cfg = load_config(config_path, member)
            train, test = fold_rows(frame, fold, cfg, fraction)
            labels = test["label"].to_numpy()
            if fold in every:
                tfidf = tfidf_scores(train["text"].tolist(), train["label"].to_numpy(), test["text"].tolist())
                rows.append(
                    {
                        "fraction": fraction,
                        "model": "tfidf",
                        "fold": fold,
                        "train": len(train),
                        **scores_row(labels, tfidf),
                    }
                )
            if transformer and fold in chosen:
                predictions, seconds, reused = train_fold(config_path, member, fold_fingerprint(train, test))
                by_id = predictions.set_index("id")["fake_score"]
                scores = by_id.loc[test["id"]].to_numpy()
                rows.append(
                    {
                        "fraction": fraction,
                        "model": "transformer",
                        "fold": fold,
                        "train": len(train),
                        **scores_row(labels, scores),
                        "train_seconds": seconds,
                        "reused": reused,
                    }
                )
                logger.info("fraction %g fold %s: %s", fraction, fold, rows[-1])
    return {"config": config_path, "overrides": overrides, "transformer_folds": chosen, "rows": rows}


def to_markdown(result: dict[str, Any]) -> str:
    frame = pd.DataFrame(result["rows"])
    chosen = set(result["transformer_folds"])
    lines = [
        f"# Learning curve: `{result['config']}` {' '.join(result['overrides'])}".rstrip(),
        "",
        "Accuracy (score ≥ 0.5) and average precision on the whole held-out fold; training rows are a "
        "seeded, class-stratified share of the fold's training rows, the same rows for both models.",
        "",
        f"| fraction | train reviews | transformer acc (fold {', '.join(sorted(chosen))}) | TF-IDF acc (same) "
        "| transformer AP | TF-IDF AP | TF-IDF acc, all folds (mean ± sd) |",
        "|---|---|---|---|---|---|---|",
    ]
    for fraction, part in frame.groupby("fraction", sort=True):
        same = part[part["fold"].isin(chosen)]
        t = same[same["model"] == "transformer"]
        b = same[same["model"] == "tfidf"]
        every = part[part["model"] == "tfidf"]["accuracy"].tolist()
        sd = statistics.stdev(every) if len(every) > 1 else 0.0

        def cell(values: pd.Series) -> str:
            return f"{values.mean():.3f}" if len(values) else "–"

        lines.append(
            f"| {fraction:g} | {int(same['train'].mean()) if len(same) else int(part['train'].mean())} "
            f"| {cell(t['accuracy'])} | {cell(b['accuracy'])} | {cell(t['average_precision'])} "
            f"| {cell(b['average_precision'])} | {statistics.mean(every):.3f} ± {sd:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--fractions", default="0.25,0.5,0.75,1", help="comma-separated shares in (0, 1]")
    parser.add_argument("--folds", help="folds whose transformer trains (default: the last fold)")
    parser.add_argument("--tfidf-folds", help="folds for the TF-IDF curve (default: all)")
    parser.add_argument(
        "--n-folds", type=int, default=5, help="folds to make when the data has no split column"
    )
    parser.add_argument(
        "--runs-dir", type=Path, required=True, help="the CV's runs directory, to reuse its models"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for learning_curve.json and .md")
    parser.add_argument("--models", choices=["transformer,tfidf", "tfidf"], default="transformer,tfidf")
    known, overrides = parser.parse_known_args(argv)
    bad = [o for o in overrides if not (o.startswith("--") and "=" in o and "." in o.split("=")[0])]
    if bad:
        parser.error(f"unrecognised arguments {bad}; config overrides look like --section.key=value")
    try:
        fractions = [float(f) for f in known.fractions.split(",") if f.strip()]
    except ValueError:
        parser.error(f"--fractions={known.fractions!r} must be comma-separated numbers, e.g. 0.25,0.5,1")
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO)
    result = learning_curve(
        known.config,
        overrides,
        fractions=fractions,
        folds=known.folds.split(",") if known.folds else None,
        tfidf_folds=known.tfidf_folds.split(",") if known.tfidf_folds else None,
        n_folds=known.n_folds,
        runs_dir=known.runs_dir,
        transformer=known.models != "tfidf",
    )
    known.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(known.out / "learning_curve.json", json.dumps(result, indent=2) + "\n")
    markdown = to_markdown(result)
    atomic_write_text(known.out / "learning_curve.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
