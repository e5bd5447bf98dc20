"""``fakereview evaluate MODEL DATA -o DIR``: read a review file, score it, and write the report.

Reads the file with :func:`fakereview_nlp.data.reviews.load_reviews_with_report` (the rows it drops are counted in the report), scores it with
:class:`fakereview_nlp.inference.FakeReviewClassifier`, optionally trains the TF-IDF baseline
on the rows outside the evaluation split, then calls :func:`fakereview_nlp.evaluation.report.build_report`
and :func:`fakereview_nlp.evaluation.report.write_report`. Registered in :data:`fakereview_nlp.cli.main.SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fakereview_nlp.evaluation.report import (
    DEFAULT_PREVALENCES,
    PLOT_FILES,
    build_report,
    fingerprint_file,
    fingerprint_rows,
    write_report,
)
from fakereview_nlp.files import refuse_overwriting_inputs
from fakereview_nlp.metrics import DEFAULT_FLAG_RATES, check_flag_rates

if TYPE_CHECKING:
    import datasets

    from fakereview_nlp.data.reviews import BadRowReport
    from fakereview_nlp.inference import FakeReviewClassifier

logger = logging.getLogger(__name__)


def parse_label_map(text: str | None) -> dict[str, str] | None:
    """``"truthful=genuine,deceptive=fake"`` → ``{"truthful": "genuine", "deceptive": "fake"}``."""
    if not text:
        return None
    mapping = {}
    for part in text.split(","):
        raw, sep, target = part.partition("=")
        if not sep or not raw.strip() or not target.strip():
            raise ValueError(
                f"--label-map entry {part!r} is not RAW=LABEL; write e.g. truthful=genuine,deceptive=fake"
            )
        mapping[raw.strip()] = target.strip()
    return mapping


def parse_flag_rates(text: str) -> tuple[float, ...]:
    """``"0.005,0.01,5%"`` → ``(0.005, 0.01, 0.05)``."""
    rates = []
    for part in text.split(","):
        part = part.strip()
        try:
            rates.append(float(part[:-1]) / 100 if part.endswith("%") else float(part))
        except ValueError as err:
            raise ValueError(
                f"--flag-rates entry {part!r} is not a number; write e.g. 0.005,0.01,0.05 or 1%"
            ) from err
    return check_flag_rates(rates)


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fakereview evaluate`` on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "evaluate",
        help="precision/recall at fixed flag rates, calibration and plots for a model on a review file",
        description=(
            "Score DATA with the model in MODEL and write report.json, report.md and PNG plots to -o DIR. "
            "With --baseline tfidf a TF-IDF + logistic regression baseline, trained on the rows outside "
            "the evaluation split (or on --train-data), is scored side by side."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="model directory (or Hub id) for FakeReviewClassifier")
    parser.add_argument("data", metavar="DATA", help="review file (CSV/TSV/JSONL/Parquet) or Hub dataset id")
    parser.add_argument(
        "-o", "--output-dir", required=True, help="directory for report.json, report.md and plots"
    )
    parser.add_argument(
        "--text-column", default="text", help="column holding the review text (default: text)"
    )
    parser.add_argument("--label-column", default="label", help="column holding the label (default: label)")
    parser.add_argument(
        "--label-map",
        default=None,
        help="raw label values to genuine/fake, e.g. truthful=genuine,deceptive=fake "
        "(default: genuine/fake and 0/1 are understood)",
    )
    parser.add_argument("--id-column", default=None, help="column of review ids (default: the row number)")
    parser.add_argument(
        "--group-column", default=None, help="hotel/product column; the bootstrap resamples groups"
    )
    parser.add_argument(
        "--slice-column",
        action="append",
        default=[],
        help="report metrics per value of this column (repeatable)",
    )
    parser.add_argument("--split-column", default=None, help="column holding the split or fold (e.g. fold)")
    parser.add_argument(
        "--split",
        action="append",
        default=[],
        help="evaluate only rows whose --split-column equals this value (repeatable); the other rows are "
        "the baseline's training data",
    )
    parser.add_argument(
        "--prevalence",
        action="append",
        type=float,
        default=None,
        help="assumed share of fakes in real traffic (repeatable; default 0.05); the test share is always shown",
    )
    parser.add_argument(
        "--flag-rates",
        default=",".join(f"{r:g}" for r in DEFAULT_FLAG_RATES),
        help="comma-separated shares of reviews to flag (default: 0.005,0.01,0.02,0.05,0.1)",
    )
    parser.add_argument(
        "--baseline", choices=["tfidf", "none"], default="none", help="also score a TF-IDF + LR baseline"
    )
    parser.add_argument(
        "--train-data",
        default=None,
        help="training file for the baseline (default: DATA rows outside --split)",
    )
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap resamples for CIs; 0 = none (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="most reviews per forward pass (default: by token budget)",
    )
    parser.add_argument(
        "--device", default=None, help="inference device, e.g. cpu or cuda (default: automatic)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--explain-errors",
        type=int,
        default=0,
        metavar="N",
        help="explain the N highest-scoring false flags (genuine reviews at or above the operating threshold) "
        "and list the words and word pairs that most often drive them (default 0: off). Short phrases "
        "only, but keep it off for reports committed beside a corpus you may not redistribute",
    )
    parser.set_defaults(handler=evaluate_command, model_given_as="the MODEL argument")
    return parser


def score_with_model(
    model: str | FakeReviewClassifier,
    texts: Sequence[str],
    *,
    batch_size: int | None = None,
    device: str | None = None,
    chunk_size: int = 512,
) -> NDArray[np.float64]:
    """P(fake) for ``texts`` from a loaded classifier or ``FakeReviewClassifier.from_pretrained(model)``,
    with a progress bar (``device`` applies only when loading)."""
    from tqdm.auto import tqdm

    from fakereview_nlp.inference import FakeReviewClassifier

    classifier = (
        model
        if isinstance(model, FakeReviewClassifier)
        else FakeReviewClassifier.from_pretrained(model, device=device)
    )
    out = np.empty(len(texts), dtype=np.float64)
    with tqdm(total=len(texts), desc="scoring", unit="review") as bar:
        # Chunks only drive the progress bar; the classifier batches and length-sorts inside each.
        for start in range(0, len(texts), chunk_size):
            chunk = list(texts[start : start + chunk_size])
            out[start : start + len(chunk)] = np.asarray(
                classifier.predict_proba(chunk, batch_size=batch_size), dtype=np.float64
            ).reshape(-1)
            bar.update(len(chunk))
    return out


def evaluate_command(args: argparse.Namespace) -> int:
    """Handler of ``fakereview evaluate``."""
    label_map = parse_label_map(args.label_map)
    rates = parse_flag_rates(args.flag_rates)
    prevalences = tuple(args.prevalence) if args.prevalence else DEFAULT_PREVALENCES
    rows = read_evaluation_rows(args, label_map)
    ds = rows.evaluated
    texts: list[str] = ds["text"]
    labels = np.asarray(ds["label"], dtype=np.int64)
    logger.info("evaluating %d reviews from %s", len(ds), args.data)

    from fakereview_nlp.inference import FakeReviewClassifier

    classifier = FakeReviewClassifier.from_pretrained(args.model, device=args.device)
    # A model directory with a TF-IDF part serves the mean of both: the report says so in its name.
    name = "transformer+tfidf" if classifier.tfidf is not None else "transformer"
    scores = {name: score_with_model(classifier, texts, batch_size=args.batch_size)}
    baseline_info = None
    if args.baseline == "tfidf":
        scores["tfidf"], baseline_info = tfidf_baseline_scores(args, rows, texts)
    operating = serving_threshold(classifier)
    report = build_report(
        labels,
        scores,
        groups=ds["group"] if args.group_column else None,
        slices={column: ds[_row_column(args, column)] for column in args.slice_column},
        lengths=[len(t.split()) for t in texts],
        prevalences=prevalences,
        flag_rates=rates,
        folds=ds["split"] if args.split_column and len(set(ds["split"])) > 1 else None,
        baseline="tfidf" if "tfidf" in scores else None,
        operating_thresholds={name: operating} if operating is not None else None,
        n_boot=args.n_boot,
        seed=args.seed,
        config=_report_config(args, classifier, baseline_info),
        data=_report_data(args, rows, labels),
    )
    if args.explain_errors:
        report["false_flag_phrases"] = _false_flag_phrases(
            classifier, texts, labels, scores[name], operating, args.explain_errors
        )
    written = write_report(report, args.output_dir, plots=not args.no_plots)
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0


@dataclass
class EvaluationRows:
    """The rows ``fakereview evaluate`` scores, and those it may train the baseline on."""

    evaluated: datasets.Dataset
    #: DATA's rows outside ``--split`` (None without ``--split``); ``--train-data`` replaces them
    train: datasets.Dataset | None
    #: what the reader dropped from DATA (empty text, missing label), counted in the report
    bad_rows: BadRowReport
    #: the reader options shared by DATA and ``--train-data``
    reader_options: dict[str, Any]


def read_evaluation_rows(args: argparse.Namespace, label_map: dict[str, str] | None) -> EvaluationRows:
    """DATA's rows (``--split``'s only, with the rest kept for the baseline), after the arguments are checked
    and the outputs are known not to overwrite an input."""
    from fakereview_nlp.data.reviews import load_reviews_with_report, split_by_column

    if args.split and not args.split_column:
        raise SystemExit(
            "--split needs --split-column (the column holding the split or fold, e.g. --split-column fold)"
        )
    targets = [Path(args.output_dir) / name for name in ("report.json", "report.md", *PLOT_FILES.values())]
    refuse_overwriting_inputs([args.output_dir, *targets], [args.data, args.train_data])
    keep = [c for c in args.slice_column if c not in (args.group_column, args.split_column)]
    common = {"text_column": args.text_column, "label_map": label_map, "group_column": args.group_column}
    ds, bad_rows = load_reviews_with_report(
        args.data,
        label_column=args.label_column,
        split_column=args.split_column,
        id_column=args.id_column,
        keep_columns=keep,
        **common,
    )
    train_rows = None
    if args.split:
        train_rows, ds = split_by_column(ds, eval_splits=args.split)
    if len(ds) == 0:
        raise SystemExit(f"no rows to evaluate in {args.data!r} (split {args.split})")
    return EvaluationRows(ds, train_rows, bad_rows, common)


def tfidf_baseline_scores(
    args: argparse.Namespace, rows: EvaluationRows, texts: Sequence[str]
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """P(fake) for ``texts`` from the TF-IDF baseline trained on ``--train-data`` or DATA's other splits,
    and the report's description of that baseline."""
    from fakereview_nlp.data.reviews import load_reviews_with_report
    from fakereview_nlp.model.baseline import TfidfBaseline

    train_rows, train_dropped = rows.train, 0
    if args.train_data:
        train_rows, train_bad = load_reviews_with_report(
            args.train_data, label_column=args.label_column, id_column=args.id_column, **rows.reader_options
        )
        train_dropped = train_bad.n_dropped
    if train_rows is None or len(train_rows) == 0:
        raise SystemExit(
            "--baseline tfidf needs training rows: select the evaluation rows with --split-column/--split "
            "(the rest of DATA trains the baseline) or pass --train-data"
        )
    baseline = TfidfBaseline()
    scores = baseline.fit(train_rows["text"], train_rows["label"]).predict_proba(texts)
    info = {
        "kind": "tfidf",
        "n_train": len(train_rows),
        "n_train_rows_dropped": train_dropped,  # --train-data only: DATA's drops are in data
        "options": _baseline_options(baseline),
    }
    return scores, info


def serving_threshold(classifier: FakeReviewClassifier) -> float | None:
    """The threshold the classifier flags with, when its folder sets one (else None: 0.5 is used).

    Read once by its ModelFolder (a Hub model included): the report flags exactly where ``classify`` does.
    """
    folder = classifier.folder
    return classifier.threshold if folder is not None and folder.has_threshold else None


def _row_column(args: argparse.Namespace, column: str) -> str:
    """Where a ``--slice-column`` is in the rows read: the group and split columns are renamed."""
    return {args.group_column: "group", args.split_column: "split"}.get(column, column)


def _report_config(
    args: argparse.Namespace, classifier: FakeReviewClassifier, baseline_info: dict[str, Any] | None
) -> dict[str, Any]:
    """The report's ``config``: the command line, the baseline and the calibration the model serves with."""
    folder = classifier.folder
    return {
        "command": "fakereview evaluate",
        "model": args.model,
        **{k: v for k, v in vars(args).items() if k not in ("handler", "model", "command")},
        "baseline": baseline_info,
        "calibration": dict(folder.calibration) if folder is not None and folder.calibration else None,
    }


def _report_data(args: argparse.Namespace, rows: EvaluationRows, labels: NDArray[np.int64]) -> dict[str, Any]:
    """The report's ``data``: the file and rows evaluated, and every row the reader dropped, counted."""
    ds, bad_rows = rows.evaluated, rows.bad_rows
    return {
        "path": str(args.data),
        "file_sha256": fingerprint_file(args.data),
        "rows_sha256": fingerprint_rows(ds["id"], ds["text"], labels.tolist()),
        # Rows the reader dropped (empty text, missing label) are counted, never silently lost.
        "n_rows_in_file": bad_rows.n_rows,
        "n_rows_dropped": bad_rows.n_dropped,
        "n_rows_dropped_empty_text": bad_rows.empty_text,
        "n_rows_dropped_missing_label": bad_rows.missing_label,
        "split": list(args.split) or None,
    }


def _false_flag_phrases(
    classifier: FakeReviewClassifier,
    texts: Sequence[str],
    labels: NDArray[np.int64],
    scores: NDArray[np.float64],
    operating: float | None,
    n: int,
) -> dict[str, Any]:
    """What drives false flags: explain the top-``n`` scoring genuine reviews flagged, aggregate their phrases."""
    from fakereview_nlp.explanations.occlusion import common_phrases

    if n < 0:
        raise ValueError(f"--explain-errors must be >= 0, got {n}")
    threshold = 0.5 if operating is None else operating
    false_flags = np.flatnonzero((labels == 0) & (scores >= threshold))
    chosen = false_flags[np.argsort(-scores[false_flags], kind="stable")][:n]
    # out_of_scope="score": these reviews were scored (and flagged) by the evaluation, whatever their language
    explanations = classifier.explain([texts[i] for i in chosen], out_of_scope="score") if len(chosen) else []
    return {
        "threshold": threshold,
        "threshold_kind": "0.5" if operating is None else "operating",
        "n_false_flags": int(len(false_flags)),
        "n_explained": int(len(chosen)),
        "phrases": [
            {"phrase": c.phrase, "n_reviews": c.n_reviews, "mean_delta": c.mean_delta}
            for c in common_phrases(explanations)
        ],
    }


def _baseline_options(baseline: Any) -> dict[str, Any]:
    return {"ngram_range": list(baseline.ngram_range), "min_df": baseline.min_df, "C": baseline.C}


__all__ = [
    "EvaluationRows",
    "add_evaluate_parser",
    "evaluate_command",
    "parse_flag_rates",
    "parse_label_map",
    "read_evaluation_rows",
    "score_with_model",
    "serving_threshold",
    "tfidf_baseline_scores",
]
