"""Batch jobs: score a CSV, TSV, JSONL or Parquet file of reviews, streaming, on one or several processes.

Command line::

    fakereview classify INPUT -o OUTPUT [--model MODEL] [--text-column text] [--id-column id]
    cat reviews.jsonl | fakereview classify - -o - > scored.jsonl

    # several GPUs on one machine (or, for testing, several CPU processes over gloo):
    accelerate launch --multi_gpu --num_processes 2 -m fakereview_nlp.batch INPUT -o OUTPUT --model MODEL

* Without ``--model`` the default model is used (``$FAKEREVIEW_MODEL``, else the installed
  reference model; see :mod:`fakereview_nlp.default_model`). The older form
  ``fakereview classify MODEL INPUT -o OUTPUT`` still works.

* The input is read ``--chunk-rows`` rows at a time through :mod:`fakereview_nlp.tables`, so
  memory stays flat whatever the file size. Its schema rule holds for every chunk size: the
  columns are fixed by the first record (a JSONL record with its keys in another order is
  aligned to them; a key the first record lacks is an error naming the line), and CSV/TSV cells
  are strings as written (``NA``, ``None``, ``null`` are reviews).
* The output holds the input's columns (only the ``--id-column`` when one is given) plus
  ``fake_score``, ``label`` and ``flagged``, rows in input order. An input column that already
  has one of those names (a gold ``label``, say) is kept as ``input_label``.
* The output is written to a hidden temporary file in the same folder and renamed into place
  when complete, so a crash never leaves a half-written file under the final name. (``-o -``
  streams to stdout as it goes.)
* Under ``accelerate launch`` (``WORLD_SIZE > 1``), chunk ``i`` goes to process ``i % world``;
  each writes its chunks as part files in a hidden ``.OUTPUT.parts`` folder, and the main process
  concatenates them in chunk order, then removes them. Without a GPU the processes talk over
  gloo: ``--multi_gpu`` still starts ``--num_processes`` of them, and this module asks accelerate
  for a CPU state (``PartialState(cpu=True)``) so they form one group instead of ``world`` lone
  processes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fakereview_nlp.tables import (
    DEFAULT_CHUNK_ROWS,
    FORMATS,
    STDIO,
    TableFormat,
    TableReader,
    TableWriter,
    require_columns,
)

if TYPE_CHECKING:
    import pandas as pd

    from fakereview_nlp.inference import FakeReviewClassifier

logger = logging.getLogger(__name__)

SCORE_COLUMNS = ("fake_score", "label", "flagged")


def _format_of(path: str, given: str | None, role: str) -> TableFormat:
    from fakereview_nlp.tables import infer_format

    if given is None and path == STDIO:
        return "jsonl"
    try:
        return infer_format(path, given)
    except ValueError as err:
        raise ValueError(f"{err}; or pass --{role}-format") from None


# -- scoring -----------------------------------------------------------------------------------


def score_chunk(
    classifier: FakeReviewClassifier,
    frame: pd.DataFrame,
    *,
    text_column: str,
    id_column: str | None,
    batch_size: int | None,
    long_text: Literal["truncate", "chunk"],
    where: str,
) -> pd.DataFrame:
    """``frame``'s kept columns plus ``fake_score``, ``label`` and ``flagged``.

    Missing texts (null, NaN) are scored as the empty string, like an empty review. Input
    columns named ``fake_score``, ``label`` or ``flagged`` are kept as ``input_fake_score``,
    ``input_label``, ``input_flagged``.
    """
    import pandas as pd

    require_columns(list(frame.columns), {"--text-column": text_column, "--id-column": id_column}, where)
    clash = [c for c in SCORE_COLUMNS if c in frame.columns]
    texts = [
        t if isinstance(t, str) else "" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t)
        for t in frame[text_column]
    ]
    scores = classifier.predict_proba(texts, batch_size, long_text=long_text)
    out = frame[[id_column]].copy() if id_column is not None else frame.copy()
    # An input that already has e.g. a gold `label` column keeps it as `input_label`: the
    # predicted columns always have the same names, and no input value is overwritten.
    out = out.rename(columns={c: f"input_{c}" for c in clash if c in out.columns})
    out["fake_score"] = scores
    out["label"] = pd.Series(scores >= 0.5, index=out.index).map({True: "fake", False: "genuine"})
    out["flagged"] = scores >= classifier.threshold
    return out


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
    progress: bool = True,
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
        chunk_rows (`int`, defaults to `8192`): rows read and written at a time.
        input_format, output_format (`str`, *optional*): override the formats from the extensions.
        progress (`bool`, defaults to `True`): a tqdm bar on stderr with reviews/s.

    Under ``accelerate launch`` with several processes the work is split by chunk and merged
    by the main process (see the module docstring).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
    in_fmt = _format_of(source, input_format, "input")
    out_fmt = _format_of(output, output_format, "output")
    reader = TableReader(source, in_fmt)
    state = _distributed_state()
    world = 1 if state is None else state.num_processes
    rank = 0 if state is None else state.process_index
    if world > 1 and STDIO in (source, output):
        raise ValueError(
            "with several processes the input must be a file every process can read and the output a file "
            "the main process can write; '-' (stdin/stdout) works only with one process"
        )
    classifier = _load(model, device, dtype, state)
    if world > 1:
        logger.info(
            "rank %d of world size %d: %s, classifying chunks %d, %d+%d, ...",
            rank, world, classifier, rank, rank, world,
        )  # fmt: skip
    kept = [id_column] if id_column is not None else []
    empty_columns = [*kept, *SCORE_COLUMNS]
    final = None if output == STDIO else Path(output)
    parts = None if final is None else final.with_name(f".{final.name}.parts")
    if world > 1 and parts is not None:
        if state.is_main_process:
            shutil.rmtree(parts, ignore_errors=True)
            parts.mkdir(parents=True)
        state.wait_for_everyone()
    tmp = None if final is None else final.with_name(f".{final.name}.{os.getpid()}.tmp")
    writer = TableWriter(tmp if tmp is not None else STDIO, out_fmt) if world == 1 else None
    n_rows = n_chunks = 0
    bar = _progress_bar(reader.num_rows(), enabled=progress and rank == 0, world=world)
    try:
        for chunk in reader.chunks(chunk_rows, select=lambda i: i % world == rank):
            n_chunks += 1
            index, frame = chunk.index, chunk.frame
            if frame is None:
                continue
            scored = score_chunk(
                classifier,
                frame,
                text_column=text_column,
                id_column=id_column,
                batch_size=batch_size,
                long_text=long_text,
                where=repr(source),
            )
            if writer is not None:
                writer.write(scored)
            else:
                part = TableWriter(parts / f"part-{index:09d}.{out_fmt}", out_fmt, header=index == 0)  # type: ignore[operator]
                part.write(scored)
                part.close()
            n_rows += len(scored)
            bar.update(len(scored) * world)  # other ranks move at the same pace
        if writer is not None:
            writer.close(empty_columns)
            writer = None
            if tmp is not None and final is not None:
                os.replace(tmp, final)
    except BaseException:
        if writer is not None and writer._handle is not sys.stdout:
            with contextlib.suppress(Exception):
                writer.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    if world > 1:
        logger.info("rank %d of world size %d: wrote %d rows", rank, world, n_rows)
        state.wait_for_everyone()
        if state.is_main_process:
            n_rows = _merge_parts(parts, final, tmp, out_fmt, n_chunks, empty_columns)  # type: ignore[arg-type]
            logger.info(
                "merged %d part files from %d processes into %s (%d rows)", n_chunks, world, final, n_rows
            )
        state.wait_for_everyone()
    return n_rows


def _merge_parts(
    parts: Path, final: Path, tmp: Path, out_fmt: TableFormat, n_chunks: int, empty_columns: Sequence[str]
) -> int:
    """Concatenate ``parts/part-*.fmt`` in chunk order into ``final`` (atomically), then remove them."""
    import pyarrow.parquet as pq

    files = [parts / f"part-{i:09d}.{out_fmt}" for i in range(n_chunks)]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise RuntimeError(
            f"part files {missing[:5]} are missing from {parts}; a process failed, see its log"
        )
    n_rows = 0
    try:
        if out_fmt == "parquet":
            writer = TableWriter(tmp, out_fmt)
            for file in files:
                table = pq.read_table(file)
                n_rows += table.num_rows
                writer.write(table.to_pandas())
            writer.close(empty_columns)
        else:
            # CSV/TSV parts are header-less except part 0, so plain byte concatenation is the merge.
            with open(tmp, "wb") as out:
                for file in files:
                    with open(file, "rb") as handle:
                        shutil.copyfileobj(handle, out, length=1 << 20)
                if not files and out_fmt in ("csv", "tsv"):
                    sep = "\t" if out_fmt == "tsv" else ","
                    out.write((sep.join(empty_columns) + "\n").encode())
            n_rows = -1  # not counted without parsing; see below
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    shutil.rmtree(parts, ignore_errors=True)
    return n_rows if n_rows >= 0 else _count_text_rows(final, out_fmt)


def _count_text_rows(path: Path, out_fmt: TableFormat) -> int:
    if out_fmt == "jsonl":
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    import pandas as pd

    return sum(
        len(c) for c in pd.read_csv(path, sep="\t" if out_fmt == "tsv" else ",", dtype=str, chunksize=65536)
    )


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


def _load(model: Any, device: str | None, dtype: str | None, state: Any) -> FakeReviewClassifier:
    from fakereview_nlp.default_model import resolve_model
    from fakereview_nlp.inference import FakeReviewClassifier

    if isinstance(model, FakeReviewClassifier):
        return model
    model = resolve_model(model)
    if state is not None and state.num_processes > 1 and device is None:
        import torch

        if torch.cuda.is_available():
            device = str(state.device)  # cuda:LOCAL_RANK
        else:
            device = "cpu"
            # Processes share the cores: without this each would start one thread per core.
            local = int(os.environ.get("LOCAL_WORLD_SIZE", state.num_processes))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return FakeReviewClassifier.from_pretrained(model, device=device, dtype=dtype)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int | None, *, enabled: bool, world: int) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(
        total=total, unit=" reviews", unit_scale=True, desc="classify" + (f" (x{world} processes)" if world > 1 else ""),
        file=sys.stderr, dynamic_ncols=True,
    )  # fmt: skip


# -- command line ------------------------------------------------------------------------------


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", help="CSV, TSV, JSONL or Parquet file of reviews; '-' reads JSONL from stdin"
    )
    # The older `classify MODEL INPUT` form: a second positional makes the first the model.
    parser.add_argument("legacy_input", nargs="?", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--model", default=None,
        help="trained model directory (or Hub id) with config.json, model.safetensors, tokenizer "
        "(default: $FAKEREVIEW_MODEL, else the installed reference model)",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--output", required=True,
        help="output file; its extension picks CSV/TSV/JSONL/Parquet; '-' writes JSONL to stdout",
    )  # fmt: skip
    parser.add_argument(
        "--text-column", default="text", help="column holding the review text (default: text)"
    )
    parser.add_argument(
        "--id-column", default=None,
        help="column identifying each review; when given, the output keeps only it (default: keep all columns)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=None,
        help="most reviews per forward pass (default: sized by a token budget, at most 64 on CPU, 512 on CUDA)",
    )  # fmt: skip
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1 or mps (default: CUDA, then MPS, then CPU)"
    )
    parser.add_argument(
        "--dtype", default=None, choices=["auto", "float32", "bfloat16", "float16"],
        help="compute precision (default: bf16 where the hardware runs it natively, else float32)",
    )  # fmt: skip
    parser.add_argument(
        "--long-text", default="truncate", choices=["truncate", "chunk"],
        help="reviews over the model's max length: truncate (default) or score overlapping windows and keep the max",
    )  # fmt: skip
    parser.add_argument(
        "--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS,
        help=f"rows read, scored and written at a time; bounds memory (default: {DEFAULT_CHUNK_ROWS})",
    )  # fmt: skip
    parser.add_argument("--input-format", choices=FORMATS, default=None, help="override the input format")
    parser.add_argument("--output-format", choices=FORMATS, default=None, help="override the output format")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _normalize_positionals(args: argparse.Namespace) -> None:
    """Map the older ``classify MODEL INPUT`` form onto ``classify INPUT --model MODEL``."""
    if args.legacy_input is None:
        return
    if args.model is not None:
        raise ValueError(
            f"the model is given twice (positional {args.input!r} and --model {args.model!r}); "
            "use `fakereview classify INPUT -o OUTPUT --model MODEL`"
        )
    args.model, args.input, args.legacy_input = args.input, args.legacy_input, None


def _run(args: argparse.Namespace) -> int:
    try:
        _normalize_positionals(args)
    except ValueError as err:
        print(f"fakereview: error: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    n_rows = classify_file(
        args.model,
        args.input,
        args.output,
        text_column=args.text_column,
        id_column=args.id_column,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        long_text=args.long_text,
        chunk_rows=args.chunk_rows,
        input_format=args.input_format,
        output_format=args.output_format,
        progress=not args.no_progress,
    )
    elapsed = time.perf_counter() - start
    if args.output != STDIO and int(os.environ.get("RANK", "0")) == 0:
        print(
            f"wrote {n_rows} rows to {args.output} in {elapsed:.1f} s ({n_rows / max(elapsed, 1e-9):.1f} reviews/s)",
            file=sys.stderr,
        )
    return 0


def add_classify_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``fakereview classify`` on the ``fakereview`` command's subparsers."""
    parser = subparsers.add_parser(
        "classify",
        help="score a file of reviews (CSV/TSV/JSONL/Parquet, '-' for JSONL stdin/stdout)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    _add_arguments(parser)
    parser.set_defaults(handler=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fakereview_nlp.batch`` / ``accelerate launch -m fakereview_nlp.batch``: same options as ``fakereview classify``."""
    parser = argparse.ArgumentParser(
        prog="python -m fakereview_nlp.batch",
        description="Score a file of reviews; run under `accelerate launch` to split it across processes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return _run(args)
    finally:
        _shutdown()


def _shutdown() -> None:
    with contextlib.suppress(Exception):
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "FORMATS",
    "TableWriter",
    "add_classify_parser",
    "classify_file",
    "main",
    "score_chunk",
]
