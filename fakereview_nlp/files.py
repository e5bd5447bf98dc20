"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A reader (or a crash) never sees a half-written report, model card or prediction file under
its final name. The temporary file is created with ``tempfile.mkstemp`` (mode 0600), so the
finished file is given the mode a plain ``open(path, "w")`` would have (0666 minus the
umask): others on a shared machine can read a model or report as they could before.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def umask_mode(base: int = 0o666) -> int:
    """``base`` less the process umask (read without changing it for other threads for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed.

    Example::

        >>> with atomic_path("report.json") as tmp:  # doctest: +SKIP
        ...     tmp.write_text("{}")
    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(descriptor)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, umask_mode())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(target: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically; returns the final path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(target)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically; returns the final path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name the same file by any spelling, symlink or hard link.

    When both exist, their device and inode are compared (``os.path.samefile``); otherwise their
    resolved paths (symlinks followed, ``..`` and ``.`` removed).
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)


def refuse_overwriting_inputs(
    outputs: Iterable[str | os.PathLike[str] | None],
    inputs: Iterable[str | os.PathLike[str] | None],
    *,
    option: str = "-o",
) -> None:
    """Raise ``ValueError`` when a file a command would write is one of the files it reads.

    ``None`` and ``"-"`` (stdin/stdout) are skipped. Checked before anything is written, so the
    input is untouched.

    Raises:
        `ValueError`: naming the output, the input and the fix.
    """
    sources = [s for s in inputs if s is not None and str(s) != "-"]
    for output in outputs:
        if output is None or str(output) == "-":
            continue
        for source in sources:
            if same_file(output, source):
                relation = "is" if str(output) == str(source) else "is the same file as"
                raise ValueError(
                    f"output {str(output)!r} {relation} the input {str(source)!r}; writing it would destroy "
                    f"the input. Choose another {option} path"
                )


def read_json(path: str | os.PathLike[str], *, fix: str) -> Any | None:
    """The parsed contents of the JSON file ``path``, or ``None`` when there is no such file.

    Args:
        path: the file.
        fix (`str`): what the user should do about a corrupt file, appended to the error.

    Raises:
        `ValueError`: the file is not valid JSON (or not UTF-8); the message names it and ``fix``.
    """
    file = Path(path)
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{file} is not valid JSON ({err}); {fix}") from err


__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_json",
    "refuse_overwriting_inputs",
    "same_file",
    "umask_mode",
]
