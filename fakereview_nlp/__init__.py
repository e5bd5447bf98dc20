"""fakereview_nlp: tell genuine reviews from purchased or fake ones."""

from __future__ import annotations

from fakereview_nlp.labels import ID2LABEL, LABEL2ID, LABELS

__version__ = "0.1.0"

__all__ = ["LABELS", "LABEL2ID", "ID2LABEL", "__version__"]
