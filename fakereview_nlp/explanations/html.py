"""The moderator's page: :func:`render_explanations_html` (``fakereview explain`` writes it, see :mod:`fakereview_nlp.cli.explain`).

One self-contained HTML file: inline CSS, no scripts, no fonts or images, nothing fetched (its
Content-Security-Policy forbids it), so it opens offline and can be mailed around. Every piece of
review text is HTML-escaped: a review containing ``<script>`` is shown as text.

Spans are coloured by their measured ``delta`` on one scale for the whole page (red: removing
the span lowers P(fake), so it pushes towards fake; blue: it pushes towards genuine), so equal
colours mean equal effects across reviews.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

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
    n_unjudged = sum(e.fake_score is None for e in explanations)
    head = [f"<h1>{html.escape(title)}</h1>"]
    if model is not None:
        head.append(f"<p>Model: <code>{html.escape(model)}</code></p>")
    head.append(
        f"<p>{len(texts)} reviews, {n_flagged} flagged"
        + ("" if threshold is None else f" (P(fake) ≥ {threshold:.3f}, the model's operating threshold)")
        + (f", {n_unjudged} not judged (text the model cannot read)" if n_unjudged else "")
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
        if explanation.fake_score is None:  # abstained: text the model cannot read gets no verdict
            why = explanation.reason or "out of the model's scope"
            articles.append(
                f'<article class="review {css}" id="review-{i + 1}">'
                f'<h2><span class="id">{html.escape(label)}</span><span class="verdict">not judged</span>'
                f'<span class="score">{html.escape(why)}</span></h2>'
                f'<p class="text">{html.escape(text)}</p></article>'
            )
            continue
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


__all__ = [
    "FULL_COLOUR_DELTA",
    "NEUTRAL_DELTA",
    "render_explanations_html",
]
