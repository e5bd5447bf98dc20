"""Where inference runs and in which precision: :func:`resolve_device`, :func:`resolve_dtype`.

The rules (also in the README):

* device ``None`` picks CUDA, then Apple MPS, then the CPU. ``"cpu"``, ``"cuda"``, ``"cuda:1"``
  and ``"mps"`` are honoured as given, and asking for one that is not there is an error rather
  than a silent fallback.
* dtype ``None`` (or ``"auto"``) picks bfloat16 on CUDA GPUs that support it and float16 on
  older ones; bfloat16 on CPUs with AMX or AVX-512-BF16 (where oneDNN runs bf16 matrix products
  natively); float32 everywhere else, including MPS and CPUs with only AVX2, where bf16 is
  emulated and several times *slower* than float32.
"""

from __future__ import annotations

import contextlib
import functools
import os
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

DtypeName = Literal["auto", "float32", "bfloat16", "float16"]

_DTYPE_ALIASES: dict[str, str] = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX-BF16 or AVX-512-BF16).

    Checked three ways, any of which suffices: oneDNN's own probe, PyTorch's dispatch
    capability, and the ``amx_bf16`` / ``avx512_bf16`` flags in ``/proc/cpuinfo`` (Linux).
    """
    import torch

    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        if probe is not None and bool(probe()):
            return True
    except RuntimeError:  # builds without oneDNN
        pass
    capability = ""
    with contextlib.suppress(AttributeError, RuntimeError):
        capability = str(torch.backends.cpu.get_cpu_capability())
    if "AMX" in capability.upper() or "BF16" in capability.upper():
        return True
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"amx_bf16", "avx512_bf16"})
    except OSError:
        pass
    return False


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The ``torch.device`` to run on.

    Args:
        device (`str` or `torch.device`, *optional*): ``None`` picks ``cuda`` (``cuda:LOCAL_RANK``
            under ``accelerate launch``/``torchrun``), then ``mps``, then ``cpu``.

    Raises:
        `ValueError`: the device string is malformed, or names a device this machine lacks.

    Example::

        >>> resolve_device("cpu")
        device(type='cpu')
    """
    import torch

    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device {device!r} is not a device name; expected 'cpu', 'cuda', 'cuda:<index>', 'mps' or None"
        ) from err
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was requested but PyTorch sees no CUDA GPU "
                f"(torch {torch.__version__}); pass device='cpu' or install a CUDA build of torch"
            )
        index = 0 if resolved.index is None else resolved.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r} was requested but only {torch.cuda.device_count()} CUDA device(s) "
                f"exist (cuda:0..cuda:{torch.cuda.device_count() - 1})"
            )
    elif resolved.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ValueError(f"device {device!r} was requested but MPS is not available; pass device='cpu'")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device {device!r} is not supported; expected 'cpu', 'cuda', 'cuda:<index>' or 'mps'"
        )
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The compute dtype for ``device``; see the module docstring for the ``None`` rule.

    Args:
        dtype (`str` or `torch.dtype`, *optional*): ``None``/``"auto"``, ``"float32"``
            (``"fp32"``), ``"bfloat16"`` (``"bf16"``), ``"float16"`` (``"fp16"``) or the
            matching ``torch.dtype``.
        device (`torch.device`): from :func:`resolve_device`.

    Raises:
        `ValueError`: an unknown dtype name, or float16 requested on the CPU.
    """
    import torch

    if isinstance(dtype, torch.dtype):
        name = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}.get(dtype)
        if name is None:
            raise ValueError(
                f"dtype {dtype} is not supported; expected torch.float32, torch.bfloat16 or torch.float16"
            )
    else:
        name = _DTYPE_ALIASES.get("auto" if dtype is None else str(dtype).lower())
        if name is None:
            raise ValueError(
                f"dtype {dtype!r} is not supported; expected one of {sorted(set(_DTYPE_ALIASES))} or None"
            )
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu" and cpu_supports_bf16():
            return torch.bfloat16
        return torch.float32
    if name == "float16" and device.type == "cpu":
        raise ValueError(
            "dtype 'float16' is not supported on the CPU (no fast fp16 kernels); "
            "use dtype='bfloat16' on CPUs with AMX/AVX-512-BF16, or 'float32'"
        )
    return getattr(torch, name)


def autocast_context(device: torch.device, dtype: torch.dtype) -> AbstractContextManager[object]:
    """``torch.autocast`` for half precision, a no-op for float32 (nanoGPT's ``ctx`` idiom).

    Weights stay float32; autocast runs the matrix products in ``dtype`` and keeps softmax and
    layer norm in float32, which keeps labels in agreement with a float32 run.
    """
    import torch

    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


__all__ = ["DtypeName", "autocast_context", "cpu_supports_bf16", "resolve_device", "resolve_dtype"]
