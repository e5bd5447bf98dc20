"""The ``fakereview`` command: ``classify``, ``evaluate``, ``model-card``, ``prepare``, ``explain``, ``runtime``.

Each subcommand's options live in a sibling module (``classify``, ``evaluate``, ``model_card``,
``prepare``, ``explain``, ``runtime``); this file builds the parser from them and dispatches. Errors become
messages in :mod:`fakereview_nlp.cli.handler`.

**Errors.** A user error (a missing or unreadable file, malformed input, a missing column,
missing or corrupt model files, a bad option value) ends any subcommand with one line on
stderr, ``fakereview: error: ...``, and exit code 2; ``-v`` adds the traceback. These are the
exceptions :func:`is_user_error` accepts: ``OSError`` (``FileNotFoundError``,
``PermissionError``, ...), ``ValueError`` (``UnicodeDecodeError``, ...), ``TypeError`` and
``SystemExit`` with a message. Anything else is a bug: its traceback is printed and the exit
code is 1. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fakereview_nlp.cli.classify import add_classify_parser
from fakereview_nlp.cli.evaluate import add_evaluate_parser
from fakereview_nlp.cli.explain import add_explain_parser
from fakereview_nlp.cli.handler import quiet_hf_progress, run_handler
from fakereview_nlp.cli.model_card import add_model_card_parser
from fakereview_nlp.cli.prepare import add_prepare_parser
from fakereview_nlp.cli.runtime import add_runtime_parser

#: each subcommand's ``add_*_parser(subparsers)``, in the order ``fakereview --help`` lists them.
SUBCOMMANDS: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (
    add_classify_parser,
    add_evaluate_parser,
    add_model_card_parser,
    add_prepare_parser,
    add_explain_parser,
    add_runtime_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakereview",
        description="Score reviews as genuine or fake, evaluate detectors at fixed flag rates, prepare corpora.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at INFO level; tracebacks for errors"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in SUBCOMMANDS:
        sub = add_parser(subparsers)
        # `fakereview classify ... -v` works as well as `fakereview -v classify ...`; SUPPRESS keeps
        # the subcommand from resetting a -v given before it.
        if isinstance(sub, argparse.ArgumentParser) and "-v" not in sub._option_string_actions:
            sub.add_argument(
                "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as fakereview -v"
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s"
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"subcommand {args.command!r} registered no handler (set_defaults(handler=...))")
    if not args.verbose:
        quiet_hf_progress()
    return run_handler(handler, args, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
