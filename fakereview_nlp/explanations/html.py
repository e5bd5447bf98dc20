"""The moderator's page: ``fakereview explain INPUT -o page.html``, and :func:`render_explanations_html`.

One self-contained HTML file: inline CSS, no scripts, no fonts or images, nothing fetched (its
Content-Security-Policy forbids it), so it opens offline and can be mailed around. Every piece of
review text is HTML-escaped: a review containing ``<script>`` is shown as text.

Spans are coloured by their measured ``delta`` on one scale for the whole page (red: removing
the span lowers P(fake), so it pushes towards fake; blue: it pushes towards genuine), so equal
colours mean equal effects across reviews.
"""

from __future__ import annotations

import argparse
import html
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fakereview_nlp.explanations.occlusion import ReviewExplanation

logger = logging.getLogger(__name__)

#: |delta| at which a span's colour is at full strength.
FULL_COLOUR_DELTA = 0.25

_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1f2328; }
header p { margin: .2rem 0; color: #57606a; }
.legend mark { padding: 0 .3rem; }
article { border: 1px solid #d0d7de; border-radius: 8px; padding: .8rem 1rem; margin: 1rem 0; }
article.flagged { border-left: 6px solid #cf222e; }
article.not-flagged { border-left: 6px solid #8c959f; }
article h2 { font-size: 1rem; margin: 0 0 .5rem; display: flex; gap: .8rem; align-items: baseline; }
.verdict { font-weight: 600; padding: 0 .5rem; border-radius: 4px; }
.flagged .verdict { background: #ffebe9; color: #a40e26; }
.not-flagged .verdict { background: #f6f8fa; color: #57606a; }
.score { font-variant-numeric: tabular-nums; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0; }
mark { border-radius: 3px; padding: 0 .1rem; color: inherit; }
ol.spans { margin: .3rem 0 0; padding-left: 1.4rem; color: #57606a; font-size: .9rem; }
ol.spans .delta { font-variant-numeric: tabular-nums; font-weight: 600; }
"""


#: Below this |delta| a span is shown grey: no measurable push either way (bf16 scores move in such steps).
NEUTRAL_DELTA = 5e-4


def _colour(delta: float) -> str:
    if abs(delta) < NEUTRAL_DELTA:
        return "rgba(140,149,159,0.18)"
    strength = min(1.0, abs(delta) / FULL_COLOUR_DELTA)
    alpha = 0.12 + 0.68 * strength
    rgb = "207,34,46" if delta > 0 else "9,105,218"
    return f"rgba({rgb},{alpha:.2f})"


def _highlighted(text: str, explanation: ReviewExplanation) -> str:
    """``text`` escaped, with each span wrapped in a coloured ``<mark>`` (spans never overlap)."""
    parts: list[str] = []
    at = 0
    ranked = {(s.start, s.end): rank for rank, s in enumerate(explanation.spans, start=1)}
    for span in sorted(explanation.spans, key=lambda s: s.start):
        parts.append(html.escape(text[at : span.start]))
        rank = ranked[(span.start, span.end)]
        parts.append(
            f'<mark data-rank="{rank}" data-delta="{span.delta:.4f}" style="background:{_colour(span.delta)}" '
            f'title="#{rank}: without it P(fake) is {explanation.fake_score - span.delta:.3f}">'
            f"{html.escape(text[span.start : span.end])}</mark>"
        )
        at = span.end
    parts.append(html.escape(text[at:]))
    return "".join(parts)


def render_explanations_html(
    texts: Sequence[str],
    explanations: Sequence[ReviewExplanation],
    *,
    ids: Sequence[str] | None = None,
    title: str = "Why were these reviews flagged?",
    model: str | None = None,
    threshold: float | None = None,
    note: str | None = None,
) -> str:
    """One self-contained HTML page listing each review with its score, verdict and highlighted spans.

    Args:
        texts (`list[str]`): the reviews, as passed to ``explain``.
        explanations (`list[ReviewExplanation]`): one per text, from ``explain``.
        ids (`list[str]`, *optional*): shown as each review's heading (default: its row number).
        title (`str`): the page title. model (`str`, *optional*), threshold (`float`, *optional*),
        note (`str`, *optional*): shown in the header.

    Returns:
        `str`: the HTML document.
    """
    if len(texts) != len(explanations):
        raise ValueError(f"got {len(texts)} texts but {len(explanations)} explanations; pass one per text")
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"got {len(ids)} ids for {len(texts)} texts; pass one id per text or none")
    n_flagged = sum(e.flagged for e in explanations)
    head = [f"<h1>{html.escape(title)}</h1>"]
    if model is not None:
        head.append(f"<p>Model: <code>{html.escape(model)}</code></p>")
    head.append(
        f"<p>{len(texts)} reviews, {n_flagged} flagged"
        + ("" if threshold is None else f" (P(fake) ≥ {threshold:.3f}, the model's operating threshold)")
        + ".</p>"
    )
    if note:
        head.append(f"<p>{html.escape(note)}</p>")
    head.append(
        '<p class="legend">Highlighted: the parts whose removal changes P(fake) most (measured by '
        f'rescoring the review without them). <mark style="background:{_colour(FULL_COLOUR_DELTA)}">red</mark> '
        f'pushes towards fake, <mark style="background:{_colour(-FULL_COLOUR_DELTA)}">blue</mark> towards '
        f'genuine, <mark style="background:{_colour(0.0)}">grey</mark> neither; full colour at a change of '
        f"{FULL_COLOUR_DELTA:g} or more.</p>"
    )
    articles = []
    for i, (text, explanation) in enumerate(zip(texts, explanations, strict=True)):
        label = str(i + 1) if ids is None else str(ids[i])
        css = "flagged" if explanation.flagged else "not-flagged"
        items = "".join(
            f'<li>P(fake) <span class="delta">{explanation.fake_score - s.delta:.3f}</span> '
            f"({-s.delta:+.3f}) without “{html.escape(s.text)}”</li>"
            for s in explanation.spans
        )
        articles.append(
            f'<article class="review {css}" id="review-{i + 1}">'
            f'<h2><span class="id">{html.escape(label)}</span>'
            f'<span class="verdict">{"flagged" if explanation.flagged else "not flagged"}</span>'
            f'<span class="score">P(fake) = {explanation.fake_score:.3f}</span></h2>'
            f'<p class="text">{_highlighted(text, explanation)}</p>'
            + (f'<ol class="spans">{items}</ol>' if items else "")
            + "</article>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # Nothing may load or run: the page is data, and review text is untrusted.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><header>{''.join(head)}</header>\n<main>\n"
        + "\n".join(articles)
        + "\n</main></body></html>\n"
    )


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
    parser.add_argument("--device", default=None, help="inference device (default: automatic)")
    parser.set_defaults(handler=explain_command)
    return parser


def explain_command(args: argparse.Namespace) -> int:
    """Handler of ``fakereview explain``."""
    from fakereview_nlp.data.reviews import read_table
    from fakereview_nlp.files import atomic_write_text
    from fakereview_nlp.inference import FakeReviewClassifier
    from fakereview_nlp.model.default_model import resolve_model

    def fail(message: str) -> int:
        print(f"fakereview: error: {message}", file=sys.stderr)
        return 2

    if args.limit < 0 or args.top_k < 1:
        return fail(f"--limit must be >= 0 and --top-k >= 1, got --limit {args.limit} --top-k {args.top_k}")
    if not Path(args.input).is_file():
        return fail(f"input file {args.input!r} does not exist")
    table = read_table(args.input)  # a DataFrame, read by fakereview_nlp.data.tables as classify reads it
    for flag, column in (("--text-column", args.text_column), ("--id-column", args.id_column)):
        if column is not None and column not in table.columns:
            return fail(
                f"{flag} {column!r} is not a column of {args.input!r}; its columns are {list(table.columns)}"
            )
    n_rows = len(table)
    if args.limit and n_rows > args.limit:
        table = table.iloc[: args.limit]
    texts = ["" if t is None else str(t) for t in table[args.text_column]]
    ids = (
        [str(v) for v in table[args.id_column]] if args.id_column else [str(i + 1) for i in range(len(texts))]
    )
    model = resolve_model(args.model)
    classifier = FakeReviewClassifier.from_pretrained(model, device=args.device)
    explanations = classifier.explain(texts, args.top_k, unit=args.unit)
    limited = len(texts) < n_rows
    note = f"Explained the first {len(texts)} of {n_rows} rows (--limit)." if limited else None
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


__all__ = [
    "FULL_COLOUR_DELTA",
    "NEUTRAL_DELTA",
    "add_explain_parser",
    "explain_command",
    "render_explanations_html",
]
