"""fakereview_nlp: tell genuine reviews from purchased or fake ones.

Example::

    >>> from fakereview_nlp import classify
    >>> classify(["Best hotel ever!!! Amazing!!!"])  # doctest: +SKIP
    [ReviewVerdict(label='fake', fake_score=0.93, flagged=True)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fakereview_nlp.labels import ID2LABEL, LABEL2ID, LABELS
from fakereview_nlp.model.default_model import default_model_path

if TYPE_CHECKING:
    from fakereview_nlp.explanations.occlusion import ExplainedSpan, ReviewExplanation
    from fakereview_nlp.inference import FakeReviewClassifier, ReviewVerdict, classify, clear_cache, explain

__version__ = "0.1.0"

# The inference names are imported on first use, so `import fakereview_nlp` (and the
# `fakereview --help` CLI) does not pay for importing torch and transformers.
_LAZY = {"classify", "clear_cache", "explain", "FakeReviewClassifier", "ReviewVerdict"}
# In `explanations/`, not `explain/`: a subpackage named `explain` would replace the
# function `fakereview_nlp.explain` with itself as soon as it is imported.
_LAZY_EXPLAIN = {"ExplainedSpan", "ReviewExplanation"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from fakereview_nlp import inference

        return getattr(inference, name)
    if name in _LAZY_EXPLAIN:
        from fakereview_nlp.explanations import occlusion

        return getattr(occlusion, name)
    raise AttributeError(f"module 'fakereview_nlp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY | _LAZY_EXPLAIN)


__all__ = [
    "LABELS",
    "LABEL2ID",
    "ID2LABEL",
    "FakeReviewClassifier",
    "ReviewVerdict",
    "ExplainedSpan",
    "ReviewExplanation",
    "classify",
    "clear_cache",
    "explain",
    "default_model_path",
    "__version__",
]
