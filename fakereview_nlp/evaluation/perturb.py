"""Simple perturbations a fake-review seller would try, for robustness slices.

Each function is deterministic given its seed, changes no review's label, and keeps the text
readable: adjacent-letter swaps inside words (typos), lower or upper case, and the sentences of
a review in another order. A detector whose AUC collapses under these is reading surface
features a seller can change for free.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

_WORD = re.compile(r"[^\W\d_]{4,}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def add_typos(text: str, *, rate: float = 0.1, seed: int = 0) -> str:
    """Swap two adjacent inner letters in a ``rate`` share of the words of four letters or more."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate!r}; 0.1 swaps letters in one word of ten")
    rng = random.Random(seed)

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        i = rng.randrange(1, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]

    return _WORD.sub(swap, text)


def lower_case(text: str, *, seed: int = 0) -> str:
    """The review in lower case (``seed`` unused: every perturbation takes one)."""
    return text.lower()


def upper_case(text: str, *, seed: int = 0) -> str:
    """The review in upper case, as shouted five-star reviews are (``seed`` unused)."""
    return text.upper()


def shuffle_sentences(text: str, *, seed: int = 0) -> str:
    """The review's sentences in a seeded random order (a one-sentence review is unchanged)."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    random.Random(seed).shuffle(sentences)
    return " ".join(sentences)


PERTURBATIONS: dict[str, Callable[..., str]] = {
    "typos": add_typos,
    "lower_case": lower_case,
    "upper_case": upper_case,
    "sentence_order": shuffle_sentences,
}


def perturb_all(texts: Sequence[str], name: str, *, seed: int = 0) -> list[str]:
    """Every text perturbed by ``PERTURBATIONS[name]``, each with its own seed (``seed`` + its index)."""
    if isinstance(texts, str):
        raise TypeError("perturb_all() expects a list of texts; wrap a single review as [text]")
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; choose one of {sorted(PERTURBATIONS)}")
    fn = PERTURBATIONS[name]
    return [fn(t, seed=seed + i) for i, t in enumerate(texts)]
