"""Atomic writes: final name only when complete, umask-honouring modes, no temporary left on error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fakereview_nlp.files import atomic_path, atomic_write_bytes, atomic_write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_file_honours_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = atomic_write_text(tmp_path / "a.json", "{}")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert _mode(out) == _mode(plain) == 0o644
    assert out.read_text() == "{}"


def test_error_leaves_neither_final_nor_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
