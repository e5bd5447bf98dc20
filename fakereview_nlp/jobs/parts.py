"""What both engines share: scoring a chunk of rows, and the part files a job writes.

A job cuts its input into chunks, scores each with :func:`score_chunk`, and writes it as one
part file named ``part-FILE-CHUNK-nROWS-uUNSCORED-oOUTOFSCOPE.EXT`` (:func:`part_name`). A part file exists
only once complete, so the parts present are the work done: ``--resume`` keeps them when the job
description saved beside them (:data:`MANIFEST`) matches this job's (:func:`job_mismatch`). The
local engine (:mod:`fakereview_nlp.jobs.local`) joins its parts into one file; the Ray engine
(:mod:`fakereview_nlp.jobs.ray`) keeps them as a folder of Parquet files.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fakereview_nlp.data.tables import check_text_values, missing_text, require_columns
from fakereview_nlp.labels import verdict

if TYPE_CHECKING:
    import pandas as pd

    from fakereview_nlp.inference import FakeReviewClassifier
    from fakereview_nlp.jobs.options import ScoringOptions

logger = logging.getLogger("fakereview_nlp.jobs")

SCORE_COLUMNS = ("fake_score", "label", "flagged")
#: After the scores: the review's language, whether the model can read it (empty for a row without
#: text), and the model's version (``model_info.json``; empty when the folder records none).
SCOPE_COLUMNS = ("language", "in_scope", "model_version")
#: Added by ``--explain``: JSON list of ``[start, end, delta]`` of the top spans (see :mod:`fakereview_nlp.explanations.occlusion`).
EXPLAIN_COLUMN = "top_spans"
EXPLAIN_TOP_K = 3
#: Name of the job description kept with the part files, checked by ``--resume``.
MANIFEST = "_fakereview_job.json"
#: Part files: ``part-FILE-CHUNK-nROWS-uUNSCORED-oOUTOFSCOPE.EXT`` (file and chunk numbered from 0;
#: ``-oN`` is absent from parts written before the out-of-scope count existed).
PART_PATTERN = re.compile(r"^part-(\d{5})-(\d{9})-n(\d+)-u(\d+)(?:-o(\d+))?\.(csv|tsv|jsonl|parquet)$")


# -- scoring -----------------------------------------------------------------------------------


def output_columns(
    input_columns: Sequence[str], id_column: str | None, *, explain: bool = False
) -> list[str]:
    """The columns of a scored table: the kept input columns (clashes renamed ``input_*``), then the scores,
    the scope columns (and ``top_spans`` with ``explain``)."""
    added = (*SCORE_COLUMNS, *SCOPE_COLUMNS, EXPLAIN_COLUMN) if explain else (*SCORE_COLUMNS, *SCOPE_COLUMNS)
    kept = [id_column] if id_column is not None else list(input_columns)
    return [f"input_{c}" if c in added else c for c in kept] + list(added)


def score_chunk(
    classifier: FakeReviewClassifier,
    frame: pd.DataFrame,
    *,
    text_column: str,
    id_column: str | None,
    batch_size: int | None,
    long_text: Literal["truncate", "chunk"],
    where: str,
    explain: bool = False,
    out_of_scope: Literal["abstain", "score"] = "abstain",
) -> pd.DataFrame:
    """``frame``'s kept columns plus ``fake_score``, ``label``, ``flagged``, ``language``, ``in_scope``
    and ``model_version``, one row per input row.

    A missing or empty text (``None``, NaN, ``""``, only whitespace) is not scored: its
    ``fake_score`` is NaN and its ``label``, ``flagged``, ``language`` and ``in_scope`` are ``None``
    (empty in CSV, null in JSONL and Parquet). A text that is not a string (a JSON number or boolean, a Parquet int column)
    is a ``TypeError`` naming the row, the column and the type, as in :func:`fakereview_nlp.classify`.
    A text the model cannot read (another language, uncertain, under 3 letters) has ``in_scope``
    false and, with ``out_of_scope="abstain"``, no verdict (empty ``fake_score``, ``label``,
    ``flagged``), exactly as :meth:`~fakereview_nlp.inference.FakeReviewClassifier.classify` decides.
    Input columns named like an added column are kept as ``input_<name>``. With ``explain``, a
    ``top_spans`` column holds each scored
    review's top spans as JSON ``[[start, end, delta], ...]`` (offsets into the text as read; empty
    for an unscored row), and ``fake_score`` is the one the explanation starts from.
    """
    import json

    import numpy as np
    import pandas as pd

    require_columns(list(frame.columns), {"--text-column": text_column, "--id-column": id_column}, where)
    values = frame[text_column].tolist()
    missing = missing_text(values)
    present = np.flatnonzero(~missing)
    # the API's policy (check_texts): a number or a list is an error, never a silent score of str(101)
    check_text_values(values, column=text_column, where=where, first_row=int(frame.attrs.get("first_row", 0)))
    texts = [values[i] for i in present]
    scores = np.full(len(frame), np.nan)
    spans: list[str | None] = [None] * len(frame)
    # Rows without text keep None (an empty cell), not a verdict on a score they never got.
    label = np.full(len(frame), None, dtype=object)
    flagged = np.full(len(frame), None, dtype=object)
    language = np.full(len(frame), None, dtype=object)
    in_scope = np.full(len(frame), None, dtype=object)
    results: list[Any] = []
    if texts and explain:
        results = classifier.explain(texts, EXPLAIN_TOP_K, batch_size=batch_size, out_of_scope=out_of_scope)
    elif texts:
        results = classifier.classify(texts, batch_size, long_text=long_text, out_of_scope=out_of_scope)
    for row, result in zip(present, results, strict=True):
        language[row], in_scope[row] = result.language, bool(result.in_scope)
        if result.fake_score is None:  # abstained: no verdict, as for a row without text
            continue
        scores[row] = result.fake_score
        label[row], flagged[row] = verdict(float(result.fake_score), classifier.threshold)
        if explain:
            spans[row] = json.dumps([[s.start, s.end, round(s.delta, 6)] for s in result.spans])
    out = frame[[id_column]].copy() if id_column is not None else frame.copy()
    # An input that already has e.g. a gold `label` column keeps it as `input_label`: the
    # predicted columns always have the same names, and no input value is overwritten.
    added = output_columns([], None, explain=explain)
    out = out.rename(columns={c: f"input_{c}" for c in added if c in out.columns})
    out["fake_score"] = scores
    out["label"] = pd.Series(label, index=out.index, dtype=object)
    out["flagged"] = pd.Series(flagged, index=out.index, dtype=object)
    out["language"] = pd.Series(language, index=out.index, dtype=object)
    out["in_scope"] = pd.Series(in_scope, index=out.index, dtype=object)
    out["model_version"] = pd.Series([classifier.model_version] * len(frame), index=out.index, dtype=object)
    if explain:
        out[EXPLAIN_COLUMN] = pd.Series(spans, index=out.index, dtype=object)
    return out


def unscored_count(scored: pd.DataFrame) -> int:
    """Rows of a :func:`score_chunk` result that got no score because they have no text (missing or empty)."""
    if "in_scope" in scored.columns:  # out-of-scope rows without a score are counted apart
        return int(scored["in_scope"].isna().sum())
    return int(scored["fake_score"].isna().sum())


def out_of_scope_count(scored: pd.DataFrame) -> int:
    """Rows of a :func:`score_chunk` result whose text the model cannot read (``in_scope`` false)."""
    if "in_scope" not in scored.columns:
        return 0
    return int(sum(1 for v in scored["in_scope"] if v is not None and v == False))  # noqa: E712 (numpy bools too)


def out_of_scope_notice(n_out: int, n_rows: int, out_of_scope: str) -> None:
    """The one warning a job gives about rows its model cannot read (another language, too short)."""
    if n_out:
        what = (
            "left without a verdict (empty fake_score, label, flagged)"
            if out_of_scope == "abstain"
            else "scored anyway (--out-of-scope score); do not act on their verdicts"
        )
        logger.warning(
            "%d of %d rows are out of the model's scope (a language it does not read, or too short to tell) "
            "and were %s; their in_scope column is false and language says why",
            n_out, n_rows, what,
        )  # fmt: skip


def unscored_warning(n_unscored: int, n_rows: int, text_column: str) -> None:
    """The one warning a job gives about rows it kept but did not score."""
    if n_unscored:
        logger.warning(
            "%d of %d rows have a missing or empty %r and were kept unscored (empty fake_score, label, flagged)",
            n_unscored, n_rows, text_column,
        )  # fmt: skip


# -- part files: the unit of exactly-once and resume ------------------------------------------


@dataclass(frozen=True)
class Part:
    """A completed part file: the scored rows of chunk ``chunk`` of input file ``file``."""

    file: int
    chunk: int
    n_rows: int
    n_unscored: int
    name: str
    n_out_of_scope: int = 0


def part_name(file: int, chunk: int, n_rows: int, n_unscored: int, ext: str, n_out_of_scope: int = 0) -> str:
    return f"part-{file:05d}-{chunk:09d}-n{n_rows}-u{n_unscored}-o{n_out_of_scope}.{ext}"


def parse_parts(names: Sequence[str]) -> dict[tuple[int, int], Part]:
    """The completed parts among file ``names`` (temporary and other files ignored), by (file, chunk)."""
    parts: dict[tuple[int, int], Part] = {}
    for name in names:
        match = PART_PATTERN.match(name)
        if match:
            f, c, n, u = (int(g) for g in match.groups()[:4])
            parts[(f, c)] = Part(f, c, n, u, name, int(match.group(5) or 0))
    return parts


def job_mismatch(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The settings that differ between a saved job description and this job's, as readable lines."""
    keys = sorted(set(saved) | set(current))
    return [
        f"{k}: {saved.get(k)!r} then, {current.get(k)!r} now" for k in keys if saved.get(k) != current.get(k)
    ]


def job_identity(
    engine: str, options: ScoringOptions, *, chunk_rows: int, encoding: str, **where: Any
) -> dict[str, Any]:
    """The job description saved beside its parts (:data:`MANIFEST`) and compared by ``--resume``.

    Both engines describe a job by the options that change its output (:meth:`ScoringOptions.identity`),
    how it cuts and decodes its input, and ``where``: the engine's own keys (its inputs, formats, model).
    """
    return {"engine": engine, "encoding": encoding, "chunk_rows": chunk_rows, **options.identity(), **where}


def check_same_job(
    saved: Mapping[str, Any], current: Mapping[str, Any], *, into: str, parts: str, fix: str
) -> None:
    """Refuse to ``--resume`` into parts written by another job: the output would mix two jobs' scores.

    ``into`` is the output named to the user, ``parts`` says which parts are there, ``fix`` how to start over.
    """
    differs = job_mismatch(saved, current)
    if differs:
        raise ValueError(
            f"cannot --resume into {into!r}: its {parts} come from a different job ({'; '.join(differs)}); {fix}"
        )


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``--resume`` compares to tell that an input or model file is unchanged: path, size, mtime."""
    stat = os.stat(path)
    return {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def model_identity(model: Any) -> Any:
    """The model as ``--resume`` compares it: every file of a model directory with its size and mtime."""
    from fakereview_nlp.inference import FakeReviewClassifier

    if isinstance(model, FakeReviewClassifier):
        return repr(model)
    folder = Path(os.fspath(model))
    if not folder.is_dir():
        return os.fspath(model)  # a Hub id
    return {
        "path": str(folder.resolve()),
        "files": {
            p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(folder.iterdir()) if p.is_file()
        },
    }


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int | None, *, enabled: bool, world: int, initial: int = 0) -> Any:
    """A tqdm bar of reviews scored (shared by both engines), or a no-op stand-in when disabled."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, unit=" reviews", unit_scale=True, file=sys.stderr, dynamic_ncols=True,
        desc="classify" + (f" (x{world} processes)" if world > 1 else ""),
    )  # fmt: skip


__all__ = [
    "EXPLAIN_COLUMN",
    "EXPLAIN_TOP_K",
    "MANIFEST",
    "PART_PATTERN",
    "SCOPE_COLUMNS",
    "SCORE_COLUMNS",
    "Part",
    "check_same_job",
    "file_identity",
    "job_identity",
    "job_mismatch",
    "model_identity",
    "out_of_scope_count",
    "out_of_scope_notice",
    "output_columns",
    "parse_parts",
    "part_name",
    "progress_bar",
    "score_chunk",
    "unscored_count",
    "unscored_warning",
]
