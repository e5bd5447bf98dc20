"""The label vocabulary and review-table columns shared by data, corpora, training, inference and metrics.

Every model this package trains has exactly two classes, in this order, so that
``P(fake)`` is always column 1 of the logits and ``label == 1`` always means fake.
:func:`map_labels` is the one place raw label values become 0/1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

LabelName = Literal["genuine", "fake"]

LABELS: Final[tuple[LabelName, LabelName]] = ("genuine", "fake")
LABEL2ID: Final[dict[str, int]] = {"genuine": 0, "fake": 1}
ID2LABEL: Final[dict[int, str]] = {0: "genuine", 1: "fake"}
FAKE_ID: Final[int] = 1

#: A model may have one output per kind of fake (``model.fake_kinds: per_source``): its labels are
#: ``genuine`` and ``fake:<kind>`` (e.g. ``fake:maide_up``). P(fake) is then one minus P(genuine), so
#: the fake logits combine by log-sum-exp into the one ``fake`` column everything else reads.
FAKE_KIND_PREFIX: Final[str] = "fake:"


def fake_kind_label(kind: str) -> str:
    """The output label of one kind of fake: ``fake:<kind>``."""
    if not kind or not isinstance(kind, str):
        raise ValueError(f"a kind of fake needs a non-empty name, got {kind!r}")
    return f"{FAKE_KIND_PREFIX}{kind}"


def output_labels(kinds: Sequence[str] = ()) -> dict[int, str]:
    """``id2label`` of a classifier: ``{0: genuine, 1: fake}``, or with ``kinds`` ``{0: genuine, 1: fake:<k1>, ...}``."""
    if not kinds:
        return dict(ID2LABEL)
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"kinds of fake must be distinct, got {list(kinds)}")
    return {0: "genuine", **{i + 1: fake_kind_label(k) for i, k in enumerate(kinds)}}


def output_columns(id2label: Mapping[int | str, str] | None, where: str) -> tuple[int, tuple[int, ...]]:
    """``(genuine column, fake columns)`` of a classifier's logits, from its ``id2label``.

    A fake-review model has one ``genuine`` label and either one ``fake`` label or one or more
    ``fake:<kind>`` labels; anything else (``LABEL_0``/``LABEL_1`` of an untrained head) is refused.
    """
    labels = {int(k): str(v).lower() for k, v in (id2label or {}).items()}
    genuine = [i for i, v in labels.items() if v == "genuine"]
    fakes = tuple(sorted(i for i, v in labels.items() if v == "fake" or v.startswith(FAKE_KIND_PREFIX)))
    plain_fake = sum(v == "fake" for v in labels.values())
    if len(genuine) != 1 or not fakes or len(genuine) + len(fakes) != len(labels) or (plain_fake and len(fakes) > 1):
        raise ValueError(
            f"{where} has id2label {labels}; a fake-review model needs the labels {{0: 'genuine', 1: 'fake'}} "
            "(or 'genuine' and one 'fake:<kind>' per kind of fake). Train it with this package or fix config.json"
        )
    return genuine[0], fakes


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
