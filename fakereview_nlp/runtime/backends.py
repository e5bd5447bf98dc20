"""Runtimes that compute a classifier's logits: their names, :func:`agreement`, the cache, OpenVINO.

:class:`~fakereview_nlp.inference.FakeReviewClassifier` tokenises, sorts and batches reviews
itself; a backend only turns one padded batch (``input_ids``, ``attention_mask``) into logits.

* ``"torch"``: the PyTorch model as loaded (autocast in half precision). Always available.
* ``"onnx"`` and ``"onnx-int8"``: ONNX Runtime, float32 or int8, in the default install; built
  once per weights (:mod:`fakereview_nlp.runtime.onnx`).
* ``"openvino"``: the model converted once with ``openvino.convert_model`` and run by the
  OpenVINO CPU plugin, in bf16 where the CPU multiplies bf16 natively (``dtype`` bfloat16) and
  f32 otherwise. Needs the ``openvino`` extra.
* ``"openvino-int8"``: the OpenVINO model with int8 weights and activations from NNCF, calibrated
  on in-domain reviews. It exists only after :func:`build_int8` has measured its agreement with
  float32 torch on held-out reviews and accepted it (>= 99.5 % of labels at 0.5 **and** of flags at
  the model's operating threshold by default).
* ``"auto"`` (the default of ``from_pretrained``): on the CPU, the runtime measured fastest on
  this machine among those that keep agreement (:mod:`fakereview_nlp.runtime.choice`); torch
  until that measurement exists, and on CUDA and MPS. OpenVINO is used only when named.

Converted models are cached under :func:`cache_dir` (``$FAKEREVIEW_CACHE``, else
``$XDG_CACHE_HOME/fakereview_nlp``, else ``~/.cache/fakereview_nlp``) in a folder named by the
SHA-256 of ``model.safetensors``, so changed weights get a new conversion and a read-only model
folder still works. An int8 model may also sit in the model folder itself
(``openvino_int8/``, written by ``build_int8(..., into_model_dir=True)``), where it is used only
if its recorded weight hash matches.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fakereview_nlp.files import read_json
from fakereview_nlp.model.folder import weights_hash

logger = logging.getLogger(__name__)

BackendName = Literal["auto", "torch", "onnx", "onnx-int8", "openvino", "openvino-int8"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "onnx", "onnx-int8", "openvino", "openvino-int8")

#: Label and flag agreement an int8 model needs with float32 torch to be accepted.
MIN_AGREEMENT = 0.995
#: And the overlap (intersection over union) of the two flagged sets.
MIN_FLAG_IOU = 0.95
CACHE_ENV_VAR = "FAKEREVIEW_CACHE"
INT8_DIR = "openvino_int8"
ACCEPT_FILE = "agreement.json"

#: A batch of padded token ids and mask, both int64 of shape (rows, width), to float32 logits.
LogitsFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Agreement:
    """How often a candidate's verdicts match a reference's on the same reviews.

    Attributes:
        n (`int`): reviews compared.
        label (`float`): share with the same label (``score >= 0.5``).
        flagged (`float`): share with the same flag (``score >= threshold``).
        threshold (`float`): the operating threshold used for ``flagged``.
        max_abs_diff (`float`): the largest change of one P(fake).
        flagged_iou (`float`): intersection over union of the two flagged sets (1.0 when both
            are empty): a few flips among rare flags move it much more than ``flagged``.
    """

    n: int
    label: float
    flagged: float
    threshold: float
    max_abs_diff: float
    flagged_iou: float = float("nan")

    def accepted(self, minimum: float = MIN_AGREEMENT, min_iou: float = MIN_FLAG_IOU) -> bool:
        """Whether ``label`` and ``flagged`` reach ``minimum`` and ``flagged_iou`` reaches ``min_iou``."""
        iou_ok = math.isnan(self.flagged_iou) or self.flagged_iou >= min_iou
        return self.n > 0 and self.label >= minimum and self.flagged >= minimum and iou_ok


def agreement(reference: Sequence[float], candidate: Sequence[float], threshold: float = 0.5) -> Agreement:
    """Label (at 0.5) and flag (at ``threshold``) agreement of two score vectors.

    Args:
        reference (`Sequence[float]`): P(fake) from the trusted path (float32 torch).
        candidate (`Sequence[float]`): P(fake) from the path under test, same reviews and order.
        threshold (`float`, defaults to `0.5`): the operating threshold for ``flagged``.

    Returns:
        :class:`Agreement`.

    Example::

        >>> agreement([0.1, 0.6, 0.97], [0.2, 0.4, 0.96], threshold=0.95)
        Agreement(n=3, label=0.6666666666666666, flagged=1.0, threshold=0.95, max_abs_diff=0.2, flagged_iou=1.0)
    """
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape or ref.ndim != 1:
        raise ValueError(
            f"reference and candidate must be 1-D score vectors of the same length, got shapes "
            f"{ref.shape} and {cand.shape}; score the same reviews in the same order"
        )
    if ref.size == 0:
        return Agreement(0, float("nan"), float("nan"), float(threshold), float("nan"))
    ref_flag, cand_flag = ref >= threshold, cand >= threshold
    either = int((ref_flag | cand_flag).sum())
    return Agreement(
        n=int(ref.size),
        label=float(((ref >= 0.5) == (cand >= 0.5)).mean()),
        flagged=float((ref_flag == cand_flag).mean()),
        threshold=float(threshold),
        max_abs_diff=round(float(np.abs(ref - cand).max()), 6),
        flagged_iou=float((ref_flag & cand_flag).sum() / either) if either else 1.0,
    )


def openvino_available() -> bool:
    """Whether the optional OpenVINO runtime imports."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cache_dir() -> Path:
    """Root of the conversion cache (see the module docstring for the order of the rules)."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fakereview_nlp"


def check_backend(backend: object) -> str:
    """``backend`` if it is a known name, else a ``ValueError`` listing them."""
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not supported; expected one of {list(BACKENDS)}")
    return str(backend)


def find_int8(model_dir: str | os.PathLike[str]) -> Path | None:
    """The folder of an accepted int8 model for these weights (model folder first, then cache), or ``None``."""
    sha = weights_hash(model_dir)
    for folder in (Path(model_dir) / INT8_DIR, cache_dir() / sha[:16] / "int8"):
        meta = _read_json(folder / ACCEPT_FILE)
        if meta.get("weights_sha256") == sha and meta.get("accepted") and (folder / "model.xml").is_file():
            return folder
    return None


def openvino_logits_fn(
    model_dir: str | os.PathLike[str], torch_model: Any, *, bf16: bool, int8: bool
) -> LogitsFn:
    """A :data:`LogitsFn` running the model with OpenVINO (converted once, then read from the cache).

    Args:
        model_dir (path): the model folder (its weights key the cache).
        torch_model (`PreTrainedModel`): the float32 model, converted when no cached copy exists.
        bf16 (`bool`): run in bf16 (``INFERENCE_PRECISION_HINT``), else f32. Ignored for int8,
            which runs with the f32 hint it was accepted with.
        int8 (`bool`): use the accepted int8 model (:func:`find_int8`) instead of the float one.
    """
    import openvino as ov

    if int8:
        folder = find_int8(model_dir)
        if folder is None:
            raise ValueError(f"no accepted int8 model for {model_dir}; build one with build_int8()")
        return compiled_fn(ov.Core().read_model(folder / "model.xml"), bf16=False)
    return compiled_fn(float_ir(model_dir, torch_model), bf16=bf16)


def compiled_fn(ov_model: Any, *, bf16: bool) -> LogitsFn:
    import openvino as ov
    import torch

    # As many threads as torch is set to use, so torch.set_num_threads() governs both runtimes.
    settings = {
        "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
    }
    compiled = ov.Core().compile_model(ov_model, "CPU", settings)
    request = compiled.create_infer_request()

    def run(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        out = request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
        return np.array(out[0], dtype=np.float32)  # a copy: the request reuses its output buffer

    return run


def float_ir(model_dir: str | os.PathLike[str], torch_model: Any) -> Any:
    """The float OpenVINO model: read from the cache, else converted from ``torch_model`` and cached."""
    import openvino as ov

    folder = cache_dir() / weights_hash(model_dir)[:16] / "float"
    xml = folder / "model.xml"
    if xml.is_file() and (folder / "model.bin").is_file():
        return ov.Core().read_model(xml)
    ov_model = _convert(torch_model)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # compress_to_fp16=False: fp16 storage would round the weights that bf16/f32 runs read.
            ov.save_model(ov_model, Path(tmp) / "model.xml", compress_to_fp16=False)
            replace_dir(Path(tmp), folder)
    except OSError as err:  # a read-only home still runs, only without the cache
        logger.warning(
            "could not cache the OpenVINO model in %s (%s); it is converted on every load", folder, err
        )
    return ov_model


def _convert(torch_model: Any) -> Any:
    import openvino as ov
    import torch

    class _Logits(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    model = torch_model.float().eval()
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    # Tracing warns about data-dependent branches that are fixed for inference; say nothing.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ov.convert_model(
            _Logits(model),
            example_input=example,
            input=[("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)],
        )


def replace_dir(src: Path, dest: Path) -> None:
    """Copy ``src``'s files into ``dest`` via a sibling folder and a rename, so readers never see half a model."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        for item in src.iterdir():
            shutil.copy2(item, staging / item.name)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _read_json(path: Path) -> dict[str, Any]:
    # A half-written or foreign agreement.json only means "no accepted int8 model here".
    try:
        data = read_json(path, fix="it is rebuilt by build_int8")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


__all__ = [
    "BACKENDS",
    "CACHE_ENV_VAR",
    "MIN_AGREEMENT",
    "MIN_FLAG_IOU",
    "Agreement",
    "BackendName",
    "agreement",
    "cache_dir",
    "check_backend",
    "find_int8",
    "openvino_available",
    "openvino_logits_fn",
]
