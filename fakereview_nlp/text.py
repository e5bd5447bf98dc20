"""Text normalisation applied before every tokenisation, in training and at inference."""

from __future__ import annotations

import re
import unicodedata

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
