"""Running a subcommand's handler: user errors become one line and exit code 2.

Shared by ``fakereview`` (:mod:`fakereview_nlp.cli.main`) and ``python -m
fakereview_nlp.cli.classify`` (what ``accelerate launch`` runs), so neither imports the other.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from collections.abc import Callable
from typing import Any

from fakereview_nlp.errors import USER_ERROR_EXIT, USER_ERRORS, PeerFailedError, one_line


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
    from fakereview_nlp.model.default_model import model_given_as

    try:
        # model errors say where the path came from: --model here, model= in Python
        with model_given_as(getattr(args, "model_given_as", "--model")):
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


__all__ = ["quiet_hf_progress", "run_handler"]
