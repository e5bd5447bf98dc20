"""The output directory and the best model kept during a run: written aside, then renamed.

A crash never leaves a complete-looking output directory, and never loses the best model a
checkpoint refers to (see :func:`save_best_folder`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from fakereview_nlp.files import umask_mode

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


def match_umask(folder: Path) -> None:
    """Give every file under ``folder`` the mode ``open()`` would (0666 less the umask).

    safetensors writes ``model.safetensors`` through a private temporary file (mode 0600); a
    model others on the machine cannot read is no use in a shared output folder.
    """
    file_mode, dir_mode = umask_mode(0o666), umask_mode(0o777)
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        os.chmod(path, dir_mode if path.is_dir() else file_mode)


# ----------------------------------------------------------------------------- the best model

#: Beside the checkpoints: ``best/step_<N>`` holds the model validated at step N.
BEST_DIR = "best"


def best_folder(work: Path, step: int) -> Path:
    """Where the best model of step ``step`` lives during a run (``work/best/step_<step>``).

    A checkpoint written before this layout kept one folder, ``work/best``; it is returned when
    it is all there is, so such a run still resumes.
    """
    folder = work / BEST_DIR / f"step_{step}"
    legacy = work / BEST_DIR
    if not folder.is_dir() and (legacy / "model.safetensors").is_file():
        return legacy
    return folder


def save_best_folder(work: Path, step: int, write: Callable[[Path], None], keep: Iterable[int] = ()) -> Path:
    """Write the best model of step ``step`` without ever deleting the one before it first.

    ``write(folder)`` fills a fresh temporary folder; it is renamed to ``best/step_<step>``
    only when complete. The best models of other steps are then removed, except those named in
    ``keep`` and those a checkpoint's trainer state refers to: a run killed between checkpoints
    resumes from the last one, and must find the best model *that* checkpoint recorded.
    """
    final = work / BEST_DIR / f"step_{step}"
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
    if partial.exists():
        shutil.rmtree(partial)
    write(partial)
    match_umask(partial)
    if final.exists():  # a replayed step: set the old copy aside, then drop it
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        partial.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        partial.rename(final)
    wanted = {step, *keep, *checkpointed_best_steps(work)}
    for other in final.parent.iterdir():
        name = other.name
        stale_partial = name.startswith(".step_")
        if stale_partial or (name.startswith("step_") and int(name.removeprefix("step_")) not in wanted):
            shutil.rmtree(other, ignore_errors=True)
    return final


def checkpointed_best_steps(work: Path, state_file: str = "trainer_state.json") -> set[int]:
    """The best steps recorded by the checkpoints in ``work`` (``step_<N>/trainer_state.json``)."""
    steps: set[int] = set()
    for path in work.glob(f"step_*/{state_file}"):
        try:
            steps.add(int(json.loads(path.read_text(encoding="utf-8"))["best_step"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable checkpoint cannot be resumed from either
    return steps


def shift_fake_bias(folder: Path, shift: float) -> str:
    """Add ``shift`` to the classifier's fake-logit bias in ``folder/model.safetensors``; returns its key.

    The output layer's bias is the one vector with an entry per label whose key ends in
    ``classifier.bias`` (BERT, DistilBERT) or ``out_proj.bias`` (RoBERTa-style heads). With one fake
    output per kind, every kind's bias moves by ``shift``: their log-sum-exp, the fake logit, moves
    by exactly ``shift``.
    """
    import json

    import torch
    from safetensors.torch import load_file, save_file

    from fakereview_nlp.labels import output_columns

    path = folder / "model.safetensors"
    id2label = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("id2label")
    _, fakes = output_columns(id2label, str(folder))
    n_labels = len(id2label)
    weights = load_file(str(path))
    keys = [
        k for k, v in weights.items() if k.endswith(("classifier.bias", "out_proj.bias")) and v.shape == (n_labels,)
    ]
    if len(keys) != 1:
        raise ValueError(
            f"{path} has {len(keys)} {n_labels}-way output biases ({keys}); expected exactly one, so the fake-logit "
            "shift cannot be placed: set evaluation.calibrate_shift: false for this architecture"
        )
    bias = weights[keys[0]]
    shifted = bias.clone().to(torch.float32)
    shifted[list(fakes)] += shift
    weights[keys[0]] = shifted.to(bias.dtype)
    save_file(weights, str(path), metadata={"format": "pt"})
    return keys[0]
