"""``fakereview explain INPUT -o page.html``: score and explain a review file as one HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fakereview_nlp.data.tables import check_text_values, read_table
from fakereview_nlp.explanations.html import render_explanations_html
from fakereview_nlp.explanations.occlusion import DEFAULT_MAX_CHARS
from fakereview_nlp.files import atomic_write_text, refuse_overwriting_inputs
from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.model.default_model import resolve_model


def add_explain_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fakereview explain`` on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "explain",
        help="an HTML page showing which parts of each review drive its score",
        description=(
            "Score and explain the reviews in INPUT (CSV, TSV, JSONL or Parquet) and write one self-contained "
            "HTML page: score, verdict and the spans whose removal changes P(fake) most."
        ),
    )
    parser.add_argument("input", metavar="INPUT", help="review file (CSV/TSV/JSONL/Parquet)")
    parser.add_argument("-o", "--output", required=True, help="the HTML page to write")
    parser.add_argument(
        "--model", default=None, help="model directory (default: $FAKEREVIEW_MODEL, then the reference model)"
    )
    parser.add_argument(
        "--text-column", default="text", help="column holding the review text (default: text)"
    )
    parser.add_argument(
        "--id-column", default=None, help="column shown as each review's heading (default: row number)"
    )
    parser.add_argument("--only-flagged", action="store_true", help="list only the reviews the model flags")
    parser.add_argument("--top-k", type=int, default=3, help="spans per review (default 3)")
    parser.add_argument(
        "--unit",
        choices=["phrase", "sentence"],
        default="phrase",
        help="explain by phrases (default) or sentences",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=500,
        help="explain at most this many rows, the first ones (default 500; 0 = all)",
    )
    parser.add_argument(
        "--out-of-scope", default="abstain", choices=["abstain", "score"],
        help="reviews the model cannot read (not in its languages, or under 3 letters): shown as not judged "
        "(abstain, the default) or explained anyway (score)",
    )  # fmt: skip
    parser.add_argument("--device", default=None, help="inference device (default: automatic)")
    parser.set_defaults(handler=explain_command)
    return parser


def explain_command(args: argparse.Namespace) -> int:
    """Handler of ``fakereview explain``."""
    def fail(message: str) -> int:
        print(f"fakereview: error: {message}", file=sys.stderr)
        return 2

    if args.limit < 0 or args.top_k < 1:
        return fail(f"--limit must be >= 0 and --top-k >= 1, got --limit {args.limit} --top-k {args.top_k}")
    if not Path(args.input).is_file():
        return fail(f"input file {args.input!r} does not exist")
    refuse_overwriting_inputs([args.output], [args.input])
    table = read_table(args.input)  # a DataFrame, read by fakereview_nlp.data.tables as classify reads it
    for flag, column in (("--text-column", args.text_column), ("--id-column", args.id_column)):
        if column is not None and column not in table.columns:
            return fail(
                f"{flag} {column!r} is not a column of {args.input!r}; its columns are {list(table.columns)}"
            )
    n_rows = len(table)
    if args.limit and n_rows > args.limit:
        table = table.iloc[: args.limit]
    values = table[args.text_column].tolist()
    check_text_values(values, column=args.text_column, where=repr(args.input))  # a number is an error, as in classify
    texts = [t if isinstance(t, str) else "" for t in values]  # missing: explained as empty text
    ids = (
        [str(v) for v in table[args.id_column]] if args.id_column else [str(i + 1) for i in range(len(texts))]
    )
    model = resolve_model(args.model)
    classifier = FakeReviewClassifier.from_pretrained(model, device=args.device)
    explanations = classifier.explain(texts, args.top_k, unit=args.unit, out_of_scope=args.out_of_scope)
    limited = len(texts) < n_rows
    note = f"Explained the first {len(texts)} of {n_rows} rows (--limit)." if limited else None
    cut = [ids[i] for i, e in enumerate(explanations) if e.note]
    if cut:  # a very long review is searched in its first characters only: say so on the page
        more = f" and {len(cut) - 5} more" if len(cut) > 5 else ""
        note = (note + " " if note else "") + (
            f"Reviews {', '.join(cut[:5])}{more} are longer than {DEFAULT_MAX_CHARS:,} characters: their spans were "
            f"searched in the first {DEFAULT_MAX_CHARS:,} characters (the score is the whole review's)."
        )
        print(f"fakereview: {len(cut)} reviews longer than {DEFAULT_MAX_CHARS:,} characters were explained on "
              f"their first {DEFAULT_MAX_CHARS:,} characters", file=sys.stderr)  # fmt: skip
    if args.only_flagged:
        keep = [i for i, e in enumerate(explanations) if e.flagged]
        texts, ids, explanations = (
            [texts[i] for i in keep],
            [ids[i] for i in keep],
            [explanations[i] for i in keep],
        )
        note = (note + " " if note else "") + "Only flagged reviews are listed (--only-flagged)."
    page = render_explanations_html(
        texts, explanations, ids=ids, model=model, threshold=classifier.threshold, note=note
    )
    atomic_write_text(args.output, page)
    if limited:
        print(
            f"fakereview: explained the first {args.limit} of {n_rows} rows (--limit 0 for all)",
            file=sys.stderr,
        )
    print(f"wrote {args.output} ({len(texts)} reviews)")
    return 0


__all__ = ["add_explain_parser", "explain_command"]
