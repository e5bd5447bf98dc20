"""The ``fakereview classify`` command line (and ``python -m fakereview_nlp.cli.classify`` for
``accelerate launch``): options, engine choice, and the hand-off to :mod:`fakereview_nlp.jobs.local`
(local engine) or :mod:`fakereview_nlp.jobs.ray` (Ray).

Kept apart from the engines so that imports run one way: this module imports both engines; neither
engine imports it. See :mod:`fakereview_nlp.jobs.local` for what a job does.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from fakereview_nlp.cli.handler import run_handler
from fakereview_nlp.data.tables import DEFAULT_CHUNK_ROWS, FORMATS, STDIO
from fakereview_nlp.jobs import local as batch
from fakereview_nlp.jobs.local import ENGINES, classify_file
from fakereview_nlp.jobs.parts import EXPLAIN_COLUMN, EXPLAIN_TOP_K


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input",
        help="CSV, TSV, JSONL or Parquet file of reviews; '-' reads JSONL from stdin "
        "(--engine ray: also a folder, a glob or a URI such as s3://bucket/reviews/)",
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
        help="output file; its extension picks CSV/TSV/JSONL/Parquet; '-' writes JSONL to stdout "
        "(--engine ray: a folder of Parquet part files)",
    )  # fmt: skip
    parser.add_argument(
        "--text-column", default="text", help="column holding the review text (default: text)"
    )
    parser.add_argument(
        "--id-column", default=None,
        help="column identifying each review; when given, the output keeps only it (default: keep all columns; "
        "--engine ray adds a row_number column)",
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
        "--out-of-scope", default="abstain", choices=["abstain", "score"],
        help="rows the model cannot read (not in its languages, or under 3 letters; in_scope=false): "
        "abstain leaves fake_score, label and flagged empty (default); score scores them anyway",
    )  # fmt: skip
    parser.add_argument(
        "--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS,
        help=f"rows read, scored and written at a time, one part file each; bounds memory (default: {DEFAULT_CHUNK_ROWS})",
    )  # fmt: skip
    parser.add_argument("--input-format", choices=FORMATS, default=None, help="override the input format")
    parser.add_argument("--output-format", choices=FORMATS, default=None, help="override the output format")
    parser.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of a CSV/TSV/JSONL input, e.g. cp1252 (default: utf-8)",
    )
    parser.add_argument(
        "--resume", action="store_true",
        help="rerun a job that was killed: keep its finished parts, score only the rest (same input and options)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--explain", action="store_true",
        help=f"add a {EXPLAIN_COLUMN} column: JSON [[start, end, delta], ...] of the {EXPLAIN_TOP_K} spans whose "
        "removal changes P(fake) most (tens of forward passes per review; --engine local only)",
    )  # fmt: skip
    ray = parser.add_argument_group("Ray engine (--engine ray; see fakereview_nlp.jobs.ray)")
    ray.add_argument(
        "--engine", choices=ENGINES, default="local",
        help="local: this process (or accelerate launch); ray: replicas on a Ray cluster or a local Ray (default: local)",
    )  # fmt: skip
    ray.add_argument(
        "--ray-address", default=None,
        help="address of a running Ray cluster, e.g. ray://head:10001 or auto (default: start a local Ray)",
    )  # fmt: skip
    ray.add_argument(
        "--replicas", default=None,
        help="model replicas: N, or MIN,MAX to autoscale (default: one per GPU of the cluster, else 1)",
    )  # fmt: skip
    ray.add_argument(
        "--gpus-per-replica", type=float, default=None,
        help="GPUs each replica reserves, e.g. 1 or 0.5 (default: 1 when the cluster has GPUs, else 0)",
    )  # fmt: skip
    ray.add_argument(
        "--cpus-per-replica", type=float, default=None,
        help="CPUs each replica reserves; its torch threads (default: 1 with a GPU, else all CPUs / replicas)",
    )  # fmt: skip


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


def _check_engine_options(args: argparse.Namespace) -> None:
    if args.engine == "ray":
        if getattr(args, "explain", False):
            raise ValueError("--explain works with --engine local only; score with Ray, then explain the flagged rows")
        if STDIO in (args.input, args.output):
            raise ValueError(
                "--engine ray reads files and writes a folder of Parquet parts; '-' (stdin/stdout) needs --engine local"
            )
        if args.output_format not in (None, "parquet"):
            raise ValueError(
                f"--engine ray writes Parquet parts; --output-format {args.output_format} needs --engine local"
            )
        return
    given = [f"--{n.replace('_', '-')}" for n in ("ray_address", "replicas", "gpus_per_replica", "cpus_per_replica")
             if getattr(args, n) is not None]  # fmt: skip
    if given:
        raise ValueError(f"{', '.join(given)} only apply to --engine ray")


def _run(args: argparse.Namespace) -> int:
    _normalize_positionals(args)
    _check_engine_options(args)
    if not getattr(args, "verbose", False):
        with contextlib.suppress(
            ImportError
        ):  # transformers' "Loading weights" bar says nothing to a user here
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
    if not args.no_progress and args.long_text == "chunk":  # a very long review: a line before its many windows
        logging.getLogger("fakereview_nlp.inference").setLevel(logging.INFO)
    start = time.perf_counter()
    if args.engine == "ray":
        from fakereview_nlp.jobs.ray import classify_files, parse_replicas

        summary = classify_files(
            args.input, args.output, model=args.model, text_column=args.text_column, id_column=args.id_column,
            batch_size=args.batch_size, dtype=args.dtype, long_text=args.long_text, chunk_rows=args.chunk_rows,
            input_format=args.input_format, encoding=args.encoding, resume=args.resume,
            ray_address=args.ray_address, replicas=parse_replicas(args.replicas),
            gpus_per_replica=args.gpus_per_replica, cpus_per_replica=args.cpus_per_replica,
            device=args.device, progress=not args.no_progress, out_of_scope=args.out_of_scope,
        )  # fmt: skip
        n_rows = summary.n_rows
    else:
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
            encoding=args.encoding,
            resume=args.resume,
            progress=not args.no_progress,
            explain=args.explain,
            out_of_scope=args.out_of_scope,
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
        help="score a file of reviews (CSV/TSV/JSONL/Parquet, '-' for JSONL stdin/stdout; --engine ray for clusters)",
        description=batch.__doc__.split("\n\n")[0] if batch.__doc__ else None,
    )
    _add_arguments(parser)
    parser.set_defaults(handler=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fakereview_nlp.cli.classify`` / ``accelerate launch -m fakereview_nlp.cli.classify``: same options as ``fakereview classify``."""
    parser = argparse.ArgumentParser(
        prog="python -m fakereview_nlp.cli.classify",
        description="Score a file of reviews; run under `accelerate launch` to split it across processes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks for errors")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    rank = os.environ.get("RANK")
    try:
        return run_handler(
            _run, args, verbose=args.verbose, prog="fakereview classify" + (f" [rank {rank}]" if rank else "")
        )
    finally:
        _shutdown()


def _shutdown() -> None:
    with contextlib.suppress(Exception):
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    # Run the module under its own name, not as a second copy named __main__ whose classes
    # would differ from the ones the rest of the package imports.
    from fakereview_nlp.cli.classify import main as _main

    code = _main()
    if os.environ.get("RANK"):
        # One of several launched processes: a peer's failure can leave torch's process-group threads
        # alive, and their C++ destructors then abort the interpreter ("terminate called without an
        # active exception", exit -6) after the one-line error was printed. Everything this process
        # wrote is already renamed into place, so leave without running those destructors.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


__all__ = ["add_classify_parser", "main"]
