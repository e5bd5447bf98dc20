"""The ``fakereview`` command: ``classify``, ``evaluate``, ``model-card`` and ``prepare``.

Each subcommand lives with the noun it works on (``batch``, ``report``, ``model_card``,
``corpora``) and registers itself here; this file dispatches, and turns errors into messages.

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
import contextlib
import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from fakereview_nlp.errors import USER_ERROR_EXIT, USER_ERRORS, PeerFailedError, is_user_error, one_line  # noqa: F401  (is_user_error: re-exported)

#: module providing each subcommand, and the name of its ``add_*_parser(subparsers)`` function.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("fakereview_nlp.cli.classify", "add_classify_parser"),
    ("fakereview_nlp.cli.evaluate", "add_evaluate_parser"),
    ("fakereview_nlp.evaluation.model_card", "add_model_card_parser"),
    ("fakereview_nlp.data.corpora", "add_prepare_parser"),
    ("fakereview_nlp.explanations.html", "add_explain_parser"),
)



def run_handler(
    handler: Callable[[argparse.Namespace], Any],
    args: argparse.Namespace,
    *,
    verbose: bool,
    prog: str = "fakereview",
) -> int:
    """Run a subcommand's handler; a user error becomes ``PROG: error: MESSAGE`` and exit code 2.

    With ``verbose`` the traceback is printed first. Other exceptions propagate (a traceback and
    exit code 1), except that a failure of another process of the same job is also one line (exit
    code 2 or 1 as that process's error was a user error or not).
    """
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exit_:
        if isinstance(exit_.code, str):  # SystemExit("message"): a handler's own way of saying "user error"
            if verbose:
                traceback.print_exc()
            print(f"{prog}: error: {one_line(SystemExit(exit_.code))}", file=sys.stderr)
            return USER_ERROR_EXIT
        raise
    except PeerFailedError as err:
        if verbose:
            traceback.print_exc()
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return USER_ERROR_EXIT if err.user_error else 1
    except USER_ERRORS as err:
        if verbose:
            traceback.print_exc()
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return USER_ERROR_EXIT


def quiet_hf_progress() -> None:
    """No "Loading weights" bars from transformers: they say nothing to a user of a command (``-v`` keeps them)."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when transformers is imported
    if "transformers" in sys.modules:  # already imported: switch its bars off directly
        with contextlib.suppress(ImportError, AttributeError):
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakereview",
        description="Score reviews as genuine or fake, evaluate detectors at fixed flag rates, prepare corpora.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at INFO level; tracebacks for errors"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name, function_name in SUBCOMMANDS:
        sub = getattr(importlib.import_module(module_name), function_name)(subparsers)
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
