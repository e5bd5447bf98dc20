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

import yaml

from fakereview_nlp.cli.handler import run_handler
from fakereview_nlp.files import same_file
from fakereview_nlp.language import DEFAULT_MODEL_LANGUAGES
from training.output import COMPLETE_MARKER, match_umask

#: The most a shipped model folder may hold (the repository's rule for models/).
MAX_BYTES = 48 * 1024 * 1024
#: Files of a run that are not part of a served model (the held-out predictions stay with the run
#: and in its report; the repository's size budget is tight).
SKIPPED = {"val_logits.npz", "val_predictions.csv"}


#: Written into every packaged folder: what batch output records and the model card quotes.
MODEL_INFO = "model_info.json"


def package(
    run_dir: str | Path,
    target: str | Path,
    *,
    max_bytes: int = MAX_BYTES,
    version: str | None = None,
    languages: Sequence[str] | None = None,
) -> dict[str, int]:
    """Write ``target`` from the finished run ``run_dir``; returns file name -> bytes.

    ``model_info.json`` records ``version`` (batch output carries it, so a job says which model
    scored it), the ``languages`` the model was trained to read (other text is out of scope) and
    the training sources. A ``model_info.json`` the run wrote itself is kept, updated by these:
    ``languages=None`` keeps the languages training identified in its texts (``["en"]`` for a run
    that recorded none).

    Raises:
        `FileNotFoundError`: ``run_dir`` is not a finished run (no ``training_config.yaml``).
        `ValueError`: the packaged folder would exceed ``max_bytes``.
    """
    import torch
    from safetensors.torch import load_file, save_file

    source, final = Path(run_dir), Path(target)
    if same_file(final, source) or final.resolve() in source.resolve().parents:
        raise ValueError(
            f"target {str(final)!r} would replace the run {str(source)!r} it is packaged from; choose another target"
        )
    if not (source / COMPLETE_MARKER).is_file():
        raise FileNotFoundError(
            f"{source} has no {COMPLETE_MARKER}, so it is not a finished training run; "
            "train it first with python -m training.train CONFIG"
        )
    if not version and "version" not in _read_info(source):
        raise ValueError(f"{source} has no model version; give one with --version (e.g. --version 2026.12.0)")
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
    info_path = staging / MODEL_INFO
    info = _read_info(staging)
    trained = yaml.safe_load((staging / COMPLETE_MARKER).read_text(encoding="utf-8")) or {}
    sources = [s["name"] for s in (trained.get("data") or {}).get("sources") or []]
    if languages is not None:
        recorded = list(languages)
    else:  # what training identified in its own texts; runs from before that were English-only
        recorded = list(info.get("languages") or DEFAULT_MODEL_LANGUAGES)  # type: ignore[call-overload]
    if not recorded or not all(isinstance(x, str) and x for x in recorded):
        shutil.rmtree(staging)
        raise ValueError(f"languages must be ISO 639-1 codes such as en,fr; got {recorded!r}")
    info.update({"languages": recorded, "sources": sources or info.get("sources", [])})
    info["version"] = version or info["version"]
    info_path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
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


def _read_info(folder: Path) -> dict[str, object]:
    path = folder / MODEL_INFO
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished training run (holds training_config.yaml)")
    parser.add_argument("target", help="the model folder to write (replaced if present)")
    parser.add_argument("--max-mb", type=float, default=MAX_BYTES / 2**20, help="size limit in MiB (default 48)")
    parser.add_argument("--version", default=None, help="model version recorded in model_info.json (e.g. 2026.12.0)")
    parser.add_argument(
        "--languages", default=None,
        help="comma-separated ISO 639-1 codes the model reads (default: the languages training identified "
        "in its texts, recorded in the run's model_info.json; en for a run that recorded none)",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks for errors")
    args = parser.parse_args(argv)
    # user errors: one line `package: error: ...`, exit 2 (-v: the traceback too)
    return run_handler(_run, args, verbose=args.verbose, prog="package")


def _run(args: argparse.Namespace) -> int:
    languages = None if args.languages is None else [c.strip() for c in args.languages.split(",") if c.strip()]
    sizes = package(
        args.run_dir, args.target, max_bytes=int(args.max_mb * 2**20), version=args.version, languages=languages
    )
    for name, size in sizes.items():
        print(f"{size / 2**20:8.2f} MiB  {name}")
    print(f"{sum(sizes.values()) / 2**20:8.2f} MiB  total -> {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
