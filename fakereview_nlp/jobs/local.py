"""Batch jobs: score a CSV, TSV, JSONL or Parquet file of reviews, streaming, exactly once, resumable.

Command line::

    fakereview classify INPUT -o OUTPUT [--model MODEL] [--text-column text] [--id-column id] [--resume]
    cat reviews.jsonl | fakereview classify - -o - > scored.jsonl

    # several GPUs on one machine (or, for testing, several CPU processes over gloo):
    accelerate launch --multi_gpu --num_processes 2 -m fakereview_nlp.cli.classify INPUT -o OUTPUT --model MODEL

    # a Ray cluster (or a local Ray): a folder of Parquet part files, see fakereview_nlp.jobs.ray
    fakereview classify INPUT -o OUTPUT_DIR --engine ray [--replicas N | MIN,MAX] [--gpus-per-replica F]

* Without ``--model`` the default model is used (``$FAKEREVIEW_MODEL``, else the installed
  reference model; see :mod:`fakereview_nlp.model.default_model`). The older form
  ``fakereview classify MODEL INPUT -o OUTPUT`` still works.
* The input is read ``--chunk-rows`` rows at a time through :mod:`fakereview_nlp.data.tables`, so
  memory stays flat whatever the file size. Its schema rule holds for every chunk size: the
  columns are fixed by the first record (a JSONL record with its keys in another order is
  aligned to them; a key the first record lacks is an error naming the line), and CSV/TSV cells
  are strings as written (``NA``, ``None``, ``null`` are reviews).
* The output holds the input's columns (only the ``--id-column`` when one is given) plus
  ``fake_score``, ``label``, ``flagged``, ``language``, ``in_scope`` and ``model_version``, one row
  per input row, in input order. An input column that already has one of those names (a gold
  ``label``, say) is kept as ``input_label``.
* A row whose text the model cannot read (not in its languages, uncertain, under 3 letters) has
  ``in_scope`` false; with ``--out-of-scope abstain`` (the default) it gets no verdict (empty
  ``fake_score``, ``label``, ``flagged``), with ``--out-of-scope score`` it is scored anyway. One
  warning counts such rows.
* A row whose text is missing or empty (``null``, a missing JSONL key, ``""``, only spaces) is
  kept with empty ``fake_score``, ``label`` and ``flagged``: the model saw no evidence, so it
  gives no verdict. One warning counts such rows.
* **Exactly once, resumable.** Each chunk is scored into a part file in the hidden folder
  ``.OUTPUT.parts`` beside the output; a part exists only once it is complete (written under a
  temporary name, then renamed). When every chunk has its part, they are joined in chunk order
  into a temporary file that is renamed to ``OUTPUT``, and the folder is removed. A crash never
  leaves a half-written file under the final name. ``--resume`` reruns a killed job keeping its
  finished parts (the same input, model and options are checked first); without it, the parts of
  a dead run are removed and the job starts over. A lock in the folder stops two jobs writing the
  same output at once. (``-o -`` streams to stdout as it goes, with no parts and no resume.)
* Under ``accelerate launch`` (``WORLD_SIZE > 1``), chunk ``i`` goes to process ``i % world``.
  Every process reads the input, but only its own chunks are decoded (JSONL lines of other
  chunks are counted, not parsed; Parquet row groups holding none of its chunks are not read;
  with ``--id-column`` only the id and text columns are read from Parquet). Processes agree at
  each step: when one fails, every other one learns of it at the next step (or at its next
  chunk) and stops, and the job exits non-zero. Without a GPU the processes talk over gloo:
  ``--multi_gpu`` still starts ``--num_processes`` of them, and this module asks accelerate for a
  CPU state (``PartialState(cpu=True)``) so they form one group instead of ``world`` lone processes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fakereview_nlp.data.tables import (
    DEFAULT_CHUNK_ROWS,
    FORMATS,
    STDIO,
    TableFormat,
    TableReader,
    TableWriter,
    infer_format,
)
from fakereview_nlp.errors import PeerFailedError
from fakereview_nlp.files import atomic_write_text, refuse_overwriting_inputs, umask_mode
from fakereview_nlp.jobs.options import ScoringOptions, check_chunk_rows
from fakereview_nlp.jobs.parts import (
    MANIFEST,
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

    from fakereview_nlp.inference import FakeReviewClassifier

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
# -- formats and scoring ----------------------------------------------------------------------


def _format_of(path: str, given: str | None, role: str) -> TableFormat:
    if given is None and path == STDIO:
        return "jsonl"
    return infer_format(path, given, hint=f"or pass --{role}-format")


class _Group:
    """Failure agreement between the processes of a job; a no-op with one process.

    Every process calls :meth:`sync` at the same steps, failed or not, so none waits at a
    barrier for a process that has given up. A failing process also drops a flag file in the
    parts folder, which the others check before each chunk, so they stop early.
    """

    def __init__(self, state: Any, flag_dir: Path | None) -> None:
        self.state = state
        self.world = 1 if state is None else state.num_processes
        self.rank = 0 if state is None else state.process_index
        self.flag_dir = flag_dir

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def flag(self, error: BaseException) -> None:
        if self.world > 1 and self.flag_dir is not None:
            with contextlib.suppress(OSError):
                (self.flag_dir / f"FAILED-{self.rank}").write_text(f"{type(error).__name__}: {error}\n")

    def peer_failed(self) -> bool:
        return (
            self.world > 1
            and self.flag_dir is not None
            and self.flag_dir.is_dir()
            and any(p.name.startswith("FAILED-") for p in self.flag_dir.iterdir())
        )

    def sync(self, error: BaseException | None, payload: Any = None) -> list[Any]:
        """Raise ``error`` here, or :class:`PeerFailedError` if another process failed; else everyone's payloads."""
        if self.world == 1:
            if error is not None:
                raise error
            return [payload]
        import torch.distributed as dist

        from fakereview_nlp.errors import is_user_error

        if error is not None:
            self.flag(error)
        mine = None if error is None else (f"{type(error).__name__}: {error}", is_user_error(error))
        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, (mine, payload))
        if error is not None:
            raise error
        failed = [(rank, m) for rank, (m, _) in enumerate(gathered) if m is not None]
        if failed:
            rank, (message, user) = failed[0]
            raise PeerFailedError(
                f"process {rank} of {self.world} failed ({message}); process {self.rank} stopped too",
                user_error=user,
            )
        return [p for _, p in gathered]


def _run_step(step: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return step(), None
    except Exception as err:  # handed to _Group.sync, which re-raises it after the others know
        return None, err


# -- the local engine --------------------------------------------------------------------------


def classify_file(
    model: str | os.PathLike[str] | FakeReviewClassifier | None,
    source: str,
    output: str,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    batch_size: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    long_text: Literal["truncate", "chunk"] = "truncate",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    input_format: str | None = None,
    output_format: str | None = None,
    encoding: str = "utf-8",
    resume: bool = False,
    progress: bool = True,
    explain: bool = False,
    out_of_scope: Literal["abstain", "score"] = "abstain",
) -> int:
    """Score every review in ``source`` and write ``output``; returns the number of rows written.

    Args:
        model (`str`, `FakeReviewClassifier` or `None`): a trained model directory or Hub id, a
            loaded classifier, or ``None`` for the default model
            (:func:`fakereview_nlp.default_model_path`).
        source (`str`): CSV/TSV/JSONL/Parquet path, or ``"-"`` for JSONL on stdin.
        output (`str`): path whose extension picks the format, or ``"-"`` for JSONL on stdout.
        text_column (`str`, defaults to `"text"`), id_column (`str`, *optional*): input columns;
            with ``id_column`` the output keeps only that column of the input.
        batch_size, device, dtype, long_text: as :class:`~fakereview_nlp.inference.FakeReviewClassifier`.
        chunk_rows (`int`, defaults to `8192`): rows read, scored and written at a time (one part file each).
        input_format, output_format (`str`, *optional*): override the formats from the extensions.
        encoding (`str`, defaults to `"utf-8"`): the text encoding of a CSV/TSV/JSONL input.
        resume (`bool`, defaults to `False`): keep the finished parts of an earlier run of the same
            job that did not finish, and score only the rest.
        progress (`bool`, defaults to `True`): a tqdm bar on stderr with reviews/s.
        explain (`bool`, defaults to `False`): add the ``top_spans`` column (occlusion, one
            forward pass per variant: tens of times slower than scoring alone).
        out_of_scope (`"abstain"` or `"score"`, defaults to `"abstain"`): rows the model cannot read
            (another language, too short): no verdict, or scored anyway (``in_scope`` false either way).

    Every input row is written once, in input order (see the module docstring for part files,
    resume, and the split across processes under ``accelerate launch``).

    Raises:
        `FileNotFoundError`, `ValueError`: bad input or options, named in the message.
    """
    # First of all, so that no process can fail before every process has joined the group: a
    # process left waiting in the rendezvous for one that gave up would wait for its timeout.
    state = _distributed_state()
    group = _Group(state, None)

    def check() -> tuple[ScoringOptions, TableFormat, TableFormat, TableReader]:
        check_chunk_rows(chunk_rows)
        options = ScoringOptions(text_column=text_column, id_column=id_column, batch_size=batch_size,
                                 device=device, dtype=dtype, long_text=long_text, explain=explain,
                                 out_of_scope=out_of_scope)  # fmt: skip
        _check_paths(source, output, group.world)
        in_fmt = _format_of(source, input_format, "input")
        out_fmt = _format_of(output, output_format, "output")
        reader = TableReader(source, in_fmt, encoding=encoding, columns=options.read_columns)
        _check_output(output, out_fmt, resume=resume)
        return options, in_fmt, out_fmt, reader

    checked, error = _run_step(check)
    group.sync(error)
    options, in_fmt, out_fmt, reader = checked
    if output == STDIO:
        return _classify_to_stdout(model, reader, out_fmt, options, chunk_rows, progress)
    identity = job_identity(
        "local", options, chunk_rows=chunk_rows, encoding=encoding,
        input=None if source == STDIO else file_identity(source), input_format=in_fmt, output_format=out_fmt,
        model=None,  # filled in once the model is loaded
    )  # fmt: skip
    job = _LocalJob(Path(output), out_fmt, group, chunk_rows)
    try:
        return job.run(
            reader, identity, resume=resume, progress=progress, load=lambda: _load(model, options, state),
            score=lambda clf, frame: score_chunk(clf, frame, where=reader.where, **options.chunk_kwargs()),
            model=model, options=options,
        )  # fmt: skip
    except BaseException as err:
        job.abandon(err)  # finished parts stay for --resume unless the input was at fault
        raise
    finally:
        job.release()


def _check_paths(source: str, output: str, world: int) -> None:
    """Paths every process can use, and an output that is not one of the inputs (before anything is written)."""
    if world > 1 and STDIO in (source, output):
        raise ValueError(
            "with several processes the input must be a file every process can read and the output a file "
            "the main process can write; '-' (stdin/stdout) works only with one process"
        )
    refuse_overwriting_inputs([output], [source])  # before anything is written: the input stays intact


def _check_output(output: str, out_fmt: TableFormat, *, resume: bool) -> None:
    """An output this engine can write: stdout in a streamable format and without resume, or a file."""
    if output == STDIO:
        if resume:
            raise ValueError("--resume needs an output file (-o FILE); stdout cannot be resumed")
        if out_fmt == "parquet":
            raise ValueError(
                "Parquet cannot be written to stdout; pass -o FILE.parquet, or use JSONL with -o -"
            )
    elif Path(output).is_dir():
        raise ValueError(
            f"output {output!r} is a folder; the local engine writes one file (--engine ray writes folders)"
        )


def _classify_to_stdout(
    model: Any,
    reader: TableReader,
    out_fmt: TableFormat,
    options: ScoringOptions,
    chunk_rows: int,
    progress: bool,
) -> int:
    classifier = _load(model, options, None)
    writer = TableWriter(STDIO, out_fmt)
    n_rows = n_unscored = n_out = 0
    bar = progress_bar(reader.num_rows(), enabled=progress, world=1)
    try:
        for chunk in reader.chunks(chunk_rows):
            if chunk.frame is None:
                continue
            scored = score_chunk(classifier, chunk.frame, where=reader.where, **options.chunk_kwargs())
            writer.write(scored)
            n_rows += len(scored)
            n_unscored += unscored_count(scored)
            n_out += out_of_scope_count(scored)
            bar.update(len(scored))
    finally:
        bar.close()
    writer.close(output_columns(reader.columns or [], options.id_column, explain=options.explain))
    unscored_warning(n_unscored, n_rows, options.text_column)
    out_of_scope_notice(n_out, n_rows, options.out_of_scope)
    return n_rows


class _LocalJob:
    """One ``classify_file`` run writing ``final`` through the part folder ``.FINAL.parts``."""

    def __init__(self, final: Path, out_fmt: TableFormat, group: _Group, chunk_rows: int) -> None:
        self.final = final
        self.format = out_fmt
        self.chunk_rows = chunk_rows
        self.group = group
        self.parts = final.with_name(f".{final.name}.parts")
        group.flag_dir = self.parts  # where a failing process leaves its flag for the others
        self._lock: Any = None
        self._owner = False  # set once this job holds the part folder (never for another job's)
        self._prepared = False

    # -- set-up (main process) ---------------------------------------------------------------

    def _prepare(self, identity: dict[str, Any], resume: bool) -> None:
        if not self.final.parent.is_dir():
            raise FileNotFoundError(
                f"the folder of output {str(self.final)!r} does not exist; create it first"
            )
        self._remove_dead_temporaries()
        self.parts.mkdir(exist_ok=True)
        self._take_lock()
        saved_path = self.parts / MANIFEST
        names = [p.name for p in self.parts.iterdir()]
        done = parse_parts(names)
        if resume and saved_path.is_file():
            saved = json.loads(saved_path.read_text(encoding="utf-8"))
            check_same_job(
                saved, identity, into=str(self.final), parts=f"{len(done)} finished parts in {str(self.parts)!r}",
                fix="rerun without --resume to start over",
            )  # fmt: skip
            logger.info("resuming: %d chunks already scored in %s", len(done), self.parts)
        else:
            if done:
                logger.warning(
                    "removing %d part files of an earlier run into %s that did not finish%s",
                    len(done), self.final, "" if resume else " (pass --resume to keep them)",
                )  # fmt: skip
            for name in names:
                if name != "lock":
                    (self.parts / name).unlink()
        for name in names:  # a part being written when the earlier run died, a failure flag
            if name.endswith(".tmp") or name.startswith("FAILED-"):
                (self.parts / name).unlink(missing_ok=True)
        atomic_write_text(saved_path, json.dumps(identity, indent=1, sort_keys=True) + "\n")
        self._prepared = True  # from here on the folder holds this job's parts

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one job per output is the user's to ensure
            self._owner = True
            return
        handle = open(self.parts / "lock", "a+")  # noqa: SIM115  (held until release())
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            handle.close()
            raise ValueError(
                f"another job (pid {owner}) is writing {str(self.final)!r}; wait for it to finish or choose another -o"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle
        self._owner = True

    def _remove_dead_temporaries(self) -> None:
        """``.NAME.PID.tmp`` files left by a killed run of an older version, whose process is gone."""
        for path in self.final.parent.glob(f".{glob_escape(self.final.name)}.*.tmp"):
            pid = path.name[len(self.final.name) + 2 : -len(".tmp")]
            if pid.isdigit() and not _pid_alive(int(pid)):
                path.unlink(missing_ok=True)

    def abandon(self, error: BaseException) -> None:
        """After a failure: keep finished parts for ``--resume``, unless there are none or the input was bad.

        (Bad input has to be fixed first, and a changed input cannot be resumed.)
        """
        from fakereview_nlp.errors import OutputWriteError, is_user_error

        if not (self.group.is_main and self._owner and self._prepared and self.parts.is_dir()):
            return  # refused before it began (another job's parts, a lock held): leave the folder as it was
        # a write error (disk full) is not bad input: the finished parts stay for --resume
        write_error = isinstance(error, OutputWriteError) or f"{OutputWriteError.__name__}:" in str(error)
        with contextlib.suppress(OSError):
            done = parse_parts(os.listdir(self.parts))
            if not done or (is_user_error(error) and not write_error):
                self.release()
                shutil.rmtree(self.parts, ignore_errors=True)
                return
            for path in self.parts.iterdir():
                if path.name.endswith(".tmp") or path.name.startswith("FAILED-"):
                    path.unlink(missing_ok=True)
            logger.warning(
                "%d finished chunks are kept in %s; rerun the same command with --resume to score only the rest",
                len(done), self.parts,
            )  # fmt: skip

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- the job -----------------------------------------------------------------------------

    def run(
        self,
        reader: TableReader,
        identity: dict[str, Any],
        *,
        resume: bool,
        progress: bool,
        load: Callable[[], FakeReviewClassifier],
        score: Callable[[FakeReviewClassifier, pd.DataFrame], pd.DataFrame],
        model: Any,
        options: ScoringOptions,
    ) -> int:
        group = self.group
        text_column, id_column, explain = options.text_column, options.id_column, options.explain
        self.id_column = id_column
        self.explain = explain
        self.out_of_scope = options.out_of_scope

        def set_up() -> FakeReviewClassifier:
            classifier = load()
            identity["model"] = model_identity(model if model is not None else classifier.source)
            if group.is_main:
                self._prepare(identity, resume)
            return classifier

        classifier, error = _run_step(set_up)
        group.sync(error)
        done = parse_parts(os.listdir(self.parts))
        if group.world > 1:
            logger.info("rank %d of world size %d: %s, classifying chunks %d, %d+%d, ...",
                        group.rank, group.world, classifier, group.rank, group.rank, group.world)  # fmt: skip
        sizes, error = _run_step(lambda: self._score_chunks(reader, classifier, score, done, progress))
        group.sync(error)
        if group.is_main:
            chunk_sizes = sizes
            n_rows, error = _run_step(
                lambda: self._join(
                    chunk_sizes, output_columns(reader.columns or [], id_column, explain=explain), text_column
                )
            )
        else:
            n_rows, error = None, None
        results = group.sync(error, n_rows)
        return int(results[0])

    def _score_chunks(
        self,
        reader: TableReader,
        classifier: FakeReviewClassifier,
        score: Callable[[FakeReviewClassifier, pd.DataFrame], pd.DataFrame],
        done: Mapping[tuple[int, int], Part],
        progress: bool,
    ) -> list[int]:
        """Score this process's chunks that have no part yet; returns every chunk's row count."""
        group = self.group
        mine = lambda i: i % group.world == group.rank and (0, i) not in done  # noqa: E731
        sizes: list[int] = []
        n_done = sum(p.n_rows for p in done.values())
        bar = progress_bar(
            reader.num_rows(), enabled=progress and group.is_main, world=group.world, initial=n_done
        )
        try:
            for chunk in reader.chunks(self.chunk_rows, select=mine):
                sizes.append(chunk.n_rows)
                if chunk.frame is None:
                    continue
                if group.peer_failed():
                    break
                if chunk.n_rows == 0 and reader.columns is None:  # an empty JSONL file: nothing to check
                    import pandas as pd

                    scored = pd.DataFrame(
                        {c: [] for c in output_columns([], self.id_column, explain=self.explain)}
                    )
                else:
                    scored = score(classifier, chunk.frame)
                self._write_part(chunk.index, scored)
                bar.update(len(scored) * group.world)  # other processes move at the same pace
        finally:
            bar.close()
        return sizes

    def _write_part(self, index: int, scored: pd.DataFrame) -> None:
        name = part_name(
            0, index, len(scored), unscored_count(scored), self.format, out_of_scope_count(scored)
        )
        tmp = self.parts / f"{name}.tmp"
        try:
            writer = TableWriter(tmp, self.format, header=False)
            try:
                writer.write(scored)
                writer.close()
                os.replace(tmp, self.parts / name)
            except BaseException:
                with contextlib.suppress(Exception):
                    writer.close()
                tmp.unlink(missing_ok=True)
                raise
        except OSError as err:
            raise self._write_error(f"writing chunk {index}", err) from err

    def _write_error(self, doing: str, err: OSError) -> OSError:
        """``err`` as an :class:`OutputWriteError` that says how many rows are safe and how to continue."""
        from fakereview_nlp.errors import OutputWriteError

        done = parse_parts(os.listdir(self.parts)) if self.parts.is_dir() else {}
        n_safe = sum(p.n_rows for p in done.values())
        error = OutputWriteError(
            f"{doing} of {str(self.final)!r} failed ({err.strerror or err}); {n_safe} scored rows in {len(done)} "
            f"finished parts are kept in {str(self.parts)!r}. Free space (or fix the cause) and rerun the same "
            "command with --resume to score only the rest"
        )
        error.errno = err.errno  # ENOSPC stays visible to a caller that checks it
        return error

    def _join(self, chunk_sizes: Sequence[int], columns: Sequence[str], text_column: str) -> int:
        """Concatenate the parts in chunk order into ``final`` (atomically), check the counts, remove the parts."""
        parts = parse_parts(os.listdir(self.parts))
        ordered = [parts.get((0, i)) for i in range(len(chunk_sizes))]
        missing = [i for i, p in enumerate(ordered) if p is None]
        if missing:
            raise RuntimeError(
                f"chunks {missing[:5]} have no part file in {self.parts}; a process failed, see its log"
            )
        wrong = [(p.chunk, p.n_rows, n) for p, n in zip(ordered, chunk_sizes, strict=True) if p.n_rows != n]  # type: ignore[union-attr]
        if wrong:
            raise RuntimeError(
                f"part files {wrong[:3]} (chunk, rows in part, rows in input) do not match the input"
            )
        tmp = self.parts / f"joined.{self.format}.tmp"
        files = [self.parts / p.name for p in ordered]  # type: ignore[union-attr]
        try:
            if self.format == "parquet":
                _join_parquet(files, tmp, columns)
            else:
                with open(tmp, "wb") as out:
                    if self.format in ("csv", "tsv"):
                        out.write(_csv_header(columns, "\t" if self.format == "tsv" else ",").encode("utf-8"))
                    for file in files:
                        with open(file, "rb") as handle:
                            shutil.copyfileobj(handle, out, length=1 << 20)
            os.chmod(tmp, umask_mode())
            os.replace(tmp, self.final)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise self._write_error("joining the parts", err) from err
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        n_rows = sum(chunk_sizes)
        unscored_warning(sum(p.n_unscored for p in ordered), n_rows, text_column)  # type: ignore[union-attr]
        out_of_scope_notice(sum(p.n_out_of_scope for p in ordered), n_rows, self.out_of_scope)  # type: ignore[union-attr]
        self.release()
        shutil.rmtree(self.parts, ignore_errors=True)
        if self.group.world > 1:
            logger.info("merged %d part files from %d processes into %s (%d rows)",
                        len(files), self.group.world, self.final, n_rows)  # fmt: skip
        return n_rows


def _csv_header(columns: Sequence[str], sep: str) -> str:
    import io

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\n").writerow(columns)
    return buffer.getvalue()


def _join_parquet(files: Sequence[Path], target: Path, columns: Sequence[str]) -> None:
    """Parts into one Parquet file, under one schema (a column that is all-null in one part takes the others' type)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(f) for f in files]
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise ValueError(
            f"the scored chunks do not share one Parquet schema ({err}); write CSV or JSONL instead"
        ) from None
    with pq.ParquetWriter(target, schema) as writer:
        for file in files:
            try:
                writer.write_table(pq.read_table(file).select(schema.names).cast(schema))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
                raise ValueError(
                    f"{file.name} does not fit the joined Parquet schema ({err}); write CSV or JSONL instead"
                ) from None


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _distributed_state() -> Any:
    """accelerate's ``PartialState`` when launched with several processes, else ``None``."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    # Without CUDA, `accelerate launch --multi_gpu` still starts the processes, but a default
    # PartialState() then sees no GPUs and leaves each one alone (world size 1); cpu=True makes
    # them one gloo group.
    return PartialState(cpu=not torch.cuda.is_available())


def _load(model: Any, options: ScoringOptions, state: Any) -> FakeReviewClassifier:
    from fakereview_nlp.inference import FakeReviewClassifier
    from fakereview_nlp.model.default_model import resolve_model

    if isinstance(model, FakeReviewClassifier):
        return model
    model = resolve_model(model)
    device, dtype = options.device, options.dtype
    if state is not None and state.num_processes > 1 and device is None:
        import torch

        if torch.cuda.is_available():
            device = str(state.device)  # cuda:LOCAL_RANK
        else:
            device = "cpu"
            # Processes share the cores: without this each would start one thread per core.
            local = int(os.environ.get("LOCAL_WORLD_SIZE", state.num_processes))
            torch.set_num_threads(max(1, available_cpus() // local))
    return FakeReviewClassifier.from_pretrained(model, device=device, dtype=dtype)


__all__ = ["ENGINES", "FORMATS", "classify_file", "glob_escape"]
