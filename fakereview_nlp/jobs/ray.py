"""Batch scoring on Ray: :func:`classify_dataset` for Ray Data pipelines, and ``fakereview classify --engine ray``.

Two entry points, one scorer (a callable class, so each replica loads the model once, in its
own process, never per batch and never on the driver; inside it the package's length-sorted
:class:`~fakereview_nlp.inference.FakeReviewClassifier` and the missing-text policy of
:func:`fakereview_nlp.jobs.parts.score_chunk`):

* :func:`classify_dataset` adds ``fake_score``, ``label``, ``flagged``, ``language``, ``in_scope``
  and ``model_version`` (see :func:`fakereview_nlp.jobs.parts.score_chunk`) to any
  ``ray.data.Dataset`` with ``map_batches(..., compute=ray.data.ActorPoolStrategy(...))``.
  It is a lazy transformation: what happens on a failure is Ray Data's business (a crashed
  replica's batch is retried; a rerun starts over).
* :func:`classify_files` (the CLI's ``--engine ray``) is an exactly-once, resumable job from
  files to a folder of Parquet part files. The driver checks every input file first (the same
  reader and the same error messages as the local engine: malformed CSV with its line,
  undecodable bytes with their offset, the JSONL schema rule) and cuts each file into chunks of
  ``--chunk-rows`` rows (Parquet from its metadata; CSV/TSV/JSONL by the byte offset where each
  chunk starts). Each replica is then handed chunk descriptors: it reads its chunk (a seek, not
  a scan), scores it, and writes ``part-FILE-CHUNK-nROWS-uUNSCORED.parquet`` under a temporary
  name that it renames when complete. A part is therefore there whole or not at all, a retried
  chunk (Ray retries the work of a replica that died) rewrites the same part, ``--resume``
  skips chunks whose part exists, and at the end the driver checks that every chunk of every
  file has its part with the right row count before it writes ``_SUCCESS``.

Rows are not kept in input order across parts (Ray runs chunks in whatever order replicas
free up); within a part they are. Join on ``--id-column``, or on the ``row_number`` column that
is added without one (0-based position in the input: files in sorted order, header not counted).

Ray Data's own checkpointing (``ray.data.checkpoint``, beta in Ray 2.60) was not used: it needs
an id column, keeps all finished ids in memory, and writes its checkpoint after the data, so a
crash between the two writes the rows again on resume; parts keyed by input chunk need none of that.
"""

from __future__ import annotations

import contextlib
import glob as globlib
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fakereview_nlp.data.tables import (
    DEFAULT_CHUNK_ROWS,
    EXTENSIONS,
    TableChunk,
    TableIndex,
    TableReader,
    infer_format,
)
from fakereview_nlp.jobs.options import ScoringOptions, check_chunk_rows
from fakereview_nlp.jobs.parts import (
    MANIFEST,
    SCORE_COLUMNS,
    Part,
    check_same_job,
    file_identity,
    job_identity,
    model_identity,
    out_of_scope_count,
    out_of_scope_notice,
    output_columns,
    parse_parts,
    part_name,
    progress_bar,
    score_chunk,
    unscored_count,
    unscored_warning,
)
from fakereview_nlp.runtime.devices import available_cpus

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import ray.data

logger = logging.getLogger(__name__)

#: Column added when there is no ``--id-column``: the row's 0-based position in the input.
ROW_NUMBER = "row_number"
#: Written last, with the job's counts, once every chunk has its part.
SUCCESS = "_SUCCESS"
#: The chunk index of every input file, kept so that ``--resume`` need not scan the input again.
INDEX = "_fakereview_index.json"

Replicas = int | tuple[int, int]


def parse_replicas(text: str | None) -> Replicas | None:
    """``"4"`` -> ``4``; ``"1,8"`` -> ``(1, 8)`` (autoscale between them); ``None`` -> ``None``."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).split(",")]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--replicas {text!r} is not N or MIN,MAX (positive integers)") from None
    if len(numbers) not in (1, 2) or min(numbers) < 1 or (len(numbers) == 2 and numbers[0] > numbers[1]):
        raise ValueError(f"--replicas {text!r} is not N or MIN,MAX with 1 <= MIN <= MAX")
    return numbers[0] if len(numbers) == 1 else (numbers[0], numbers[1])


def _compute(replicas: Replicas) -> ray.data.ActorPoolStrategy:
    import ray.data

    if isinstance(replicas, tuple):
        return ray.data.ActorPoolStrategy(min_size=replicas[0], max_size=replicas[1])
    return ray.data.ActorPoolStrategy(size=replicas)


def _check_model(model: str | os.PathLike[str] | None) -> str:
    """The model path or Hub id, its files checked on the driver without loading the weights."""
    from fakereview_nlp.model.default_model import resolve_model_location
    from fakereview_nlp.model.modeling import check_model_dir

    resolved = resolve_model_location(model)
    if Path(resolved).expanduser().exists() or resolved.startswith((".", "/", "~")):
        check_model_dir(
            Path(resolved).expanduser()
        )  # names what is missing (also for a path that is not there)
    return resolved


class _Scorer:
    """One model replica: loads the classifier once, then scores pandas batches (``map_batches``)."""

    def __init__(self, model: str, options: ScoringOptions, threads: int | None) -> None:
        import torch

        from fakereview_nlp.inference import FakeReviewClassifier

        if threads:
            torch.set_num_threads(threads)
        self.classifier = FakeReviewClassifier.from_pretrained(
            model, device=options.device, dtype=options.dtype
        )
        self.options = options

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return score_chunk(self.classifier, batch, where="the dataset", **self.options.chunk_kwargs())


def _resources(
    replicas: Replicas | None,
    gpus_per_replica: float | None,
    cpus_per_replica: float | None,
    *,
    strict: bool,
    spare_cpus: int = 0,
) -> tuple[Replicas, float, float]:
    """Replicas, GPUs and CPUs per replica: the given ones, or defaults from the cluster's resources.

    ``spare_cpus`` are left to other tasks of the pipeline (a dataset's read tasks, say): replicas
    that took every CPU would leave them waiting, and the pipeline with them.
    """
    import ray

    total = ray.cluster_resources()
    gpus, cpus = float(total.get("GPU", 0)), float(total.get("CPU", 1))
    if gpus_per_replica is None:
        gpus_per_replica = 1.0 if gpus >= 1 else 0.0
    if gpus_per_replica < 0:
        raise ValueError(f"--gpus-per-replica must be >= 0, got {gpus_per_replica}")
    if replicas is None:
        replicas = max(1, int(gpus // gpus_per_replica)) if gpus_per_replica > 0 else 1
    most = replicas[1] if isinstance(replicas, tuple) else replicas
    if cpus_per_replica is None:
        cpus_per_replica = 1.0 if gpus_per_replica > 0 else max(1.0, float(int((cpus - spare_cpus) // most)))
    problems = []
    if most * cpus_per_replica + spare_cpus > cpus:
        problems.append(
            f"{most} replicas x {cpus_per_replica:g} CPUs need {most * cpus_per_replica:g}, it has {cpus:g}"
        )
    if most * gpus_per_replica > gpus:
        problems.append(
            f"{most} replicas x {gpus_per_replica:g} GPUs need {most * gpus_per_replica:g}, it has {gpus:g}"
        )
    if problems:
        message = f"the Ray cluster is too small: {'; '.join(problems)}; lower --replicas or the per-replica resources"
        if strict:
            raise ValueError(message)
        logger.warning("%s (waiting for an autoscaler to add nodes)", message)
    return replicas, gpus_per_replica, cpus_per_replica


def classify_dataset(
    ds: ray.data.Dataset,
    model: str | os.PathLike[str] | None = None,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    batch_size: int | None = None,
    rows_per_call: int = DEFAULT_CHUNK_ROWS,
    replicas: Replicas | None = None,
    gpus_per_replica: float | None = None,
    cpus_per_replica: float | None = None,
    device: str | None = None,
    dtype: str | None = None,
    long_text: Literal["truncate", "chunk"] = "truncate",
    out_of_scope: Literal["abstain", "score"] = "abstain",
) -> ray.data.Dataset:
    """``ds`` with ``fake_score``, ``label`` and ``flagged`` added by a pool of model replicas.

    Args:
        ds (`ray.data.Dataset`): rows with a text column (e.g. from ``ray.data.read_parquet``).
        model (`str`, *optional*): a model directory every node can read (shared storage), or a
            Hub id; default: :func:`fakereview_nlp.default_model_path`. Its files are checked on
            the driver; the weights are loaded only by the replicas.
        text_column (`str`, defaults to `"text"`), id_column (`str`, *optional*): as in
            :func:`fakereview_nlp.jobs.parts.score_chunk` (with ``id_column`` only it is kept).
        batch_size (`int`, *optional*): most reviews per forward pass (default: by a token budget).
        rows_per_call (`int`, defaults to `8192`): rows handed to a replica at a time
            (``map_batches(batch_size=...)``); the classifier length-sorts within them.
        replicas (`int` or `(min, max)`, *optional*): a fixed pool or an autoscaling range
            (default: one per GPU of the cluster, else 1).
        gpus_per_replica, cpus_per_replica (`float`, *optional*): Ray resources per replica
            (default: 1 GPU when the cluster has GPUs; CPUs: 1 with a GPU, else the cluster's CPUs
            split between the replicas, which is also the replica's torch thread count).
        device, dtype, long_text: as :meth:`FakeReviewClassifier.from_pretrained` / ``predict_proba``.
        out_of_scope (`"abstain"` or `"score"`, defaults to `"abstain"`): rows the model cannot read
            get no verdict, or are scored anyway; ``in_scope`` is false either way.

    Returns:
        `ray.data.Dataset` (lazy): the kept columns plus the scores; rows with a missing or empty
        text are kept with null scores. Row order is not kept.

    Example::

        >>> import ray
        >>> from fakereview_nlp.jobs.ray import classify_dataset
        >>> ds = ray.data.read_parquet("s3://bucket/reviews/")  # doctest: +SKIP
        >>> classify_dataset(ds, "/mnt/models/fakereview", id_column="review_id").write_parquet("s3://bucket/scored/")  # doctest: +SKIP
    """
    check_chunk_rows(rows_per_call, name="rows_per_call")
    options = ScoringOptions(text_column=text_column, id_column=id_column, batch_size=batch_size,
                             device=device, dtype=dtype, long_text=long_text, out_of_scope=out_of_scope)  # fmt: skip
    schema = ds.schema(fetch_if_missing=False)
    if schema is not None:
        from fakereview_nlp.data.tables import require_columns

        require_columns(
            list(schema.names), {"text_column": text_column, "id_column": id_column}, "the dataset"
        )
    path = _check_model(model)
    replicas, gpus, cpus = _resources(
        replicas, gpus_per_replica, cpus_per_replica, strict=False, spare_cpus=1
    )
    return ds.map_batches(
        _Scorer,
        fn_constructor_kwargs={"model": path, "options": options, "threads": max(1, int(cpus))},
        batch_size=rows_per_call,
        batch_format="pandas",
        compute=_compute(replicas),
        num_gpus=gpus or None,
        num_cpus=cpus,
    )  # fmt: skip


# -- the file job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayJobSummary:
    """What :func:`classify_files` did."""

    n_rows: int
    n_unscored: int
    n_parts: int
    n_parts_resumed: int
    seconds: float
    output: str
    #: Rows the model cannot read (``in_scope`` false): another language, or too short to tell.
    n_out_of_scope: int = 0


def _is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _filesystem(path: str) -> tuple[Any, str]:
    """An fsspec filesystem and the path within it (local paths: the local filesystem)."""
    import fsspec

    fs, _, paths = fsspec.get_fs_token_paths(path)
    return fs, paths[0] if paths else path


def expand_inputs(source: str, input_format: str | None = None) -> list[str]:
    """The input files named by ``source``: a file, a folder (recursively), a glob, or such a URI; sorted.

    Hidden files and files starting with ``_`` are skipped in folders, as Spark and Ray skip them,
    and so are files whose extension names no table format (unless ``input_format`` is given).
    """

    def table_file(name: str) -> bool:
        base = os.path.basename(name)
        if base.startswith((".", "_")):
            return False
        return input_format is not None or Path(base).suffix.lower() in EXTENSIONS

    if not _is_uri(source):
        source = source.removeprefix("file://")
        if any(ch in source for ch in "*?["):
            found = sorted(
                p for p in globlib.glob(source, recursive=True) if os.path.isfile(p) and table_file(p)
            )
        elif os.path.isdir(source):
            found = sorted(
                os.path.join(root, name)
                for root, dirs, names in os.walk(source)
                for name in names
                if table_file(name)
                and not any(part.startswith((".", "_")) for part in Path(root).relative_to(source).parts)
            )
        elif os.path.isfile(source):
            found = [source]
        else:
            raise FileNotFoundError(f"input {source!r} does not exist (resolved to {Path(source).resolve()})")
    else:
        fs, path = _filesystem(source)
        protocol = source.split("://", 1)[0]
        if any(ch in path for ch in "*?["):
            names = fs.glob(path)
        elif fs.isdir(path):
            names = fs.find(path)
        elif fs.exists(path):
            names = [path]
        else:
            raise FileNotFoundError(f"input {source!r} does not exist")
        found = sorted(f"{protocol}://{n}" for n in names if table_file(n))
    if not found:
        raise FileNotFoundError(
            f"input {source!r} holds no table files ({', '.join(sorted(EXTENSIONS))}); pass --input-format for others"
        )
    return found


def _reader(path: str, fmt: str, encoding: str, columns: Sequence[str] | None) -> TableReader:
    if _is_uri(path):
        fs, inner = _filesystem(path)
        return TableReader(path, fmt, encoding=encoding, columns=columns, opener=lambda: fs.open(inner, "rb"))
    return TableReader(path, fmt, encoding=encoding, columns=columns)


def _identity(path: str) -> dict[str, Any]:
    if _is_uri(path):
        fs, inner = _filesystem(path)
        info = fs.info(inner)
        return {
            "path": path,
            "size": info.get("size"),
            "mtime": str(info.get("LastModified") or info.get("mtime")),
        }
    return file_identity(path)


def _index_to_json(index: TableIndex) -> dict[str, Any]:
    return {
        "columns": index.columns,
        "first_line": index.first_line,
        "json_types": index.json_types,
        "chunks": [[c.index, c.first_row, c.n_rows, c.offset, c.line] for c in index.chunks],
    }


def _index_from_json(data: dict[str, Any]) -> TableIndex:
    chunks = [TableChunk(i, r, n, None, o, line) for i, r, n, o, line in data["chunks"]]
    return TableIndex(data["columns"], chunks, data["json_types"], data["first_line"])


def _arrow_type(types: Sequence[str]) -> pa.DataType:
    """One Parquet type for a JSONL column from the Python types seen in it (nulls aside)."""
    import pyarrow as pa

    seen = set(types) - {"NoneType"}
    if seen == {"bool"}:
        return pa.bool_()
    if seen == {"int"}:
        return pa.int64()
    if seen and seen <= {"int", "float"}:
        return pa.float64()
    return pa.string()  # strings; mixed, nested or all-null columns are written as text


def _check_text_type(
    file: str, fmt: str, index: TableIndex, encoding: str, read_columns: Sequence[str], text_column: str
) -> None:
    """A text column that is not text (JSON numbers, a Parquet int column) is the API's TypeError."""
    import pyarrow as pa

    if fmt == "parquet":
        arrow = _reader(file, fmt, encoding, read_columns)._parquet_file().schema_arrow
        kind = arrow.field(text_column).type if text_column in arrow.names else pa.string()
        wrong = (
            []
            if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
            else [str(kind)]
        )
    elif fmt == "jsonl":
        wrong = sorted(set(index.json_types.get(text_column, [])) - {"str", "NoneType"})
    else:
        wrong = []
    if wrong:
        raise TypeError(
            f"{file!r}: {text_column!r} holds {', '.join(wrong)} values, not str; write the column as text "
            "(quoted in JSON, a string column in Parquet), or null to leave a row unscored"
        )


def _output_schema(index: TableIndex, fmt: str, reader: TableReader, id_column: str | None) -> pa.Schema:
    """The one schema of every part, so that readers of the folder see one table."""
    import pyarrow as pa

    inputs = index.columns or []
    kept = [id_column] if id_column is not None else inputs
    if fmt == "parquet":
        arrow = reader._parquet_file().schema_arrow
        types = {name: arrow.field(name).type for name in kept if name in arrow.names}
    elif fmt == "jsonl":
        types = {name: _arrow_type(index.json_types.get(name, [])) for name in kept}
    else:
        types = {name: pa.string() for name in kept}
    names = output_columns(inputs, id_column)
    fields = [] if id_column is not None else [pa.field(ROW_NUMBER, pa.int64())]
    for name, original in zip(names[: len(kept)], kept, strict=True):
        fields.append(pa.field(name, types.get(original, pa.string())))
    fields += [
        pa.field("fake_score", pa.float64()),
        pa.field("label", pa.string()),
        pa.field("flagged", pa.bool_()),
        pa.field("language", pa.string()),
        pa.field("in_scope", pa.bool_()),
        pa.field("model_version", pa.string()),
    ]
    return pa.schema(fields)


def _to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    import json as _json

    import pyarrow as pa

    columns = {}
    for field in schema:
        values = frame[field.name].tolist()
        if pa.types.is_string(field.type):
            values = [None if v is None or (isinstance(v, float) and math.isnan(v))
                      else v if isinstance(v, str) else _json.dumps(v) if isinstance(v, dict | list) else str(v)
                      for v in values]  # fmt: skip
        columns[field.name] = pa.array(values, type=field.type, from_pandas=True)
    return pa.table(columns, schema=schema)


class _ChunkJob:
    """One replica of the file job: reads, scores and writes the chunks it is handed (``map_batches``)."""

    def __init__(self, *, plan: dict[str, Any], schema: bytes, scorer: dict[str, Any]) -> None:
        import pyarrow as pa

        self.plan = plan
        self.schema = pa.ipc.read_schema(pa.py_buffer(schema))
        self.scorer = _Scorer(**scorer)
        self.indexes = {int(k): _index_from_json(v) for k, v in plan["indexes"].items()}
        self.fs, self.out = _filesystem(plan["output"])

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for file, chunks in zip(batch["file"], batch["chunks"], strict=True):
            rows.extend(self._run(int(file), [int(c) for c in chunks]))
        return pd.DataFrame(rows, columns=["file", "chunk", "n_rows", "n_unscored", "n_out_of_scope"])

    def _run(self, file: int, chunks: list[int]) -> list[tuple[int, int, int, int, int]]:
        plan = self.plan
        path, fmt = plan["files"][file], plan["formats"][file]
        index = self.indexes[file]
        reader = _reader(path, fmt, plan["encoding"], plan["read_columns"])
        done = []
        for c in [c for c in chunks if index.chunks[c].n_rows == 0]:  # an empty file: an empty part
            import pandas as pd

            self._write(file, c, pd.DataFrame({f.name: [] for f in self.schema}))
            done.append((file, c, 0, 0, 0))
        wanted = {c for c in chunks if index.chunks[c].n_rows}
        if not wanted:
            return done
        start = index.chunks[min(wanted)] if fmt != "parquet" else None
        for chunk in reader.chunks(plan["chunk_rows"], select=wanted.__contains__, start=start, index=index):
            if chunk.frame is None:
                if chunk.index > max(chunks):
                    break
                continue
            scored = self.scorer(chunk.frame)
            if plan["id_column"] is None:
                first = plan["row_base"][file] + chunk.first_row
                scored.insert(0, ROW_NUMBER, range(first, first + len(scored)))
            self._write(file, chunk.index, scored)
            done.append((file, chunk.index, len(scored), unscored_count(scored), out_of_scope_count(scored)))
            wanted.discard(chunk.index)
            if not wanted:
                break
        if wanted:  # the index and the file disagree: the file changed since the job began
            raise RuntimeError(
                f"{path}: chunks {sorted(wanted)[:5]} were not found; did the file change during the job?"
            )
        return done

    def _write(self, file: int, chunk: int, scored: pd.DataFrame) -> None:
        import pyarrow.parquet as pq

        name = part_name(
            file, chunk, len(scored), unscored_count(scored), "parquet", out_of_scope_count(scored)
        )
        final = f"{self.out}/{name}"
        table = _to_arrow(scored, self.schema)
        if self.plan["local_output"]:
            tmp = f"{self.out}/.{name}.{uuid.uuid4().hex}.tmp"
            try:
                pq.write_table(table, tmp)
                os.chmod(tmp, _umask_mode())
                os.replace(tmp, final)  # a part is there whole or not at all
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        else:  # object stores: an upload becomes visible only when it is complete
            with self.fs.open(final, "wb") as handle:
                pq.write_table(table, handle)


def _umask_mode() -> int:
    from fakereview_nlp.files import umask_mode

    return umask_mode()


@contextlib.contextmanager
def ray_session(address: str | None, *, verbose: bool = False) -> Any:
    """Join the Ray cluster at ``address``, or start a local Ray (shut down on exit); reuse one already started."""
    import ray

    if ray.is_initialized():
        yield
        return
    with _ray_environment(local=not address, verbose=verbose):
        yield from _ray_session(ray, address, verbose)


@contextlib.contextmanager
def _ray_environment(*, local: bool, verbose: bool) -> Any:
    """Ray's own settings for a run that prints nothing alarming when it succeeds (a user's own values win).

    * ``RAY_AUTH_MODE=token`` for the local Ray this command starts: Ray 2.60 turns token
      authentication on by default for a local cluster and warns that it did; naming the mode
      keeps that protection and states it, so Ray has nothing to warn about.
    * ``RAY_BACKEND_LOG_LEVEL=fatal`` (not with ``-v``): the C++ core workers otherwise write
      ``core_worker ... E`` lines to stderr when replicas are stopped at the end of a successful
      job; failures still reach the user as the Python exception the job raises.
    """
    wanted = {"RAY_AUTH_MODE": "token"} if local else {}
    if not verbose:
        wanted["RAY_BACKEND_LOG_LEVEL"] = "fatal"
    saved = {k: os.environ.get(k) for k in wanted}
    for key, value in wanted.items():
        os.environ.setdefault(key, value)
    if saved.get("RAY_AUTH_MODE", "") is None:
        # Ray caches its config at import; refresh it as Ray's own _enable_token_auth does.
        with contextlib.suppress(ImportError, AttributeError):
            from ray._raylet import Config

            Config.initialize("")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)


def _ray_session(ray: Any, address: str | None, verbose: bool) -> Any:
    options: dict[str, Any] = {
        "logging_level": logging.INFO if verbose else logging.WARNING,
        "log_to_driver": verbose,
    }
    if address:
        # A cluster's nodes import their own installed package.
        ray.init(address=address, **options)
    else:
        # The workers of a local Ray import this package from where the driver does (a checkout, say).
        here = str(Path(__file__).resolve().parents[2])
        python_path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
        ray.init(num_cpus=available_cpus(), include_dashboard=False,
                 runtime_env={"env_vars": {"PYTHONPATH": python_path}}, **options)  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()


def _unwrap_ray_error(err: BaseException) -> BaseException:
    """The user's exception inside a Ray error (a replica's ValueError, say), rebuilt on the driver."""
    import re

    text = str(err)
    for name, kind in (("FileNotFoundError", FileNotFoundError), ("PermissionError", PermissionError),
                       ("UnicodeDecodeError", ValueError), ("ValueError", ValueError), ("TypeError", TypeError),
                       ("OSError", OSError)):  # fmt: skip
        matches = re.findall(rf"^{name}: (.+)$", text, flags=re.MULTILINE)
        if matches:
            return kind(f"in a Ray replica: {matches[-1].strip()}")
    return err


def classify_files(
    source: str,
    output: str,
    *,
    model: str | os.PathLike[str] | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    batch_size: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    long_text: Literal["truncate", "chunk"] = "truncate",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    input_format: str | None = None,
    encoding: str = "utf-8",
    resume: bool = False,
    ray_address: str | None = None,
    replicas: Replicas | None = None,
    gpus_per_replica: float | None = None,
    cpus_per_replica: float | None = None,
    progress: bool = True,
    out_of_scope: Literal["abstain", "score"] = "abstain",
) -> RayJobSummary:
    """Score every review in the files named by ``source`` into a folder of Parquet parts, exactly once.

    Args:
        source (`str`): a CSV/TSV/JSONL/Parquet file, a folder of them, a glob, or such a URI
            (``s3://...``, any fsspec filesystem every node can reach).
        output (`str`): the output folder (created; it must be empty or hold an earlier run of this job).
        resume (`bool`, defaults to `False`): keep the parts of an earlier run of the same job (same
            inputs, model and options, checked) and score only the missing chunks.
        ray_address (`str`, *optional*): a running cluster (``auto``, ``ray://head:10001``); default:
            a local Ray, shut down at the end.
        replicas, gpus_per_replica, cpus_per_replica: as :func:`classify_dataset`.
        Other arguments: as :func:`fakereview_nlp.jobs.local.classify_file`.

    Returns:
        `RayJobSummary`: rows, unscored rows, parts written, parts kept from an earlier run, seconds.

    See the module docstring for how every row is written exactly once.
    """
    started = time.perf_counter()
    check_chunk_rows(chunk_rows)
    options = ScoringOptions(text_column=text_column, id_column=id_column, batch_size=batch_size,
                             device=device, dtype=dtype, long_text=long_text, out_of_scope=out_of_scope)  # fmt: skip
    files = expand_inputs(source, input_format)
    formats = [infer_format(f, input_format, hint="or pass --input-format") for f in files]
    path = _check_model(model)
    out_fs, out_path, local_output = _output_folder(output, files)
    identity = job_identity(
        "ray", options, chunk_rows=chunk_rows, encoding=encoding,
        inputs=[_identity(f) for f in files], input_format=input_format, model=model_identity(path),
    )  # fmt: skip
    existing = _prepare_output(out_fs, out_path, identity, resume)
    indexes = _load_or_build_indexes(out_fs, out_path, files, formats, encoding, options.read_columns, chunk_rows,
                                     text_column, id_column, existing)  # fmt: skip
    schema = _checked_schema(files, formats, indexes, encoding, options)
    _write_json(out_fs, f"{out_path}/{MANIFEST}", identity, local_output)
    row_base = _row_bases(indexes)
    total = sum(index.n_rows for index in indexes)
    done = parse_parts([p.rsplit("/", 1)[-1] for p in existing])
    items = _work_items(indexes, formats, done, files)
    if done:
        logger.info(
            "resuming: %d of %d chunks already scored", len(done), sum(len(i.chunks) for i in indexes)
        )
    plan = {
        "files": files, "formats": formats, "encoding": encoding, "read_columns": options.read_columns,
        "chunk_rows": chunk_rows, "id_column": id_column, "row_base": row_base, "output": out_path if local_output else output,
        "local_output": local_output, "indexes": {str(i): _index_to_json(x) for i, x in enumerate(indexes)},
    }  # fmt: skip
    verbose = logging.getLogger("fakereview_nlp").isEnabledFor(logging.INFO)
    with ray_session(ray_address, verbose=verbose):
        if items:
            _run_items(items, plan, schema, path, options, replicas=replicas,
                       gpus_per_replica=gpus_per_replica, cpus_per_replica=cpus_per_replica,
                       strict=ray_address is None, progress=progress, total=total,
                       initial=sum(p.n_rows for p in done.values()))  # fmt: skip
    parts = _finish(out_fs, out_path, local_output, indexes, files, options)
    n_unscored = sum(p.n_unscored for p in parts.values())
    n_out = sum(p.n_out_of_scope for p in parts.values())
    return RayJobSummary(
        total, n_unscored, len(parts), len(done), time.perf_counter() - started, output, n_out
    )


def _output_folder(output: str, files: Sequence[str]) -> tuple[Any, str, bool]:
    """The output folder's filesystem, its path there, and whether it is local; a local one is checked
    to be no file and to hold none of the inputs."""
    out_fs, out_path = _filesystem(output)
    if _is_uri(output):
        return out_fs, out_path, False
    out_path = str(Path(output.removeprefix("file://")).resolve())
    if Path(out_path).is_file():
        raise ValueError(f"output {output!r} is a file; --engine ray writes a folder of Parquet parts")
    inside = [f for f in files if not _is_uri(f) and Path(out_path) in Path(os.path.realpath(f)).parents]
    if inside:  # the folder's part files would be replaced or removed: never an input's
        raise ValueError(
            f"output folder {output!r} holds input file {inside[0]!r}; writing there could destroy the input. "
            "Choose another -o folder"
        )
    return out_fs, out_path, True


def _checked_schema(
    files: Sequence[str],
    formats: Sequence[str],
    indexes: Sequence[TableIndex],
    encoding: str,
    options: ScoringOptions,
) -> pa.Schema:
    """The one schema of every part, after every file's text column is checked to hold text (before any replica starts)."""
    first = _reader(files[0], formats[0], encoding, options.read_columns)
    schema = _output_schema(indexes[0], formats[0], first, options.id_column)
    for file, fmt, index in zip(files, formats, indexes, strict=True):
        _check_text_type(file, fmt, index, encoding, options.read_columns, options.text_column)
    return schema


def _row_bases(indexes: Sequence[TableIndex]) -> list[int]:
    """Each file's first row number in the whole input (files in order): where its ``row_number`` starts."""
    bases, total = [], 0
    for index in indexes:
        bases.append(total)
        total += index.n_rows
    return bases


def _finish(
    fs: Any,
    out: str,
    local: bool,
    indexes: Sequence[TableIndex],
    files: Sequence[str],
    options: ScoringOptions,
) -> dict[tuple[int, int], Part]:
    """Check that the parts cover the input exactly once, write ``_SUCCESS`` with the counts, and warn
    about unscored and out-of-scope rows; returns the parts."""
    parts = parse_parts([p.rsplit("/", 1)[-1] for p in _list(fs, out)])
    _check_complete(parts, indexes, files)
    total = sum(index.n_rows for index in indexes)
    n_unscored = sum(p.n_unscored for p in parts.values())
    n_out = sum(p.n_out_of_scope for p in parts.values())
    summary = {"n_rows": total, "n_unscored": n_unscored, "n_out_of_scope": n_out, "n_parts": len(parts),
               "files": files}  # fmt: skip
    _write_json(fs, f"{out}/{SUCCESS}", summary, local)
    unscored_warning(n_unscored, total, options.text_column)
    out_of_scope_notice(n_out, total, options.out_of_scope)
    return parts


def _list(fs: Any, path: str) -> list[str]:
    try:
        return [str(p) for p in fs.ls(path, detail=False)]
    except FileNotFoundError:
        return []


def _write_json(fs: Any, path: str, data: Any, local: bool) -> None:
    text = json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"
    if local:
        from fakereview_nlp.files import atomic_write_text

        atomic_write_text(path, text)
    else:
        with fs.open(path, "w") as handle:
            handle.write(text)


def _prepare_output(fs: Any, out: str, identity: dict[str, Any], resume: bool) -> list[str]:
    """Make the output folder ready; returns the part files kept for ``--resume``."""
    fs.makedirs(out, exist_ok=True)
    entries = _list(fs, out)
    names = {p.rsplit("/", 1)[-1]: p for p in entries}
    ours = {
        n
        for n in names
        if n in (MANIFEST, SUCCESS, INDEX) or _is_part(n) or (n.startswith(".") and n.endswith(".tmp"))
    }
    foreign = sorted(set(names) - ours)
    if foreign:
        raise ValueError(
            f"output folder {out!r} holds files this job did not write ({foreign[:5]}); choose an empty or new folder"
        )
    for name in names:
        if name.startswith(".") and name.endswith(
            ".tmp"
        ):  # a part (or job file) being written when its writer died
            fs.rm(names[name])
    parts = [names[n] for n in names if _is_part(n)]
    if resume and MANIFEST in names:
        with fs.open(names[MANIFEST], "r") as handle:
            saved = json.load(handle)
        check_same_job(
            saved, json.loads(json.dumps(identity, default=str)), into=out, parts=f"{len(parts)} parts",
            fix="rerun without --resume, into a new folder, to start over",
        )  # fmt: skip
        if SUCCESS in names:
            fs.rm(names[SUCCESS])
        return parts
    if parts or MANIFEST in names:
        logger.warning("removing %d part files of an earlier run in %s%s", len(parts), out,
                       "" if resume else " (pass --resume to keep them)")  # fmt: skip
    for name in ours & set(names):
        with contextlib.suppress(FileNotFoundError):
            fs.rm(names[name])
    return []


def _is_part(name: str) -> bool:
    return bool(parse_parts([name]))


def _load_or_build_indexes(
    fs: Any, out: str, files: Sequence[str], formats: Sequence[str], encoding: str, read_columns: Sequence[str] | None,
    chunk_rows: int, text_column: str, id_column: str | None, existing: Sequence[str],
) -> list[TableIndex]:  # fmt: skip
    """Every input file's chunks, checked row by row on the driver (or read back from the last run's index)."""
    from fakereview_nlp.data.tables import require_columns

    saved_path = f"{out}/{INDEX}"
    if existing and fs.exists(saved_path):
        with fs.open(saved_path, "r") as handle:
            return [_index_from_json(x) for x in json.load(handle)]
    indexes = []
    columns: list[str] | None = None
    for path, fmt in zip(files, formats, strict=True):
        reader = _reader(path, fmt, encoding, read_columns)
        index = reader.index(chunk_rows)
        if index.columns is not None:
            require_columns(
                index.columns, {"--text-column": text_column, "--id-column": id_column}, reader.where
            )
            if columns is None:
                columns = index.columns
            elif id_column is None and index.columns != columns:
                raise ValueError(
                    f"{reader.where} has columns {index.columns} but {files[0]!r} has {columns}; without --id-column "
                    "every input file must have the same columns (pass --id-column to keep only the id)"
                )
        if fmt != "parquet" and any(c.offset is None for c in index.chunks):
            raise ValueError(
                f"{reader.where}: --engine ray cannot seek in {reader.encoding} text; re-encode it as UTF-8"
            )
        indexes.append(index)
    if columns is None:
        raise ValueError(f"the input files {list(files)[:3]} hold no rows")
    with fs.open(saved_path, "w") as handle:
        json.dump([_index_to_json(i) for i in indexes], handle)
    return indexes


def _work_items(
    indexes: Sequence[TableIndex], formats: Sequence[str], done: Any, files: Sequence[str]
) -> list[dict[str, Any]]:
    """The chunks still to score, as work items: one chunk each (CSV/JSONL), or a run per row group (Parquet)."""
    items: list[dict[str, Any]] = []
    for file, (index, fmt) in enumerate(zip(indexes, formats, strict=True)):
        pending = [
            c.index
            for c in index.chunks
            if (file, c.index) not in done and (c.n_rows or len(index.chunks) == 1)
        ]
        if fmt != "parquet":
            items += [{"file": file, "chunks": [c]} for c in pending]
            continue
        # Parquet: chunks that start in the same row group go together, so it is read once.
        meta = _reader(files[file], fmt, "utf-8", None)._parquet_file().metadata
        starts, position = [], 0
        for g in range(meta.num_row_groups):
            starts.append(position)
            position += meta.row_group(g).num_rows
        runs: dict[int, list[int]] = {}
        for c in pending:
            first_row = index.chunks[c].first_row
            group = max([g for g, s in enumerate(starts) if s <= first_row] or [0])
            runs.setdefault(group, []).append(c)
        items += [{"file": file, "chunks": run} for _, run in sorted(runs.items())]
    return items


def _run_items(
    items: list[dict[str, Any]], plan: dict[str, Any], schema: pa.Schema, model: str, options: ScoringOptions, *,
    replicas: Replicas | None, gpus_per_replica: float | None, cpus_per_replica: float | None, strict: bool,
    progress: bool, total: int, initial: int,
) -> None:  # fmt: skip
    import ray
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours counts rows; Ray's counts blocks
    context.print_on_execution_start = False
    if not logging.getLogger("fakereview_nlp").isEnabledFor(logging.INFO):
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    n_replicas, gpus, cpus = _resources(replicas, gpus_per_replica, cpus_per_replica, strict=strict)
    scorer = {"model": model, "options": options, "threads": max(1, int(cpus))}
    ds = ray.data.from_items(
        items, override_num_blocks=len(items)
    )  # one work item per block: retries redo one item
    scored = ds.map_batches(
        _ChunkJob,
        fn_constructor_kwargs={"plan": plan, "schema": schema.serialize().to_pybytes(), "scorer": scorer},
        batch_size=1,
        batch_format="pandas",
        compute=_compute(n_replicas),
        num_gpus=gpus or None,
        num_cpus=cpus,
    )

    bar = progress_bar(total, enabled=progress, world=1, initial=initial)
    try:
        for batch in scored.iter_batches(batch_size=None, batch_format="pandas"):
            bar.update(int(batch["n_rows"].sum()))
    except Exception as err:
        unwrapped = _unwrap_ray_error(err)
        if unwrapped is err:
            raise
        raise unwrapped from None
    finally:
        bar.close()


def _check_complete(
    parts: dict[tuple[int, int], Any], indexes: Sequence[TableIndex], files: Sequence[str]
) -> None:
    """Every chunk of every file has exactly its part, with the right row count: nothing lost or doubled."""
    expected = {(f, c.index): c.n_rows for f, index in enumerate(indexes) for c in index.chunks
                if c.n_rows or len(index.chunks) == 1}  # fmt: skip
    missing = sorted(set(expected) - set(parts))
    extra = sorted(set(parts) - set(expected))
    wrong = sorted(k for k in set(expected) & set(parts) if parts[k].n_rows != expected[k])
    if missing or extra or wrong:
        raise RuntimeError(
            f"the output does not cover the input exactly once: missing chunks {missing[:5]}, unexpected parts "
            f"{extra[:5]}, wrong row counts {wrong[:5]} (file, chunk); rerun with --resume"
        )


__all__ = [
    "ROW_NUMBER",
    "SCORE_COLUMNS",
    "RayJobSummary",
    "classify_dataset",
    "classify_files",
    "expand_inputs",
    "parse_replicas",
    "ray_session",
]
