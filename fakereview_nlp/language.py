"""Which language each review is in, and whether a model that reads only some languages should judge it.

The package's models are trained on English reviews. On text in another language they do not fail:
they return a confident verdict that means nothing (the reference model labels almost every genuine
Russian or Korean hotel review ``fake``). :func:`detect_languages` names each text's language and
:func:`in_scope` says whether a model that reads ``model_languages`` may give it a verdict; callers
show the texts it refuses as "not judged", with :func:`out_of_scope_reason` as the why.

The detector is py3langid 0.4.0 (BSD-3-Clause; a maintained fork of langid.py, naive Bayes over
byte n-grams, 139 languages, its 4.6 MB model inside the wheel, so nothing is downloaded). It is
deterministic and thread-safe once loaded (classification only reads the model). It is imported and
loaded on first use, once per process, so ``import fakereview_nlp`` does not pay for it.

Rules (measured in ``reports/language_id/report.md``, ``benchmarks/language_id.py``):

* a text with fewer than :data:`MIN_LETTERS` letters (``str.isalpha``: emoji, digits, ``"ok"``)
  gets ``language=None``, ``reason="too short"``: there is nothing to identify;
* otherwise the top language and its probability (py3langid's normalised score, in [0, 1]);
* :func:`in_scope` keeps a text only when its language is one the model reads and its probability
  is at least :data:`MIN_CONFIDENCE` (0 by default: the top language decides). A sweep over the
  English reviews of every English corpus here (op_spam, combat_ai, amazon_labeled, fake_reviews_cg,
  MAiDE-up's English rows) found MAiDE-up's short real English reviews binding: 0.3 % put out of
  scope at 0, 0.7 % at 0.2, 1.6 % at 0.4, while 0 instead of 0.2 keeps one more of 17,985 non-English
  MAiDE-up reviews in scope. A bar above 0 also put short English reviews ("Nice room.", "Great.")
  out of scope, which platforms receive every day; ``min_confidence`` raises it where wanted.

Example::

    >>> from fakereview_nlp.language import detect_languages, in_scope
    >>> guesses = detect_languages(["The room was clean and the staff were friendly.", "👍"])
    >>> [(g.language, g.reason) for g in guesses]
    [('en', 'identified'), (None, 'too short')]
    >>> [in_scope(g, ("en",)) for g in guesses]
    [True, False]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: The language-ID library and version the rules below were measured with (pinned in pyproject.toml).
LIBRARY = "py3langid 0.4.0"
#: Fewer letters than this and a text is "too short" to identify (emoji, digits, "ok", "A+").
MIN_LETTERS = 3
#: The least probability of the top language for :func:`in_scope` to keep a text.
MIN_CONFIDENCE = 0.0

#: The languages assumed for a model folder that records none (no ``model_info.json``): every
#: corpus this package trained on before languages were recorded is English.
DEFAULT_MODEL_LANGUAGES: tuple[str, ...] = ("en",)
#: :func:`training_languages`: texts sampled, and the least share a language needs to be kept.
TRAINING_SAMPLE = 2000
MIN_TRAINING_SHARE = 0.02

#: What a :class:`LanguageGuess` rests on.
Reason = Literal["identified", "too short", "no language"]
# Labels of py3langid that name no language: "zxx" (no linguistic content), "und" (undetermined).
_NO_LANGUAGE = frozenset({"zxx", "und"})

_lock = threading.Lock()
_identifier: Any = None


@dataclass(frozen=True)
class LanguageGuess:
    """The language of one text.

    Attributes:
        language (`str` or `None`): ISO 639-1 code (``"en"``, ``"ru"``, ``"zh"``; a 3-letter
            ISO 639-3 code for the few languages that have none, e.g. ``"kab"``), or ``None`` when
            the text is too short to identify or the detector names no language.
        confidence (`float`): the detector's probability for ``language``, in [0, 1]; 0.0 when
            ``language`` is ``None``.
        reason (`"identified"`, `"too short"` or `"no language"`): ``"too short"`` when the text
            has fewer than :data:`MIN_LETTERS` letters; ``"no language"`` when the detector finds
            no linguistic content in it.
    """

    language: str | None
    confidence: float
    reason: Reason


def _get_identifier() -> Any:
    """The py3langid identifier, loaded once per process (about 1 s) under a lock."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                try:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier
                except ImportError as error:  # pragma: no cover - a core dependency
                    raise ImportError(
                        "language detection needs py3langid, a core dependency of fakereview-nlp: "
                        "pip install 'py3langid==0.4.0'"
                    ) from error
                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def detect_languages(texts: Sequence[str]) -> list[LanguageGuess]:
    """The language of each text, in the same order.

    Args:
        texts (`Sequence[str]`): the texts. A bare ``str`` is refused (wrap it as ``[text]``); an
            empty sequence returns ``[]``.

    Returns:
        `list[LanguageGuess]`: one per text. The same texts always give the same guesses.

    Raises:
        TypeError: ``texts`` is a ``str`` or holds something that is not a ``str``.

    Example::

        >>> [g.language for g in detect_languages(["Das Zimmer war sauber und ruhig.", "ok"])]
        ['de', None]
    """
    if isinstance(texts, str):
        raise TypeError("detect_languages() expects a list of texts; wrap a single text as [text]")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"detect_languages() expects texts of type str; texts[{index}] is {type(text).__name__}"
            )
    guesses: list[LanguageGuess] = []
    identifier = None
    for text in texts:
        if _letters(text) < MIN_LETTERS:
            guesses.append(LanguageGuess(None, 0.0, "too short"))
            continue
        if identifier is None:
            identifier = _get_identifier()
        code, probability = identifier.classify(text)
        if code in _NO_LANGUAGE:
            guesses.append(LanguageGuess(None, 0.0, "no language"))
        else:
            guesses.append(LanguageGuess(str(code), float(probability), "identified"))
    return guesses


def _check_languages(model_languages: Sequence[str]) -> None:
    if isinstance(model_languages, str):
        raise TypeError("model_languages must be a list of ISO 639-1 codes, e.g. ('en',); got a str")


def out_of_scope_reason(
    guess: LanguageGuess, model_languages: Sequence[str], *, min_confidence: float = MIN_CONFIDENCE
) -> str | None:
    """Why a model that reads ``model_languages`` should not judge the text of ``guess``; ``None`` if it may.

    Args:
        guess (`LanguageGuess`): from :func:`detect_languages`.
        model_languages (`Sequence[str]`): ISO 639-1 codes the model was trained on, e.g. ``("en",)``.
        min_confidence (`float`, defaults to :data:`MIN_CONFIDENCE`): the least probability of the
            text's language.

    Returns:
        `str` or `None`: one line for a reader ("too short to identify its language", "language
        'ru' (0.99); the model reads en", "language uncertain: en at 0.12 < 0.2"), or ``None``.
    """
    _check_languages(model_languages)
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0, 1]; got {min_confidence!r}")
    if guess.reason == "too short":
        return "too short to identify its language"
    if guess.language is None:
        return "no language identified in it"
    if guess.confidence < min_confidence:
        return f"language uncertain: {guess.language} at {guess.confidence:.2f} < {min_confidence:g}"
    if guess.language not in model_languages:
        return f"language {guess.language!r} ({guess.confidence:.2f}); the model reads {', '.join(model_languages)}"
    return None


def in_scope(
    guess: LanguageGuess, model_languages: Sequence[str], *, min_confidence: float = MIN_CONFIDENCE
) -> bool:
    """Whether a model that reads ``model_languages`` may give a verdict on the text of ``guess``.

    True only when the text's language is one of ``model_languages`` with probability at least
    ``min_confidence``; texts too short to identify are out of scope. See :func:`out_of_scope_reason`.

    Example::

        >>> in_scope(LanguageGuess("ru", 0.99, "identified"), ("en",))
        False
    """
    return out_of_scope_reason(guess, model_languages, min_confidence=min_confidence) is None


def training_languages(
    texts: Sequence[str], *, sample: int = TRAINING_SAMPLE, min_share: float = MIN_TRAINING_SHARE, seed: int = 0
) -> list[str]:
    """The languages a model trained on ``texts`` reads: each identified in at least ``min_share`` of a sample.

    A seeded sample of up to ``sample`` texts (the same texts give the same answer) is identified
    with :func:`detect_languages`; texts too short or uncertain (below :data:`MIN_CONFIDENCE`) do
    not count, so a few odd rows cannot add a language, and the share is of the identified texts.

    Returns:
        `list[str]`: ISO 639-1 codes, most frequent first; ``[]`` when nothing could be identified.

    Raises:
        ValueError: ``sample`` < 1 or ``min_share`` outside (0, 1].
    """
    import random

    if not isinstance(sample, int) or sample < 1:
        raise ValueError(f"sample must be a positive int, got {sample!r}")
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}")
    texts = list(texts)
    if len(texts) > sample:
        texts = random.Random(seed).sample(texts, sample)
    texts = [t for t in texts if isinstance(t, str)]
    counts: dict[str, int] = {}
    for guess in detect_languages(texts):
        if guess.language is not None and guess.confidence >= MIN_CONFIDENCE:
            counts[guess.language] = counts.get(guess.language, 0) + 1
    total = sum(counts.values())
    kept = [code for code, n in counts.items() if total and n / total >= min_share]
    return sorted(kept, key=lambda code: (-counts[code], code))


__all__ = [
    "DEFAULT_MODEL_LANGUAGES",
    "LIBRARY",
    "MIN_TRAINING_SHARE",
    "TRAINING_SAMPLE",
    "MIN_CONFIDENCE",
    "MIN_LETTERS",
    "LanguageGuess",
    "Reason",
    "detect_languages",
    "in_scope",
    "out_of_scope_reason",
    "training_languages",
]
