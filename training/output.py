"""The output directory: written aside, then renamed, so a crash never leaves a complete-looking one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Written last into every finished output directory; its presence means "complete".
COMPLETE_MARKER = "training_config.yaml"


def check_output_dir(path: Path, *, overwrite: bool) -> None:
    """Refuse to start a run that would replace a finished model unless asked to."""
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"output directory {str(path)!r} already exists; choose another with --output.dir=... "
            "or replace it with --output.overwrite=true"
        )


def staging_dir(final: Path) -> Path:
    """A sibling folder on the same filesystem, so the final rename is atomic."""
    return final.with_name(f".{final.name}.partial-{os.getpid()}")


def publish(staging: Path, final: Path, *, overwrite: bool) -> None:
    """Move a fully written ``staging`` folder to ``final`` (atomic rename on one filesystem)."""
    if not (staging / COMPLETE_MARKER).is_file():
        raise RuntimeError(f"refusing to publish {staging}: it has no {COMPLETE_MARKER}, so it is incomplete")
    old = None
    if final.exists():
        if not overwrite:
            raise FileExistsError(
                f"output directory {str(final)!r} appeared during the run; not replacing it"
            )
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
