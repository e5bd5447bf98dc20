"""The fakereview-nlp reference model as an installable folder (no code of its own).

``fakereview_nlp.classify(texts)`` finds it when no model is named; ``get_model_path()`` is
the directory to pass to ``FakeReviewClassifier.from_pretrained`` or ``transformers.pipeline``.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def get_model_path() -> Path:
    """The folder holding ``config.json``, ``model.safetensors``, the tokenizer and the calibration files."""
    return Path(__file__).resolve().parent / "model"


__all__ = ["get_model_path"]
