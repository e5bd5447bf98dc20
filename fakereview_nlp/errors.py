"""Which errors are the user's to fix, and how they read on one line: shared by every command.

A leaf module (it imports nothing of the package), so the CLI, the batch engine and the Ray engine
can all use it without importing one another.
"""

from __future__ import annotations

#: Exit code of a user error (the same as argparse's for a bad command line).
USER_ERROR_EXIT = 2
USER_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, TypeError)


class PeerFailedError(RuntimeError):
    """Another process of a multi-process job failed; this one stops too.

    ``user_error`` tells whether the other process failed on bad input (exit code 2) or on
    something else (exit code 1).
    """

    def __init__(self, message: str, *, user_error: bool) -> None:
        super().__init__(message)
        self.user_error = user_error


class OutputWriteError(OSError):
    """Writing a job's output failed (disk full, a quota, a lost mount): its finished parts are kept.

    A user error (exit code 2), but not bad input: ``--resume`` continues the job once the cause is fixed.
    """


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is the user's to fix (bad input, files, options) rather than a bug."""
    if isinstance(error, PeerFailedError):
        return error.user_error
    return isinstance(error, USER_ERRORS)


def one_line(error: BaseException) -> str:
    """``error``'s message on one line (its lines joined with ' | ')."""
    text = str(error)
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines) or type(error).__name__


__all__ = ["USER_ERRORS", "USER_ERROR_EXIT", "OutputWriteError", "PeerFailedError", "is_user_error", "one_line"]
