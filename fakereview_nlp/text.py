"""Text normalisation applied before every tokenisation, in training and at inference."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Unicode NFC, runs of whitespace collapsed to one space, ends stripped.

    Why: in op_spam every truthful-positive file ended in a trailing space, and in
    fake_reviews_cg GPT-2 texts more often ended in whitespace. Layout is a label cue
    no model may learn, so it is removed at the single place every text passes through.

    Example::

        >>> normalize_text("  Great  room.\\n\\nWould stay again. ")
        'Great room. Would stay again.'
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


#: Letters and digits kept by :func:`text_prefix_key` (Unicode-aware, underscore excluded).
_NOT_ALNUM = re.compile(r"[\W_]+")


def text_prefix_key(text: str, n_chars: int = 80) -> str:
    """The first ``n_chars`` letters and digits of ``text``, lower-cased: a near-duplicate key.

    Why: GPT-2 fakes in fake_reviews_cg (and campaign reviews in amazon_labeled) repeat the
    same opening with different endings; rows sharing this key must stay in one split.

    Example::

        >>> text_prefix_key("Great  product!! Works, as-described.", n_chars=12)
        'greatproduct'
    """
    return _NOT_ALNUM.sub("", text.lower())[:n_chars]


def check_texts(texts: object, caller: str = "classify") -> list[str]:
    """``texts`` as a list of strings, or a ``TypeError`` that says how to fix the call."""
    if isinstance(texts, str | bytes):
        raise TypeError(f"{caller}() expects a list of texts; wrap a single review as [text]")
    if not isinstance(texts, Iterable):
        raise TypeError(
            f"{caller}() expects a list of texts, got {type(texts).__name__}; pass e.g. list_of_reviews"
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(
                f"texts[{i}] is {type(text).__name__}, not str; convert it with str() or drop it "
                "(missing values such as None or NaN have no score)"
            )
    return out
