"""Why was a review flagged? Occlusion explanations: :func:`explain_texts`, :class:`ReviewExplanation`.

A span's ``delta`` is measured, not estimated: ``fake_score(review) - fake_score(review with the
span removed)``, both scored by the classifier exactly as it serves (normalisation, truncation,
temperature, the TF-IDF part when the model has one). A positive delta means the span pushed
the review towards *fake*; removing it lowers the score by that much.

How a call runs (every variant of every review is scored through
:meth:`FakeReviewClassifier.predict_proba`, so variants share its length-sorted batches; one
forward pass per variant, no gradients):

1. each review is cut into *segments* on its original string: sentences (ending in ``.``, ``!``,
   ``?`` or ``…`` before whitespace, or at a line break), with sentences longer than
   ``max_segment_words`` words cut into pieces of that many words;
2. the review and the review without each segment are scored (one pass each);
3. ``unit="sentence"``: the spans are the ``top_k`` segments by delta. ``unit="phrase"``
   (default): inside the ``refine`` segments with the largest deltas, every window of
   ``window_words`` consecutive words (stride ``window_words // 2``) is removed and scored, and the
   spans are the ``top_k`` non-overlapping windows by delta.

Offsets are into the caller's string (``review[span.start:span.end] == span.text``): segments and
words are found on the original text (words are runs of non-whitespace, so a combining accent
stays with its letter), and the variant scored is ``review[:start] + review[end:]``, which the
classifier normalises like any other input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from fakereview_nlp.labels import verdict
from fakereview_nlp.text import check_texts


class Scorer(Protocol):
    """What occlusion needs of a model: P(fake) for texts and a flag threshold.

    :class:`~fakereview_nlp.inference.FakeReviewClassifier` is one; this module does not import
    it, so that the classifier can offer :meth:`explain` without a two-way import.
    """

    threshold: float

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray: ...


ExplainUnit = Literal["phrase", "sentence"]

#: Words per phrase window and segments refined into phrases: chosen by
#: ``benchmarks/explain_faithfulness.py`` (see docs/explanations.md).
DEFAULT_WINDOW_WORDS = 4
DEFAULT_REFINE = 2
#: Longest segment of the first pass; a run-on "sentence" is cut so one segment is never the review.
DEFAULT_MAX_SEGMENT_WORDS = 30
#: Longest text searched for spans. The cost of occlusion grows with the review's length (a
#: forward pass per sentence, each on a copy of the review); a truncating model reads only its
#: first few hundred tokens anyway, so a longer review is searched in its first characters only,
#: and the explanation says so (``ReviewExplanation.note``).
DEFAULT_MAX_CHARS = 10_000

_WORD = re.compile(r"\S+")
# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by whitespace, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\s*\n\s*")


@dataclass(frozen=True)
class ExplainedSpan:
    """One part of a review and how much it moves the score.

    Attributes:
        start (`int`), end (`int`): offsets into the review as passed (``text == review[start:end]``).
        text (`str`): the span itself.
        delta (`float`): ``fake_score(review) - fake_score(review[:start] + review[end:])``;
            positive = the span pushes towards fake.
    """

    start: int
    end: int
    text: str
    delta: float


@dataclass(frozen=True)
class ReviewExplanation:
    """The verdict on one review and the spans that drive it.

    Attributes:
        fake_score (`float` or `None`): P(fake), as :meth:`FakeReviewClassifier.classify` gives it;
            ``None`` when the model abstained on a text it cannot read (``in_scope=False``).
        flagged (`bool`): ``fake_score >= threshold`` (the model's operating threshold); ``False``
            when it abstained.
        spans (`tuple[ExplainedSpan, ...]`): at most ``top_k``, non-overlapping, largest ``delta``
            first; empty for an empty or whitespace-only review, and when the model abstained. A
            span's delta can be ≤ 0 when no part of the review pushes towards fake.
        in_scope (`bool`), language (`str`, *optional*), reason (`str`, *optional*): as
            :class:`~fakereview_nlp.inference.ReviewVerdict` (set by the classifier's ``explain``).
        note (`str`, *optional*): set when the review was longer than ``max_chars``: the spans were
            searched in its first ``max_chars`` characters only (see :func:`explain_texts`).
    """

    fake_score: float | None
    flagged: bool
    spans: tuple[ExplainedSpan, ...]
    in_scope: bool = True
    language: str | None = None
    reason: str | None = None
    #: What was left out to bound the cost, e.g. "spans searched in the first 10,000 of 1,000,000
    #: characters"; ``None`` when the whole review was searched.
    note: str | None = None


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every run of non-whitespace in ``text``."""
    return [m.span() for m in _WORD.finditer(text)]


def segment_spans(text: str, max_words: int = DEFAULT_MAX_SEGMENT_WORDS) -> list[tuple[int, int]]:
    """``(start, end)`` of every sentence of ``text`` (stripped), long ones cut every ``max_words`` words.

    Example::

        >>> t = "Great  stay! Staff lovely.\\nWould return"
        >>> [t[a:b] for a, b in segment_spans(t)]
        ['Great  stay!', 'Staff lovely.', 'Would return']
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for cut in [*_SENTENCE_END.finditer(text), None]:
        # Up to the cut's end: closing quotes stay with their sentence, trailing whitespace is no word.
        stop = len(text) if cut is None else cut.end()
        words = [(start + a, start + b) for a, b in word_spans(text[start:stop])]
        for i in range(0, len(words), max_words):
            piece = words[i : i + max_words]
            spans.append((piece[0][0], piece[-1][1]))
        if cut is not None:
            start = cut.end()
    return spans


def window_spans(
    words: Sequence[tuple[int, int]], size: int, stride: int | None = None
) -> list[tuple[int, int]]:
    """Windows of ``size`` consecutive words, every ``stride`` words (default ``size // 2``), covering ``words``."""
    if len(words) <= size:
        return [(words[0][0], words[-1][1])] if words else []
    stride = stride or max(1, size // 2)
    starts = list(range(0, len(words) - size + 1, stride))
    if starts[-1] != len(words) - size:  # the last words get a window too
        starts.append(len(words) - size)
    return [(words[i][0], words[i + size - 1][1]) for i in starts]


def _without(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + text[span[1] :]


def _top(
    text: str, candidates: Sequence[tuple[int, int]], deltas: Sequence[float], top_k: int
) -> tuple[ExplainedSpan, ...]:
    """The ``top_k`` non-overlapping candidates by delta (ties: earlier first)."""
    order = sorted(range(len(candidates)), key=lambda i: (-deltas[i], candidates[i]))
    chosen: list[ExplainedSpan] = []
    for i in order:
        a, b = candidates[i]
        if any(a < s.end and s.start < b for s in chosen):
            continue
        chosen.append(ExplainedSpan(start=a, end=b, text=text[a:b], delta=float(deltas[i])))
        if len(chosen) == top_k:
            break
    return tuple(chosen)


def explain_texts(
    classifier: Scorer,
    texts: Iterable[str],
    top_k: int = 3,
    *,
    unit: ExplainUnit = "phrase",
    window_words: int = DEFAULT_WINDOW_WORDS,
    window_stride: int | None = None,
    refine: int = DEFAULT_REFINE,
    max_segment_words: int = DEFAULT_MAX_SEGMENT_WORDS,
    batch_size: int | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[ReviewExplanation]:
    """Explain each review's score by occlusion (see the module docstring).

    Args:
        classifier (`FakeReviewClassifier`): the model, as it serves.
        texts (`list[str]`): the reviews. A bare ``str`` is refused (wrap it as ``[text]``).
        top_k (`int`, defaults to `3`): spans per review.
        unit (`"phrase"` or `"sentence"`, defaults to `"phrase"`): phrases of ``window_words``
            words found inside the strongest sentences, or whole sentences.
        window_words (`int`, defaults to `4`): words per phrase.
        window_stride (`int`, *optional*): words between phrase starts; default ``window_words // 2``.
        refine (`int`, defaults to `2`): sentences searched for phrases (``unit="phrase"``).
        max_segment_words (`int`, defaults to `30`): longer sentences are cut into pieces.
        batch_size (`int`, *optional*): as :meth:`FakeReviewClassifier.predict_proba`.
        max_chars (`int`, defaults to `10000`): a longer review is searched for spans in its first
            ``max_chars`` characters (cut at a word boundary), and its deltas are measured on that
            part: ``score(part) - score(part without the span)``. ``fake_score`` is still the whole
            review's; ``note`` says what was done. Bounds the cost of a 1 MB review.

    Returns:
        `list[ReviewExplanation]` of length ``len(texts)``, in order. Cost: one forward pass per
        review, per segment, and (phrases) per window in the refined segments.

    Example::

        >>> explain_texts(clf, ["Best hotel ever!!! The lift was slow."], top_k=1)  # doctest: +SKIP
        [ReviewExplanation(fake_score=0.93, flagged=True,
                           spans=(ExplainedSpan(start=0, end=18, text='Best hotel ever!!!', delta=0.41),))]
    """
    reviews = check_texts(texts, "explain")
    _check_options(
        top_k=top_k,
        window_words=window_words,
        window_stride=window_stride,
        refine=refine,
        max_segment_words=max_segment_words,
        max_chars=max_chars,
        unit=unit,
    )
    if not reviews:
        return []
    parts, notes = _searched_parts(reviews, max_chars)
    segments = [segment_spans(t, max_segment_words) for t in parts]
    base, seg_deltas = _segment_deltas(classifier, parts, segments, batch_size)
    if unit == "sentence":
        spans = [_top(t, segs, d, top_k) for t, segs, d in zip(parts, segments, seg_deltas, strict=True)]
    else:
        spans = _phrase_spans(
            classifier,
            parts,
            segments,
            seg_deltas,
            base,
            top_k=top_k,
            refine=refine,
            window_words=window_words,
            window_stride=window_stride,
            batch_size=batch_size,
        )
    fake_scores = _whole_review_scores(classifier, reviews, base, notes, batch_size)
    return [
        ReviewExplanation(
            fake_score=float(score), flagged=verdict(score, classifier.threshold)[1], spans=s, note=note
        )
        for score, s, note in zip(fake_scores, spans, notes, strict=True)
    ]


def _check_options(
    *,
    top_k: int,
    window_words: int,
    window_stride: int | None,
    refine: int,
    max_segment_words: int,
    max_chars: int,
    unit: str,
) -> None:
    """Raise ``ValueError`` naming the first option of :func:`explain_texts` that is out of range."""
    for name, value, low in (
        ("top_k", top_k, 1),
        ("window_words", window_words, 1),
        ("window_stride", window_words if window_stride is None else window_stride, 1),
        ("refine", refine, 1),
        ("max_segment_words", max_segment_words, 1),
        ("max_chars", max_chars, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if unit not in ("phrase", "sentence"):
        raise ValueError(f"unit={unit!r} is not supported; expected 'phrase' or 'sentence'")


def _searched_parts(reviews: Sequence[str], max_chars: int) -> tuple[list[str], list[str | None]]:
    """The part of each review searched for spans (see :func:`_head`), and a note where it is not all of it."""
    parts = [_head(t, max_chars) for t in reviews]
    notes = [
        None if len(t) == len(f) else
        f"spans searched in the first {len(t):,} of {len(f):,} characters (deltas measured on that part); "
        f"reviews longer than max_chars={max_chars:,} are cut to bound the cost"
        for t, f in zip(parts, reviews, strict=True)
    ]  # fmt: skip
    return parts, notes


def _per_review(flat: Sequence[float], counts: Sequence[int]) -> list[list[float]]:
    """``flat`` (the scores of every review's variants, review after review) cut back into one list per review."""
    out: list[list[float]] = []
    at = 0
    for count in counts:
        out.append(list(flat[at : at + count]))
        at += count
    return out


def _segment_deltas(
    classifier: Scorer,
    parts: Sequence[str],
    segments: Sequence[Sequence[tuple[int, int]]],
    batch_size: int | None,
) -> tuple[list[float], list[list[float]]]:
    """Pass 1: each part's score, and by how much removing each of its segments lowers it.

    The parts and all their variants go in one call, so they share the classifier's length-sorted batches.
    """
    variants: list[str] = list(parts)
    for text, segs in zip(parts, segments, strict=True):
        variants += [_without(text, s) for s in segs]
    scores = classifier.predict_proba(variants, batch_size).tolist()
    base = scores[: len(parts)]
    removed = _per_review(scores[len(parts) :], [len(segs) for segs in segments])
    return base, [[base[i] - s for s in without] for i, without in enumerate(removed)]


def _words_in(words: Sequence[tuple[int, int]], span: tuple[int, int]) -> list[tuple[int, int]]:
    """The ``words`` that lie wholly inside ``span``."""
    return [w for w in words if span[0] <= w[0] and w[1] <= span[1]]


def _strongest_segments(
    segments: Sequence[tuple[int, int]],
    deltas: Sequence[float],
    words: Sequence[tuple[int, int]],
    *,
    refine: int,
    top_k: int,
    window_words: int,
) -> list[int]:
    """Indices of the ``refine`` segments with the largest deltas, and more while they hold fewer
    than ``top_k`` disjoint windows (so a review of short sentences still gets ``top_k`` spans)."""
    strongest: list[int] = []
    room = 0
    for j in sorted(range(len(segments)), key=lambda j: (-deltas[j], j)):
        if len(strongest) >= refine and room >= top_k:
            break
        strongest.append(j)
        room += -(-len(_words_in(words, segments[j])) // window_words)  # ceil: the disjoint windows it holds
    return strongest


def _phrase_spans(
    classifier: Scorer,
    parts: Sequence[str],
    segments: Sequence[Sequence[tuple[int, int]]],
    seg_deltas: Sequence[Sequence[float]],
    base: Sequence[float],
    *,
    top_k: int,
    refine: int,
    window_words: int,
    window_stride: int | None,
    batch_size: int | None,
) -> list[tuple[ExplainedSpan, ...]]:
    """Pass 2 (``unit="phrase"``): the ``top_k`` word windows of each part, searched in its strongest segments.

    Only those segments are searched, so the cost stays near segments + refine x words / stride
    passes per review, whatever its length. All windows of all parts go in one call.
    """
    windows: list[list[tuple[int, int]]] = []
    variants: list[str] = []
    for text, segs, d in zip(parts, segments, seg_deltas, strict=True):
        words = word_spans(text)
        strongest = _strongest_segments(segs, d, words, refine=refine, top_k=top_k, window_words=window_words)
        found: list[tuple[int, int]] = []
        for j in sorted(strongest):
            found += window_spans(_words_in(words, segs[j]), window_words, window_stride)
        windows.append(found)
        variants += [_without(text, w) for w in found]
    scores = classifier.predict_proba(variants, batch_size).tolist() if variants else []
    removed = _per_review(scores, [len(found) for found in windows])
    return [
        _top(parts[i], found, [base[i] - s for s in without], top_k)
        for i, (found, without) in enumerate(zip(windows, removed, strict=True))
    ]


def _whole_review_scores(
    classifier: Scorer,
    reviews: Sequence[str],
    base: Sequence[float],
    notes: Sequence[str | None],
    batch_size: int | None,
) -> list[float]:
    """P(fake) of each whole review: ``base``, rescored where only a part was searched (a ``note``).

    The verdict is on the whole review, as ``classify()`` gives it, whatever part was searched.
    """
    fake_scores = list(base)
    long = [i for i, note in enumerate(notes) if note is not None]
    if long:
        whole = classifier.predict_proba([reviews[i] for i in long], batch_size).tolist()
        for i, score in zip(long, whole, strict=True):
            fake_scores[i] = score
    return fake_scores


def _head(text: str, max_chars: int) -> str:
    """``text``, or its first ``max_chars`` characters cut back to the last whitespace (a whole word)."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars + 1)
    return text[: cut if cut > max_chars // 2 else max_chars]


@dataclass(frozen=True)
class PhraseCount:
    """A word or word pair and how often it sits in the spans that drive reviews' scores.

    Attributes:
        phrase (`str`): one or two words, lower-cased, punctuation stripped.
        n_reviews (`int`): reviews in which a top span contains it.
        mean_delta (`float`): mean delta of those spans.
    """

    phrase: str
    n_reviews: int
    mean_delta: float


_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Function words sit in most spans of any review; a phrase made only of them says nothing.
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "its",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "there",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "with",
        "you",
    ]
)


def common_phrases(
    explanations: Sequence[ReviewExplanation], *, max_words: int = 2, top_n: int = 20, min_reviews: int = 2
) -> list[PhraseCount]:
    """Words and word pairs that recur in the positive-delta spans of many reviews, most frequent first.

    Phrases made only of function words ("of the") are left out.

    Only phrases of at most ``max_words`` words found in at least ``min_reviews`` reviews are
    returned, so the result describes what a model over-trusts without quoting any one review.

    Args:
        explanations (`list[ReviewExplanation]`): e.g. of the genuine reviews a model flags.
        max_words (`int`, defaults to `2`), top_n (`int`, defaults to `20`), min_reviews (`int`, defaults to `2`).

    Returns:
        `list[PhraseCount]`, by ``n_reviews`` then ``mean_delta``, descending.
    """
    seen: dict[str, list[float]] = {}
    for explanation in explanations:
        found: dict[str, float] = {}
        for span in explanation.spans:
            if span.delta <= 0:
                continue
            words = [w.lower() for w in _TOKEN.findall(span.text)]
            for n in range(1, max_words + 1):
                for i in range(len(words) - n + 1):
                    if all(w in _STOP_WORDS for w in words[i : i + n]):
                        continue
                    phrase = " ".join(words[i : i + n])
                    found[phrase] = max(found.get(phrase, 0.0), span.delta)
        for phrase, delta in found.items():  # once per review, with its strongest span
            seen.setdefault(phrase, []).append(delta)
    ranked = [
        PhraseCount(phrase=k, n_reviews=len(v), mean_delta=float(sum(v) / len(v)))
        for k, v in seen.items()
        if len(v) >= min_reviews
    ]
    ranked.sort(key=lambda c: (-c.n_reviews, -c.mean_delta, c.phrase))
    return ranked[:top_n]


__all__ = [
    "DEFAULT_MAX_CHARS",
    "Scorer",
    "ExplainUnit",
    "ExplainedSpan",
    "PhraseCount",
    "ReviewExplanation",
    "common_phrases",
    "explain_texts",
    "segment_spans",
    "window_spans",
    "word_spans",
]
