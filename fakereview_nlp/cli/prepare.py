"""``fakereview prepare NAME [--source PATH] -o OUT.csv``: import a public corpus into the canonical CSV."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from fakereview_nlp.data.corpora import CORPORA, prepare_corpus, summarize
from fakereview_nlp.files import refuse_overwriting_inputs


def add_prepare_parser(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Register ``fakereview prepare NAME [--source PATH] -o OUT.csv`` on a subparsers object.

    The parser's default ``handler`` (what :mod:`fakereview_nlp.cli.main` dispatches to) is
    :func:`run_prepare`, which returns the exit code.
    """
    parser = subparsers.add_parser(
        "prepare",
        help="import a public corpus into the canonical CSV schema (downloads it unless --source)",
        description="Import a public fake-review corpus, in its published form, into a CSV with "
        "columns id,text,label,group[,fold] plus metadata, ready for training and evaluation.",
    )
    parser.add_argument("name", choices=sorted(CORPORA), help="the corpus to prepare")
    parser.add_argument(
        "--source",
        default=None,
        help="a local copy in any published form (file, folder or zip); without it the corpus is "
        "downloaded from its published URL",
    )
    parser.add_argument("-o", "--output", required=True, help="the canonical CSV to write")
    parser.add_argument(
        "--download-dir",
        default=None,
        help="where downloads are kept (default: the output file's folder)",
    )
    parser.set_defaults(handler=run_prepare)
    return parser


def run_prepare(args: argparse.Namespace) -> int:
    """Run ``prepare`` for parsed ``args``; prints a summary and returns the exit code."""
    try:
        refuse_overwriting_inputs([args.output], [args.source])
        frame = prepare_corpus(args.name, args.output, source=args.source, download_dir=args.download_dir)
    except (ValueError, ConnectionError, FileNotFoundError) as exc:
        print(f"fakereview prepare: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: {summarize(frame)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fakereview_nlp.cli.prepare prepare ...``, the same as ``fakereview prepare ...``."""
    parser = argparse.ArgumentParser(prog="python -m fakereview_nlp.cli.prepare")
    add_prepare_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())


__all__ = ["add_prepare_parser", "main", "run_prepare"]
