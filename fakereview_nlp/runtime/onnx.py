"""ONNX Runtime copies of a model folder's classifier: float32 (``"onnx"``) and int8 (``"onnx-int8"``).

Built once per weights, in the conversion cache (:func:`~fakereview_nlp.runtime.backends.cache_dir`,
folder ``<weights sha256[:16]>/onnx``):

* ``model.onnx``: the float32 classifier exported by ``torch.onnx.export`` with eager attention,
  then fused by ONNX Runtime's transformer optimizer (one ``Attention`` op per layer, fused
  embeddings and layer norms) where the architecture is BERT-like. Same arithmetic as float32
  torch up to summation order (max |dP| 0.0000 on the reference, reports/inference_throughput).
* ``model_int8.onnx``: the same graph with int8 weights and dynamically quantised activations
  (``quantize_dynamic``, per-channel weights). Not exact: it is used by default only where its
  agreement with float32 torch was measured and accepted (see :mod:`fakereview_nlp.runtime.choice`).
* ``build.json``: the weights hash and the versions that built them; a copy built by other
  versions is built again.

A build takes about 6 s for the reference model and 15 s for a distilbert-base shape on 2 cores.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from fakereview_nlp.files import atomic_write_text, read_json
from fakereview_nlp.model.folder import weights_hash
from fakereview_nlp.runtime.backends import LogitsFn, cache_dir, replace_dir

logger = logging.getLogger(__name__)

FLOAT_FILE = "model.onnx"
INT8_FILE = "model_int8.onnx"
BUILD_FILE = "build.json"
#: Bumped when the export or quantisation recipe changes, so caches built by an older one are rebuilt.
RECIPE = "eager-opset17-fused-dynamic-int8-v1"
_FUSED_TYPES = {"bert": "bert", "distilbert": "bert", "roberta": "bert", "xlm-roberta": "bert"}


def onnx_available() -> bool:
    """Whether ONNX Runtime and the ONNX exporter's package import (both are default dependencies)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def onnx_folder(model_dir: str | os.PathLike[str]) -> Path:
    """Where the ONNX copies of ``model_dir``'s weights live (built or not)."""
    return cache_dir() / weights_hash(model_dir)[:16] / "onnx"


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    import onnxruntime
    import torch
    import transformers

    return (
        ("onnxruntime", onnxruntime.__version__),
        ("torch", torch.__version__),
        ("transformers", transformers.__version__),
    )


def build_versions() -> dict[str, str]:
    """The recipe and library versions a build depends on; a cache built under others is stale."""
    # RECIPE is read at each call, so a recipe bump (or a test's patch) counts at once
    return {"recipe": RECIPE, **dict(_versions())}


def find_onnx(model_dir: str | os.PathLike[str], *, int8: bool) -> Path | None:
    """The ``.onnx`` file built from these weights by this recipe and these versions, or ``None``."""
    folder = onnx_folder(model_dir)
    path = folder / (INT8_FILE if int8 else FLOAT_FILE)
    try:
        meta = read_json(folder / BUILD_FILE, fix="it is rebuilt by fakereview runtime")
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not path.is_file():
        return None
    if meta.get("weights_sha256") != weights_hash(model_dir) or meta.get("versions") != build_versions():
        return None
    return path


def build_onnx(model_dir: str | os.PathLike[str]) -> Path:
    """Export, fuse and quantise ``model_dir``'s classifier into :func:`onnx_folder` (atomically).

    Returns:
        The folder holding ``model.onnx``, ``model_int8.onnx`` and ``build.json``.

    Raises:
        `ValueError`: the model cannot be exported (named in the message).
        `OSError`: the cache cannot be written.
    """
    folder = onnx_folder(model_dir)
    with tempfile.TemporaryDirectory(prefix="fakereview-onnx-") as tmp:
        staging = Path(tmp)
        config = _export(model_dir, staging / "exported.onnx")
        _optimize(staging / "exported.onnx", staging / FLOAT_FILE, config)
        model_type = str(config.model_type)
        (staging / "exported.onnx").unlink(missing_ok=True)  # moved already when nothing was fused
        _quantize(staging / FLOAT_FILE, staging / INT8_FILE)
        meta = {
            "weights_sha256": weights_hash(model_dir),
            "versions": build_versions(),
            "model_type": model_type,
        }
        atomic_write_text(staging / BUILD_FILE, json.dumps(meta, indent=2) + "\n")
        replace_dir(staging, folder)
    return folder


def _export(model_dir: str | os.PathLike[str], out: Path) -> Any:
    """Write the float32 logits graph to ``out``; return the model's config."""
    import torch
    from transformers import AutoModelForSequenceClassification

    # Eager attention exports as plain MatMul/Softmax, which the optimizer fuses into one
    # Attention op; the SDPA export does not fuse and runs slower.
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir,
        attn_implementation="eager",
        dtype=torch.float32,
        use_safetensors=True,
        trust_remote_code=False,
    ).eval()

    class _Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    dynamic = {
        "input_ids": {0: "rows", 1: "width"},
        "attention_mask": {0: "rows", 1: "width"},
        "logits": {0: "rows"},
    }
    # The tracer warns about data-dependent branches that are fixed for inference; say nothing.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                _Logits(model), example, str(out), input_names=["input_ids", "attention_mask"],
                output_names=["logits"], dynamic_axes=dynamic, opset_version=17, dynamo=False,
            )  # fmt: skip
        except Exception as err:  # the exporter raises many types for unsupported operators
            raise ValueError(
                f"could not export {model_dir} to ONNX ({type(err).__name__}: {err}); use backend='torch'"
            ) from err
    return model.config


def _optimize(src: Path, out: Path, config: Any) -> None:
    import onnx

    fused = _FUSED_TYPES.get(str(config.model_type))
    if fused is None:  # an architecture the fusions do not know: keep the plain export
        os.replace(src, out)
        return
    from onnxruntime.transformers.optimizer import optimize_model

    graph = onnx.load(str(src))
    # DistilBERT names them n_heads and dim; the optimizer cannot read them off the graph.
    heads = getattr(config, "num_attention_heads", None) or config.n_heads
    hidden = getattr(config, "hidden_size", None) or config.dim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimized = optimize_model(graph, model_type=fused, num_heads=heads, hidden_size=hidden, opt_level=0)
    optimized.save_model_to_file(str(out))


def _quantize(src: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs a hint about pre-processing on every call; it does not apply to these graphs.
    quant_logger = logging.getLogger()
    level = quant_logger.level
    quant_logger.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(src), str(out), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"], extra_options={"DefaultTensorType": 1},
        )  # fmt: skip
    finally:
        quant_logger.setLevel(level)


def onnx_logits_fn(path: str | os.PathLike[str]) -> LogitsFn:
    """A :data:`~fakereview_nlp.runtime.backends.LogitsFn` running ``path`` on ONNX Runtime's CPU provider."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    # As many threads as torch is set to use, so torch.set_num_threads() governs both runtimes.
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in names:  # a fused BERT embedding asks for segment ids: one segment
            feed["token_type_ids"] = np.zeros_like(input_ids)
        return np.asarray(session.run(None, {name: feed[name] for name in names})[0], dtype=np.float32)

    return run


__all__ = [
    "BUILD_FILE",
    "FLOAT_FILE",
    "INT8_FILE",
    "RECIPE",
    "build_onnx",
    "build_versions",
    "find_onnx",
    "onnx_available",
    "onnx_folder",
    "onnx_logits_fn",
]
