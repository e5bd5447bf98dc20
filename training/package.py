"""Copy a finished training run into a shippable model folder: fp16 weights, size checked.

Usage::

    python -m training.package runs/reference models/reference/fakereview_reference_model/model

The weights are stored in float16, which halves the folder (MiniLM: 87 MiB -> 43 MiB) so the
reference model fits the 48 MB the repository allows under ``models/``; the config keeps
``dtype: float32``, so ``from_pretrained`` (ours and ``transformers.pipeline``) computes in
float32 unless told otherwise, and the scores of the shipped files are what the reports measure.
Checkpoints, logs and validation logits are not copied. The target is written beside and renamed
into place, so a failed copy never leaves a half-written model where ``classify()`` would find it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from training.output import COMPLETE_MARKER, match_umask

#: The most a shipped model folder may hold (the repository's rule for models/).
MAX_BYTES = 48 * 1024 * 1024
#: Files of a run that are not part of a served model (the held-out predictions stay with the run
#: and in its report; the repository's size budget is tight).
SKIPPED = {"val_logits.npz", "val_predictions.csv"}


def package(run_dir: str | Path, target: str | Path, *, max_bytes: int = MAX_BYTES) -> dict[str, int]:
    """Write ``target`` from the finished run ``run_dir``; returns file name -> bytes.

    Raises:
        `FileNotFoundError`: ``run_dir`` is not a finished run (no ``training_config.yaml``).
        `ValueError`: the packaged folder would exceed ``max_bytes``.
    """
    import torch
    from safetensors.torch import load_file, save_file

    source, final = Path(run_dir), Path(target)
    if not (source / COMPLETE_MARKER).is_file():
        raise FileNotFoundError(
            f"{source} has no {COMPLETE_MARKER}, so it is not a finished training run; "
            "train it first with python -m training.train CONFIG"
        )
    staging = final.with_name(f".{final.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for item in sorted(source.iterdir()):
        if item.is_file() and item.name not in SKIPPED and item.name != "model.safetensors":
            shutil.copyfile(item, staging / item.name)
    weights = load_file(str(source / "model.safetensors"))
    half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in weights.items()}
    save_file(half, str(staging / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
    config["dtype"] = "float32"  # compute dtype at load; storage is fp16 only to halve the size
    # the staging folder is renamed into place whole, so its files need no atomic write of their own
    (staging / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    match_umask(staging)
    sizes = {p.name: p.stat().st_size for p in sorted(staging.iterdir())}
    total = sum(sizes.values())
    if total > max_bytes:
        shutil.rmtree(staging)
        raise ValueError(
            f"the packaged model would hold {total / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB allowed "
            f"({sizes}); prune the TF-IDF part (model.tfidf_max_features) or use a smaller encoder"
        )
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished training run (holds training_config.yaml)")
    parser.add_argument("target", help="the model folder to write (replaced if present)")
    parser.add_argument("--max-mb", type=float, default=MAX_BYTES / 2**20, help="size limit in MiB (default 48)")
    args = parser.parse_args(argv)
    try:
        sizes = package(args.run_dir, args.target, max_bytes=int(args.max_mb * 2**20))
    except (FileNotFoundError, ValueError) as err:
        print(f"package: error: {err}", file=sys.stderr)
        return 2
    for name, size in sizes.items():
        print(f"{size / 2**20:8.2f} MiB  {name}")
    print(f"{sum(sizes.values()) / 2**20:8.2f} MiB  total -> {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
