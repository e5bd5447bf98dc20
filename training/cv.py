"""k-fold cross-validation: one transformer per fold and the TF-IDF baseline on the same folds.

Usage::

    python -m training.cv CONFIG [--folds 1,2,3] [--n-folds 5] [--runs-dir DIR] [--report-dir DIR]
                          [--seeds 42,43,44] [--combine] [--section.key=value ...]

Folds come from the config's split column (op_spam's hotel-grouped ``fold``) or, when it has
none, from :func:`fakereview_nlp.data.reviews.grouped_folds` (whole groups and duplicate texts kept
together). Each fold trains with ``training.train.run`` into ``RUNS_DIR/fold<k>`` with
``select_best`` and early stopping off (the fold's validation rows are its test rows); a fold whose
directory already holds the same resolved config *and* was trained on the same rows (a fingerprint
of the fold's training and test ids, labels and texts, in ``fold<k>/cv_fold.json``) is reused, so a
killed CV run continues where it stopped, and a data file edited under the same ids retrains. With ``--seeds``, each fold trains one model per seed (``fold<k>`` for the first,
``fold<k>-seed<s>`` for the others) and the transformer's score is the members' mean P(fake):
a seed ensemble, reported beside its first member alone so the gain is measured, not assumed.
Pooled out-of-fold scores of both models (and, with ``--combine``, their mean) go through the
evaluation report, paired per fold.

The transformer's out-of-fold score is its *uncalibrated* P(fake): training fits each fold's
temperature on that fold's validation rows, which here are the test rows, so the calibrated score
would carry the test labels into ECE, Brier and the combination.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from fakereview_nlp.cli.handler import run_handler
from fakereview_nlp.data.reviews import grouped_folds, load_reviews, split_by_column
from fakereview_nlp.evaluation.report import build_report, fingerprint_file, fingerprint_rows, write_report
from fakereview_nlp.files import atomic_path, atomic_write_text
from fakereview_nlp.model.baseline import combined_score, tfidf_scores
from training.config import TrainConfig, config_from_dict, load_config
from training.output import COMPLETE_MARKER

logger = logging.getLogger("training.cv")

#: Written into each fold's model folder: the fingerprint of the rows it was trained and tested on.
FOLD_INFO = "cv_fold.json"


def member_dir(runs_dir: Path, fold: str, seed: int | None, first: bool) -> Path:
    """Where fold ``fold``'s model for ``seed`` goes; the first member keeps the plain name."""
    return runs_dir / (f"fold{fold}" if first or seed is None else f"fold{fold}-seed{seed}")


def fold_overrides(
    cfg: TrainConfig,
    fold: str,
    runs_dir: Path,
    data_file: Path | None,
    seed: int | None = None,
    first: bool = True,
) -> list[str]:
    """The overrides that turn the base config into fold ``fold``'s config (for one seed)."""
    out = member_dir(runs_dir, fold, seed, first)
    # The fold's validation rows are its test rows: picking a checkpoint or stopping early on
    # them would make the out-of-fold scores optimistic, so every fold trains its full schedule.
    overrides = [
        f'--data.eval_splits=["{fold}"]',
        f"--output.dir={out}",
        "--training.select_best=false",
        "--training.early_stopping_patience=0",
        # The fold's transformer alone: the CV adds TF-IDF itself (--combine), on the same folds,
        # and a served combination (model.combine_tfidf) would count TF-IDF twice.
        "--model.combine_tfidf=false",
    ]
    if seed is not None:
        overrides.append(f"--training.seed={seed}")
    if data_file is not None:
        keep = json.dumps(list(cfg.data.keep_columns))
        overrides += [
            f"--data.path={data_file}",
            "--data.file_format=parquet",
            "--data.text_column=text",
            "--data.label_column=label",
            "--data.label_map=null",
            "--data.group_column=group",
            "--data.split_column=split",
            "--data.id_column=id",
            f"--data.keep_columns={keep}",
            # the file already holds the prefixed texts
            "--data.prefix_columns=[]",
        ]
    return overrides


def assign_folds(cfg: TrainConfig, n_folds: int, runs_dir: Path) -> tuple[pd.DataFrame, Path | None]:
    """The canonical rows with a ``split`` column holding each row's fold.

    Returns the frame and, when folds had to be made, the Parquet file the fold configs read.
    """
    d = cfg.data
    ds = load_reviews(d.path, **d.load_kwargs())
    frame = ds.to_pandas()
    if d.split_column:
        return frame, None
    frame["split"] = grouped_folds(
        ds, n_folds=n_folds, seed=cfg.training.seed, prefix_chars=d.near_duplicate_prefix_chars
    )
    runs_dir.mkdir(parents=True, exist_ok=True)
    data_file = runs_dir / "cv_data.parquet"
    with atomic_path(data_file) as tmp:
        frame.to_parquet(tmp, index=False)
    return frame, data_file


def fold_fingerprint(train: pd.DataFrame, test: pd.DataFrame) -> str:
    """sha256 over the fold's training and test rows (id, label, text), each side in id order.

    The config alone does not say what a fold model saw: the data file can change under the
    same path and ids.
    """
    digest = hashlib.sha256()
    for name, rows in (("train", train), ("test", test)):
        rows = rows.sort_values("id", kind="stable")
        ids, texts, labels = rows["id"].astype(str).tolist(), rows["text"].tolist(), rows["label"].tolist()
        digest.update(f"{name}:{fingerprint_rows(ids, texts, labels)}\n".encode())
    return digest.hexdigest()


def train_fold(
    config_path: str, overrides: list[str], fingerprint: str | None = None
) -> tuple[pd.DataFrame, float, bool]:
    """Train one fold, or reuse a finished run of the identical resolved config and data.

    ``fingerprint`` (:func:`fold_fingerprint`) is compared with the one saved beside the fold's
    model; a run without one, or with another, trains again.
    """
    from training.train import run

    cfg = load_config(config_path, overrides)
    # A fold always replaces an unfinished or different run in its own folder.
    cfg.output.overwrite = True
    out = Path(cfg.output.dir)
    marker = out / COMPLETE_MARKER
    # Compared as configs, not text: a run saved before a key was added (with its default) matches.
    same_config = marker.is_file() and config_from_dict(yaml.safe_load(marker.read_text())) == cfg
    same_data = fingerprint is None or _saved_fingerprint(out) == fingerprint
    if same_config and not same_data:
        logger.info("retraining %s: same config, but its training or test rows changed", out)
    if same_config and same_data:
        logger.info("reusing %s (same resolved config and data)", out)
        metrics = json.loads((out / "metrics.json").read_text())
        return (
            out_of_fold_scores(pd.read_csv(out / "val_predictions.csv", dtype={"id": str})),
            metrics["train_wall_seconds"],
            True,
        )
    result = run(cfg)
    if fingerprint is not None:
        atomic_write_text(out / FOLD_INFO, json.dumps({"data_fingerprint": fingerprint}, indent=2) + "\n")
    return out_of_fold_scores(result.val_predictions), result.wall_seconds, False


def _saved_fingerprint(folder: Path) -> str | None:
    try:
        return json.loads((folder / FOLD_INFO).read_text())["data_fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def out_of_fold_scores(predictions: pd.DataFrame) -> pd.DataFrame:
    """A fold's predictions with ``fake_score`` = the uncalibrated P(fake).

    The saved ``fake_score`` is temperature-scaled with a temperature fitted on these very rows
    (the fold's test rows); the uncalibrated score involves no test labels.
    """
    if "fake_score_uncalibrated" not in predictions.columns:
        raise ValueError(
            "val_predictions.csv has no fake_score_uncalibrated column (columns: "
            f"{list(predictions.columns)}); delete the fold directory so the fold retrains"
        )
    return predictions.assign(fake_score=predictions["fake_score_uncalibrated"])


@dataclass(frozen=True)
class CvPlan:
    """What every fold of one CV run shares: the base config, where fold models go, which models run."""

    config_path: str
    overrides: list[str]
    base: TrainConfig
    runs_dir: Path
    #: the Parquet file holding the made folds (None when the data has its own split column)
    data_file: Path | None
    #: one training seed per ensemble member; ``[None]``: the config's seed alone
    members: list[int | None]
    transformer: bool

    @property
    def ensemble(self) -> bool:
        return len(self.members) > 1

    def fold_config(self, fold: str, seed: int | None = None, first: bool = True) -> list[str]:
        """The full override list of fold ``fold``'s config (for one member)."""
        return self.overrides + fold_overrides(
            self.base, fold, self.runs_dir, self.data_file, seed=seed, first=first
        )


def run_cv(
    config_path: str,
    overrides: list[str],
    *,
    folds: list[str] | None,
    n_folds: int,
    runs_dir: Path,
    report_dir: Path,
    combine: bool,
    n_boot: int,
    transformer: bool = True,
    seeds: list[int] | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    base = load_config(config_path, overrides)
    if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)):
        raise ValueError(f"seeds={seeds} must be distinct and non-empty, e.g. [42, 43, 44]")
    if transformer:
        _warn_about_fold_settings(base)
    frame, data_file = assign_folds(base, n_folds, runs_dir)
    # One seed (the config's) unless asked: the plain single-model CV.
    plan = CvPlan(
        config_path, overrides, base, runs_dir, data_file, list(seeds) if seeds else [None], transformer
    )
    chosen = choose_folds(frame["split"], folds)
    pooled, fold_info = [], []
    for fold in chosen:
        logger.info("fold %s of %s", fold, chosen)
        predictions, info = score_fold(plan, frame, fold)
        pooled.append(predictions)
        fold_info.append(info)
    oof = pd.concat(pooled, ignore_index=True).rename(columns={"fake_score": "transformer_score"})
    combine = combine and transformer
    if combine:
        oof["combined_score"] = combined_score(oof["transformer_score"], oof["tfidf_score"])
    scores = report_scores(oof, transformer=transformer, combine=combine, ensemble=plan.ensemble)
    report = _cv_report(plan, oof, frame, scores, fold_info, n_boot)
    report_dir.mkdir(parents=True, exist_ok=True)
    written = write_report(report, report_dir)
    columns = oof_columns(oof, transformer=transformer, combine=combine, ensemble=plan.ensemble)
    with atomic_path(report_dir / "oof_predictions.csv") as tmp:
        oof[columns].to_csv(tmp, index=False)
    summary = {
        "folds": fold_info,
        "wall_seconds": time.perf_counter() - started,
        "files": {k: str(v) for k, v in written.items()},
    }
    atomic_write_text(report_dir / "cv_runs.json", json.dumps(summary, indent=2) + "\n")
    logger.info("wrote %s", report_dir)
    return report


def _warn_about_fold_settings(base: TrainConfig) -> None:
    """Say which of the config's settings the fold models do not follow, and why."""
    if base.training.select_best or base.training.early_stopping_patience:
        logger.warning(
            "training.select_best=%s and training.early_stopping_patience=%d are turned off in CV: "
            "a fold's validation rows are its test rows",
            base.training.select_best,
            base.training.early_stopping_patience,
        )
    if base.model.combine_tfidf:
        logger.info(
            "model.combine_tfidf is turned off in the fold models: the CV scores the transformer alone "
            "and adds TF-IDF itself (--combine)"
        )


def choose_folds(splits: pd.Series, folds: list[str] | None) -> list[str]:
    """The folds to run: ``folds`` (each checked to be in the data) or every fold present, in order."""
    present = sorted(set(splits), key=lambda s: (len(s), s))
    chosen = folds or present
    missing = sorted(set(chosen) - set(present))
    if missing:
        raise ValueError(f"fold(s) {missing} are not in the data; it has folds {present}")
    return chosen


def score_fold(plan: CvPlan, frame: pd.DataFrame, fold: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fold ``fold``'s out-of-fold predictions (transformer and TF-IDF) and its row of ``cv_runs.json``."""
    fold_cfg = load_config(plan.config_path, plan.fold_config(fold))
    train, test = _fold_rows(frame, fold, fold_cfg)
    members: list[dict[str, Any]] = []
    if plan.transformer:
        predictions, members = _train_members(plan, fold, fold_fingerprint(train, test))
        seconds, reused = sum(m["train_seconds"] for m in members), all(m["reused"] for m in members)
    else:
        keep = ["id", "label", "group", *[c for c in plan.base.data.keep_columns if c in test.columns]]
        predictions, seconds, reused = test[keep].copy(), 0.0, False
    tfidf = tfidf_scores(train["text"].tolist(), train["label"].to_numpy(), test["text"].tolist())
    tfidf_by_id = pd.Series(tfidf, index=test["id"].to_numpy())
    predictions = predictions.assign(fold=fold, tfidf_score=tfidf_by_id.loc[predictions["id"]].to_numpy())
    info: dict[str, Any] = {
        "fold": fold,
        "train": len(train),
        "test": len(test),
        "train_seconds": seconds,
        "reused": reused,
    }
    if plan.ensemble:
        info["members"] = members
    return predictions, info


def _train_members(plan: CvPlan, fold: str, fingerprint: str) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Train (or reuse) one model per seed on the fold; their mean P(fake) and a line per member."""
    runs, members = [], []
    for i, seed in enumerate(plan.members):
        runs.append(
            train_fold(plan.config_path, plan.fold_config(fold, seed=seed, first=i == 0), fingerprint)
        )
        members.append(
            {
                "seed": plan.base.training.seed if seed is None else seed,
                "dir": str(member_dir(plan.runs_dir, fold, seed, i == 0)),
                "train_seconds": runs[-1][1],
                "reused": runs[-1][2],
            }
        )
    return _mean_of_members(runs, [m["seed"] for m in members]), members


def report_scores(
    oof: pd.DataFrame, *, transformer: bool, combine: bool, ensemble: bool
) -> dict[str, np.ndarray]:
    """The pooled scores the report compares, by name.

    With a seed ensemble its first member alone is added, so the report measures what the
    ensemble adds over one model on the same folds.
    """
    scores = {"transformer": oof["transformer_score"].to_numpy()} if transformer else {}
    scores["tfidf"] = oof["tfidf_score"].to_numpy()
    if combine:
        scores["transformer+tfidf"] = oof["combined_score"].to_numpy()
    members = _member_columns(oof, ensemble)
    if members:
        scores[members[0].removesuffix("_score")] = oof[members[0]].to_numpy()
    return scores


def oof_columns(oof: pd.DataFrame, *, transformer: bool, combine: bool, ensemble: bool) -> list[str]:
    """The columns of ``oof_predictions.csv``: ids, folds, labels, then every score (each member's too)."""
    columns = ["id", "fold", "label", *(["transformer_score"] if transformer else []), "tfidf_score"]
    if combine:
        columns.append("combined_score")
    return columns + _member_columns(oof, ensemble)


def _member_columns(oof: pd.DataFrame, ensemble: bool) -> list[str]:
    return [c for c in oof.columns if c.startswith("transformer_seed")] if ensemble else []


def _cv_report(
    plan: CvPlan,
    oof: pd.DataFrame,
    frame: pd.DataFrame,
    scores: dict[str, np.ndarray],
    fold_info: list[dict[str, Any]],
    n_boot: int,
) -> dict[str, Any]:
    """The evaluation report of the pooled out-of-fold scores, paired per fold, with the run's provenance."""
    base = plan.base
    texts = frame.set_index("id").loc[oof["id"], "text"]
    slices = {c: oof[c].astype(str).tolist() for c in base.data.keep_columns if c in oof.columns}
    return build_report(
        oof["label"].to_numpy(),
        scores,
        groups=oof["group"].astype(str).tolist() if base.data.group_column else None,
        slices=slices or None,
        lengths=texts.str.split().str.len().to_numpy(),
        prevalences=[base.evaluation.prevalence],
        flag_rates=base.evaluation.flag_rates,
        folds=oof["fold"].tolist(),
        baseline="tfidf" if plan.transformer else None,
        n_boot=n_boot,
        seed=base.training.seed,
        config={
            "command": "python -m training.cv",
            "config": plan.config_path,
            "overrides": plan.overrides,
            "seeds": [m if m is not None else base.training.seed for m in plan.members],
            "resolved": base.to_dict(),
            "folds": fold_info,
        },
        data={"path": base.data.path, "sha256": fingerprint_file(base.data.path), "rows": len(frame)},
    )


def _mean_of_members(runs: list[tuple[pd.DataFrame, float, bool]], seeds: list[int]) -> pd.DataFrame:
    """One fold's predictions: the first member's rows with P(fake) averaged over all members."""
    first = runs[0][0]
    if len(runs) == 1:
        return first
    out = first.copy()
    for (frame, _, _), seed in zip(runs, seeds, strict=True):
        by_id = frame.set_index("id")["fake_score"]
        if set(by_id.index) != set(first["id"]):
            raise ValueError(
                f"the seed-{seed} model scored different reviews than the seed-{seeds[0]} model on this "
                "fold; delete its fold directory so it retrains on the same split"
            )
        out[f"transformer_seed{seed}_score"] = by_id.loc[first["id"]].to_numpy()
    out["fake_score"] = out[[f"transformer_seed{s}_score" for s in seeds]].mean(axis=1)
    return out


def _fold_rows(frame: pd.DataFrame, fold: str, cfg: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same train/test rows as the transformer's fold (train_splits honoured)."""
    import datasets

    ds = datasets.Dataset.from_pandas(frame, preserve_index=False)
    train, test = split_by_column(ds, eval_splits=[fold], train_splits=cfg.data.train_splits)
    return train.to_pandas(), test.to_pandas()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m training.cv", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="training config (YAML); its data section names the corpus")
    parser.add_argument("--folds", help="comma-separated folds to run (default: all)")
    parser.add_argument(
        "--n-folds", type=int, default=5, help="folds to make when the data has no split column"
    )
    parser.add_argument("--runs-dir", type=Path, help="where fold models go (default runs/<config>_cv)")
    parser.add_argument("--report-dir", type=Path, help="where the report goes (default reports/<config>_cv)")
    parser.add_argument(
        "--combine", action="store_true", help="also report the mean of transformer and TF-IDF scores"
    )
    parser.add_argument(
        "--models",
        choices=["transformer,tfidf", "tfidf"],
        default="transformer,tfidf",
        help="'tfidf' skips the transformer (a quick baseline-only CV report)",
    )
    parser.add_argument(
        "--seeds",
        help="comma-separated training seeds: one model per seed and fold, scored as their mean "
        "(a seed ensemble; default: the config's seed alone)",
    )
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap resamples for confidence intervals"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the traceback of a user error too"
    )
    known, overrides = parser.parse_known_args(args)
    bad = [o for o in overrides if not (o.startswith("--") and "=" in o and "." in o.split("=")[0])]
    if bad:
        parser.error(f"unrecognised arguments {bad}; config overrides look like --section.key=value")
    stem = Path(known.config).stem
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO)
    seeds = _parse_seeds(known.seeds, parser) if known.seeds else None

    def cv(_: argparse.Namespace) -> int:
        run_cv(
            known.config,
            overrides,
            folds=known.folds.split(",") if known.folds else None,
            n_folds=known.n_folds,
            runs_dir=known.runs_dir or Path("runs") / f"{stem}_cv",
            report_dir=known.report_dir or Path("reports") / f"{stem}_cv",
            combine=known.combine,
            n_boot=known.n_boot,
            transformer=known.models != "tfidf",
            seeds=seeds,
        )
        return 0

    return run_handler(cv, known, verbose=known.verbose, prog="cv")


def _parse_seeds(text: str, parser: argparse.ArgumentParser) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds={text!r} must be comma-separated integers, e.g. --seeds 42,43,44")
        raise  # parser.error exits; this keeps type checkers content


if __name__ == "__main__":
    raise SystemExit(main())
