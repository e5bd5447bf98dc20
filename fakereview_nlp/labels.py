"""The label vocabulary and review-table columns shared by data, corpora, training, inference and metrics.

Every model this package trains has exactly two classes, in this order, so that
``P(fake)`` is always column 1 of the logits and ``label == 1`` always means fake.
:func:`map_labels` is the one place raw label values become 0/1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final, Literal

LabelName = Literal["genuine", "fake"]

LABELS: Final[tuple[LabelName, LabelName]] = ("genuine", "fake")
LABEL2ID: Final[dict[str, int]] = {"genuine": 0, "fake": 1}
ID2LABEL: Final[dict[int, str]] = {0: "genuine", 1: "fake"}
FAKE_ID: Final[int] = 1

#: P(fake) at or above which a review's label is ``fake``. Flagging uses the model's own
#: operating threshold instead (see :func:`verdict`).
LABEL_THRESHOLD: Final[float] = 0.5


def verdict(fake_score: float, threshold: float) -> tuple[LabelName, bool]:
    """The one verdict rule: ``(label, flagged)`` for a P(fake).

    The label is ``fake`` at :data:`LABEL_THRESHOLD` (0.5); ``flagged`` is ``fake_score >=
    threshold``, the operating threshold saved with the model (chosen for a flag rate).
    """
    return ("fake" if fake_score >= LABEL_THRESHOLD else "genuine"), bool(fake_score >= threshold)


#: Columns every canonical review table starts with, in this order: a prepared corpus file
#: (then its split and metadata columns) and the ``Dataset`` of ``load_reviews`` (then ``split``).
CANONICAL_COLUMNS: Final[tuple[str, ...]] = ("id", "text", "label", "group")

#: Used when no label mapping is configured: the canonical names and 0/1.
DEFAULT_LABEL_MAP: Final[dict[str, str]] = {"genuine": "genuine", "fake": "fake", "0": "genuine", "1": "fake"}


def map_labels(
    values: Iterable[object],
    label_map: Mapping[str, str] | None,
    *,
    where: str | None = None,
    hint: str | None = None,
) -> list[int | None]:
    """Map raw label values to 0/1 through ``label_map`` (raw value → ``genuine``/``fake``).

    Args:
        values: raw labels; strings are stripped, and floats such as ``1.0`` read as ``"1"``.
        label_map (`Mapping[str, str]`, *optional*): ``None`` uses :data:`DEFAULT_LABEL_MAP`.
        where (`str`, *optional*): the source, named in the error message.
        hint (`str`, *optional*): the fix the error message suggests.

    Returns:
        `list[int | None]`: ``None`` for a missing label (``None`` or an empty string).

    Raises:
        `ValueError`: any other unmapped value, listing every value seen so one fix covers all.
    """
    mapping = dict(DEFAULT_LABEL_MAP if label_map is None else label_map)
    for raw, target in mapping.items():
        if target not in LABEL2ID:
            raise ValueError(f"label_map maps {raw!r} to {target!r}; targets must be one of {list(LABELS)}")
    out: list[int | None] = []
    unmapped: Counter[str] = Counter()
    for value in values:
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(None)
            continue
        key = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            key = str(int(value))
        if key in mapping:
            out.append(LABEL2ID[mapping[key]])
        else:
            unmapped[key] += 1
            out.append(None)
    if unmapped:
        seen = ", ".join(f"{k!r} ({n})" for k, n in sorted(unmapped.items()))
        source = f" in {where}" if where else ""
        raise ValueError(
            f"label values {seen}{source} are not in label_map {mapping}; expected one of {sorted(mapping)}. "
            + (hint or "Add them to label_map (for example {'deceptive': 'fake', 'truthful': 'genuine'})")
        )
    return out
