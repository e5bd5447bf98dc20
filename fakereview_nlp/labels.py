"""The label vocabulary shared by data, training, inference and metrics.

Every model this package trains has exactly two classes, in this order, so that
``P(fake)`` is always column 1 of the logits and ``label == 1`` always means fake.
"""

from __future__ import annotations

from typing import Final, Literal

LabelName = Literal["genuine", "fake"]

LABELS: Final[tuple[LabelName, LabelName]] = ("genuine", "fake")
LABEL2ID: Final[dict[str, int]] = {"genuine": 0, "fake": 1}
ID2LABEL: Final[dict[int, str]] = {0: "genuine", 1: "fake"}
FAKE_ID: Final[int] = 1
