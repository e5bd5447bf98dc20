"""Where inference runs, in which precision, on how many CPUs: :func:`resolve_device`,
:func:`resolve_dtype`, :func:`available_cpus`.

The rules (also in docs/classifying.md):

* device ``None`` picks CUDA, then Apple MPS, then the CPU. ``"cpu"``, ``"cuda"``, ``"cuda:1"``
  and ``"mps"`` are honoured as given, and asking for one that is not there is an error rather
  than a silent fallback.
* dtype ``None`` (or ``"auto"``) picks by the compute capability of the CUDA device given
  (not the current one): bfloat16 from sm 8.0 (Ampere) on, float16 on sm 7.x (Volta, Turing:
  fp16 tensor cores, bf16 only emulated), float32 below (no tensor cores). On the CPU, bfloat16
  with AMX or AVX-512-BF16 (where oneDNN runs bf16 matrix products natively); float32 everywhere
  else, including MPS and CPUs with only AVX2, where bf16 is emulated and several times *slower*
  than float32. ``torch.cuda.is_bf16_supported()`` is not used: it also counts emulated bf16.
* the dtype is the *compute* precision, applied with ``torch.autocast``; weights stay float32
  (see :func:`autocast_context` for why).
* :func:`available_cpus` counts the CPUs this process may run on (affinity mask and cgroup CPU
  quota), not the machine's, for thread counts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

DtypeName = Literal["auto", "float32", "bfloat16", "float16"]

#: cgroup v2, then v1, CPU quota files; a container limited to 2 CPUs still shows all the host's.
_CGROUP_CPU_FILES: tuple[Path, ...] = (
    Path("/sys/fs/cgroup/cpu.max"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
)

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
            major, _ = cuda_capability(device)
            # sm 8.0+ runs bf16 on its tensor cores; sm 7.x has fp16 tensor cores only (bf16 is
            # emulated, slower than fp32); older GPUs have no tensor cores, so half precision
            # saves memory but not time, and fp16 risks overflow for nothing.
            return torch.bfloat16 if major >= 8 else torch.float16 if major == 7 else torch.float32
        if device.type == "cpu" and cpu_supports_bf16():
            return torch.bfloat16
        return torch.float32
    if name == "float16" and device.type == "cpu":
        raise ValueError(
            "dtype 'float16' is not supported on the CPU (no fast fp16 kernels); "
            "use dtype='bfloat16' on CPUs with AMX/AVX-512-BF16, or 'float32'"
        )
    if name == "bfloat16" and device.type == "cuda" and cuda_capability(device)[0] < 8:
        major, minor = cuda_capability(device)
        logger.warning(
            "dtype='bfloat16' on %s (compute capability %d.%d): bf16 is emulated before sm 8.0 and slower "
            "than float32; use dtype='float16' or None",
            device,
            major,
            minor,
        )
    return getattr(torch, name)


def cuda_capability(device: torch.device) -> tuple[int, int]:
    """(major, minor) compute capability of CUDA ``device`` (``cuda`` alone means the current one)."""
    import torch

    index = torch.cuda.current_device() if device.index is None else device.index
    major, minor = torch.cuda.get_device_capability(index)
    return int(major), int(minor)


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota; at least 1.

    ``os.cpu_count()`` counts the machine's CPUs, which oversubscribes a process pinned by
    ``taskset``, a Slurm allocation or a container limit.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on macOS or Windows
        count = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        count = min(count, quota)
    return max(1, count)


def _cgroup_cpu_quota() -> int | None:
    for path in _CGROUP_CPU_FILES:
        try:
            text = path.read_text(encoding="utf-8").split()
            if path.name == "cpu.max":  # "QUOTA PERIOD" or "max PERIOD"
                quota, period = text[0], text[1]
            else:
                quota, period = text[0], (path.parent / "cpu.cfs_period_us").read_text().split()[0]
        except (OSError, IndexError):
            continue
        if quota in ("max", "-1"):
            return None
        try:
            return max(1, math.ceil(int(quota) / int(period)))
        except (ValueError, ZeroDivisionError):
            return None
    return None


def autocast_context(device: torch.device, dtype: torch.dtype) -> AbstractContextManager[object]:
    """``torch.autocast`` for half precision, a no-op for float32 (nanoGPT's ``ctx`` idiom).

    Weights stay float32 on purpose, in inference as in training (accelerate's mixed precision is
    the same autocast): autocast runs the matrix products in ``dtype``, where the time goes, and
    keeps softmax, layer norm and the loss in float32, so served scores stay closer to the float32
    validation scores the temperature and operating threshold were fitted on. Casting the weights instead
    (``model.to(dtype)``) halves their memory (MiniLM-L6: 90 MB to 45 MB, small beside the
    activations of a large batch) but moves the scores further: on 400 op_spam reviews with the
    fine-tuned MiniLM in ``runs/single_opspam`` (AMD EPYC CPU with AVX-512-BF16, 2 shared cores),
    autocast bf16 moved P(fake) against float32 by at most 0.0083 (mean 0.0004), bf16 weights by
    at most 0.0133 (mean 0.0006); each flipped 1 of the 400 flags at the operating threshold (two
    runs, same figures; their timings on the shared machine varied too much to rank the two:
    autocast 126 s and 239 s, bf16 weights 123 s and 153 s)
    (``python benchmarks/half_precision_weights.py runs/single_opspam ../shared/data/op_spam/op_spam.csv``).
    """
    import torch

    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


__all__ = [
    "DtypeName",
    "autocast_context",
    "available_cpus",
    "cpu_supports_bf16",
    "cuda_capability",
    "resolve_device",
    "resolve_dtype",
]
