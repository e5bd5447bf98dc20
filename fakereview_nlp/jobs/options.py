"""How a job scores its rows: one frozen object handed through both engines.

The public functions (:func:`fakereview_nlp.jobs.local.classify_file`,
:func:`fakereview_nlp.jobs.ray.classify_files`, :func:`fakereview_nlp.jobs.ray.classify_dataset`)
keep their keyword arguments and build a :class:`ScoringOptions` once; everything below them
takes this object, and ``--resume`` compares :meth:`ScoringOptions.identity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

LongText = Literal["truncate", "chunk"]
OutOfScopePolicy = Literal["abstain", "score"]


@dataclass(frozen=True)
class ScoringOptions:
    """The options that decide how each row is scored.

    Attributes:
        text_column (`str`, defaults to `"text"`): the input column holding the review.
        id_column (`str`, *optional*): keep only this input column in the output.
        batch_size (`int`, *optional*): most reviews per forward pass (default: by a token budget).
        device (`str`, *optional*), dtype (`str`, *optional*): as
            :meth:`~fakereview_nlp.inference.FakeReviewClassifier.from_pretrained`.
        long_text (`"truncate"` or `"chunk"`, defaults to `"truncate"`): reviews past the model's length.
        explain (`bool`, defaults to `False`): add the ``top_spans`` column (occlusion).
        out_of_scope (`"abstain"` or `"score"`, defaults to `"abstain"`): rows the model cannot
            read (another language, too short): left without a verdict, or scored anyway; both
            have ``in_scope`` false (see :meth:`~fakereview_nlp.inference.FakeReviewClassifier.classify`).
    """

    text_column: str = "text"
    id_column: str | None = None
    batch_size: int | None = None
    device: str | None = None
    dtype: str | None = None
    long_text: LongText = "truncate"
    explain: bool = False
    out_of_scope: OutOfScopePolicy = "abstain"

    def __post_init__(self) -> None:
        if self.out_of_scope not in ("abstain", "score"):
            raise ValueError(
                f"out_of_scope={self.out_of_scope!r} is not supported; expected 'abstain' or 'score' (--out-of-scope)"
            )
        if self.long_text not in ("truncate", "chunk"):
            raise ValueError(f"long_text={self.long_text!r} is not supported; expected 'truncate' or 'chunk'")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, got {self.batch_size!r}")
        if self.explain and self.long_text != "truncate":
            raise ValueError("--explain works on truncated reviews only; drop --long-text chunk or --explain")

    @property
    def read_columns(self) -> list[str] | None:
        """The input columns a job needs to read (``None``: all of them, as all are kept)."""
        return None if self.id_column is None else [self.id_column, self.text_column]

    def identity(self) -> dict[str, Any]:
        """The options that change the output, as ``--resume`` compares them (device, dtype and
        batch size change speed, not scores beyond float noise, so a job may resume on other hardware)."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "long_text": self.long_text,
            "explain": self.explain,
            "out_of_scope": self.out_of_scope,
        }

    def chunk_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~fakereview_nlp.jobs.parts.score_chunk` (all but ``where``)."""
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "batch_size": self.batch_size,
            "long_text": self.long_text,
            "explain": self.explain,
            "out_of_scope": self.out_of_scope,
        }


def check_chunk_rows(chunk_rows: object, *, name: str = "chunk_rows") -> None:
    """Refuse a chunk size that is not a positive int (``name``: the argument as the caller spells it)."""
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"{name} must be a positive int, got {chunk_rows!r}")


__all__ = ["LongText", "OutOfScopePolicy", "ScoringOptions", "check_chunk_rows"]
