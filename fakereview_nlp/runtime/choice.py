"""Which runtime ``backend="auto"`` uses on this machine: measured once, cached, never guessed.

The fastest runtime differs by CPU: on one with native bf16 (AVX512-BF16, AMX) torch under bf16
autocast is fastest, on an AVX2-only CPU ONNX Runtime's float32 is about twice torch's
(reports/inference_throughput). So ``"auto"`` does not read a table of CPU names.
:func:`~fakereview_nlp.runtime.measure.prepare_runtime` times each candidate on this machine, on
made-up probe reviews, and writes a :class:`RuntimeChoice`; ``"auto"`` then uses it.

Candidates and the agreement gate (float32 torch is the reference):

* ``"torch-float32"``: torch in float32, the reference itself. Always a candidate.
* ``"onnx"`` (ONNX Runtime, float32): a candidate when its verdicts on the probe reviews are
  those of float32 torch (they are, up to summation order; a broken export would show here).
* ``"torch"`` at its default precision where that is not float32 (bf16 autocast on CPUs with
  native bf16) and ``"onnx-int8"``: not exact, so candidates only when the model folder's
  :data:`AGREEMENT_FILE` records their agreement with float32 torch **on held-out reviews** as
  accepted for these weights (>= 99.5 % of labels and of flags, flagged sets overlapping
  >= 95 %), and their probe verdicts match too. ``benchmarks/inference_throughput.py --record``
  writes that file. On the shipped reference neither is accepted (bf16 autocast: flagged overlap
  93.65 % on 2,567 held-out reviews; int8: 86.78 %), so ``"auto"`` runs it in float32.

The fastest candidate wins; ONNX Runtime must be at least :data:`MIN_GAIN` faster than the best
torch candidate to replace it, so timing noise does not switch runtimes for nothing.

**When nothing is measured yet** (a new machine, new weights, new library versions): ``"auto"``
runs torch at once (in float32 unless its default precision is recorded as accepted) and starts
the measurement in a detached, low-priority background process (about 15 s on 2 cores for the
reference: export, quantise, time), so the first call waits for no conversion; later loads use
its result. ``FAKEREVIEW_RUNTIME_PREPARE=off`` turns the background process off (the tests do);
``fakereview runtime MODEL`` does the same work in the foreground, e.g. when building an image.
On CUDA and MPS ``"auto"`` is torch at its default precision, as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fakereview_nlp.files import atomic_write_text, read_json
from fakereview_nlp.model.folder import weights_hash
from fakereview_nlp.runtime.backends import (
    BACKENDS,
    LogitsFn,
    cache_dir,
    check_backend,
    find_int8,
    openvino_available,
    openvino_logits_fn,
)
from fakereview_nlp.runtime.onnx import (
    RECIPE,
    build_onnx,
    build_versions,
    find_onnx,
    onnx_available,
    onnx_logits_fn,
)

logger = logging.getLogger(__name__)

#: The model folder's record of held-out agreement per non-float32 runtime.
AGREEMENT_FILE = "runtime_agreement.json"
#: ``off`` stops ``"auto"`` from starting the background measurement.
PREPARE_ENV_VAR = "FAKEREVIEW_RUNTIME_PREPARE"
#: How much faster than torch another runtime must measure to be picked.
MIN_GAIN = 1.10
#: A background measurement that has held its lock this long is presumed dead.
STALE_LOCK_S = 900
#: What a choice may name: ``"torch-float32"`` is torch with ``dtype="float32"``.
CHOICE_BACKENDS: tuple[str, ...] = ("torch-float32", "torch", "onnx", "onnx-int8")


@dataclass(frozen=True)
class BackendTiming:
    """One candidate runtime as measured on this machine.

    Attributes:
        backend (`str`): one of :data:`CHOICE_BACKENDS`.
        reviews_per_s (`float`): the best of the timed rounds on the probe reviews.
        label_agreement (`float`): share of probe reviews with float32 torch's label.
        flag_agreement (`float`): share of probe reviews with float32 torch's flag.
        eligible (`bool`): whether it may be picked.
        why (`str`): why not, when it may not.
    """

    backend: str
    reviews_per_s: float
    label_agreement: float
    flag_agreement: float
    eligible: bool
    why: str = ""


@dataclass(frozen=True)
class RuntimeChoice:
    """What ``"auto"`` uses for one model's weights on one machine, and the measurement behind it.

    Attributes:
        backend (`str`): the runtime picked.
        timings (`tuple[BackendTiming, ...]`): every candidate measured.
        machine (`dict`): CPU model, flags, threads and library versions the measurement holds for.
        weights_sha256 (`str`): the weights measured.
        probe_reviews (`int`): how many made-up reviews were timed and compared.
    """

    backend: str
    timings: tuple[BackendTiming, ...]
    machine: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    probe_reviews: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuntimeChoice:
        timings = tuple(BackendTiming(**t) for t in data["timings"])
        return cls(
            backend=str(data["backend"]),
            timings=timings,
            machine=dict(data.get("machine", {})),
            weights_sha256=str(data.get("weights_sha256", "")),
            probe_reviews=int(data.get("probe_reviews", 0)),
        )


def pick_backend(timings: list[BackendTiming], min_gain: float = MIN_GAIN) -> str:
    """The fastest eligible runtime; ONNX Runtime must beat the best eligible torch path by ``min_gain``.

    Example::

        >>> t = lambda name, speed, ok=True: BackendTiming(name, speed, 1.0, 1.0, ok)
        >>> pick_backend([t("torch-float32", 100.0), t("onnx", 105.0), t("onnx-int8", 300.0, ok=False)])
        'torch-float32'
        >>> pick_backend([t("torch-float32", 60.0), t("torch", 150.0, ok=False), t("onnx", 120.0)])
        'onnx'
    """
    torch_paths = [t for t in timings if t.backend.startswith("torch") and t.eligible]
    best = max(torch_paths, key=lambda t: t.reviews_per_s, default=None)
    best_name = best.backend if best is not None else "torch-float32"
    best_speed = (best.reviews_per_s if best is not None else 0.0) * min_gain
    for timing in timings:
        if not timing.backend.startswith("torch") and timing.eligible and timing.reviews_per_s > best_speed:
            best_name, best_speed = timing.backend, timing.reviews_per_s
    return best_name


@functools.lru_cache(maxsize=1)
def _cpu_identity() -> tuple[str, tuple[str, ...]]:
    """CPU model name and the flags that decide which precisions run fast (read once per process)."""
    import platform

    cpu = platform.processor() or platform.machine()
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8")
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:  # not Linux: the platform string is all there is
        return cpu, ()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    flags = next((line.split() for line in lines if line.startswith("flags")), [])
    return (names[0] if names else cpu), tuple(f for f in wanted if f in flags)


def machine_signature() -> dict[str, Any]:
    """What a measurement depends on besides the weights: CPU, threads, library versions."""
    import torch

    cpu, flags = _cpu_identity()
    return {
        "cpu": cpu,
        "flags": list(flags),
        "threads": torch.get_num_threads(),
        "versions": build_versions(),
    }


def choice_path(model_dir: str | os.PathLike[str]) -> Path:
    """The cached choice for these weights on this machine (it may not exist)."""
    key = hashlib.sha256(json.dumps(machine_signature(), sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / weights_hash(model_dir)[:16] / f"choice-{key}.json"


def read_choice(model_dir: str | os.PathLike[str]) -> RuntimeChoice | None:
    """The measured choice for these weights on this machine, or ``None`` (absent, stale or unreadable)."""
    try:
        data = read_json(choice_path(model_dir), fix="run fakereview runtime to measure again")
        choice = RuntimeChoice.from_dict(data) if isinstance(data, dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (
        choice is None
        or choice.weights_sha256 != weights_hash(model_dir)
        or choice.backend not in CHOICE_BACKENDS
    ):
        return None
    if choice.backend != "torch" and find_onnx(model_dir, int8=choice.backend == "onnx-int8") is None:
        return None  # the cache was cleared under it
    return choice


def write_choice(model_dir: str | os.PathLike[str], choice: RuntimeChoice) -> Path:
    return atomic_write_text(choice_path(model_dir), choice.to_json())


def recorded_agreement(model_dir: str | os.PathLike[str], backend: str) -> dict[str, Any] | None:
    """The model folder's held-out agreement record for ``backend`` (these weights, this recipe), or ``None``.

    ``backend`` is ``"onnx-int8"`` or a torch precision, ``"torch-bfloat16"``.
    """
    try:
        data = read_json(
            Path(model_dir) / AGREEMENT_FILE,
            fix="write it again with benchmarks/inference_throughput.py --record",
        )
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("weights_sha256") != weights_hash(model_dir):
        return None
    entry = data.get("backends", {}).get(backend)
    if not isinstance(entry, dict) or (backend == "onnx-int8" and entry.get("recipe") != RECIPE):
        return None
    return entry


def precision_accepted(model_dir: str | os.PathLike[str] | None, dtype_name: str) -> bool:
    """Whether torch at ``dtype_name`` may run by default: float32 always, else only with an accepted record."""
    if dtype_name == "float32":
        return True
    record = None if model_dir is None else recorded_agreement(model_dir, f"torch-{dtype_name}")
    return bool(record and record.get("accepted"))


def select_backend(
    backend: str,
    *,
    device_type: str,
    dtype_forced: bool,
    model_dir: str | os.PathLike[str] | None,
    default_dtype: str = "float32",
) -> str:
    """The backend a classifier will use: ``backend`` itself, or what ``"auto"`` resolves to.

    Args:
        backend (`str`): one of :data:`~fakereview_nlp.runtime.backends.BACKENDS`.
        device_type (`str`): ``"cpu"``, ``"cuda"`` or ``"mps"``.
        dtype_forced (`bool`): whether the caller asked for a dtype; ``"auto"`` then keeps torch
            at that precision.
        model_dir (path, *optional*): the model folder (runtimes are cached by its weights).
        default_dtype (`str`, defaults to `"float32"`): torch's default precision on this device.

    Returns:
        A backend name, or ``"torch-float32"`` (``"auto"`` on the CPU only): torch in float32,
        because its default precision is not accepted for this model (see the module docstring).

    Raises:
        `ValueError`: an unknown name; a CPU runtime forced on another device, without a model
            folder, or without its package; ``"openvino-int8"`` with no accepted int8 model.
    """
    check_backend(backend)
    if backend == "torch":
        return "torch"
    if backend == "auto":
        if device_type != "cpu" or dtype_forced:
            return "torch"
        choice = read_choice(model_dir) if model_dir is not None and onnx_available() else None
        if choice is not None:
            return choice.backend
        if model_dir is not None and onnx_available():
            start_background_prepare(model_dir)
        return "torch" if precision_accepted(model_dir, default_dtype) else "torch-float32"
    if device_type != "cpu":
        raise ValueError(
            f"backend {backend!r} runs on the CPU only, got device {device_type!r}; use backend='torch'"
        )
    if model_dir is None:
        raise ValueError(
            f"backend {backend!r} needs a model folder (load with from_pretrained); use backend='torch'"
        )
    if backend.startswith("onnx") and not onnx_available():
        raise ValueError(
            f"backend {backend!r} needs onnxruntime and onnx, which do not import; "
            "pip install 'onnxruntime>=1.20' 'onnx>=1.16' or use backend='torch'"
        )
    if backend.startswith("openvino") and not openvino_available():
        raise ValueError(
            f"backend {backend!r} needs OpenVINO, which is not installed; "
            "pip install 'fakereview-nlp[openvino]' or use backend='torch'"
        )
    if backend == "openvino-int8" and find_int8(model_dir) is None:
        raise ValueError(
            f"backend 'openvino-int8' needs an accepted int8 model for {model_dir}, and there is none; "
            "build one with fakereview_nlp.runtime.int8.build_int8(model_dir, calibration_texts, heldout_texts)"
        )
    return backend


def logits_fn_for(
    backend: str, model_dir: str | os.PathLike[str], torch_model: Any, *, bf16: bool
) -> LogitsFn:
    """The runtime function for a non-torch ``backend`` (ONNX copies are built here when missing)."""
    if backend in ("onnx", "onnx-int8"):
        int8 = backend == "onnx-int8"
        path = find_onnx(model_dir, int8=int8)
        if path is None:
            build_onnx(model_dir)
            path = find_onnx(model_dir, int8=int8)
        if path is None:  # built but unreadable: a cache another version keeps rewriting
            raise ValueError(
                f"the ONNX copy of {model_dir} could not be built in {cache_dir()}; use backend='torch'"
            )
        return onnx_logits_fn(path)
    if backend in ("openvino", "openvino-int8"):
        return openvino_logits_fn(model_dir, torch_model, bf16=bf16, int8=backend == "openvino-int8")
    raise ValueError(f"backend {backend!r} has no runtime function; expected one of {list(BACKENDS[1:])}")


def _lock_path(model_dir: str | os.PathLike[str]) -> Path:
    return choice_path(model_dir).with_suffix(".lock")


def take_lock(model_dir: str | os.PathLike[str]) -> bool:
    """Create the measurement's lock file; ``False`` when a live measurement holds it."""
    lock = _lock_path(model_dir)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            lock.unlink(missing_ok=True)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{os.getpid()}\n")
    return True


def release_lock(model_dir: str | os.PathLike[str]) -> None:
    _lock_path(model_dir).unlink(missing_ok=True)


#: Starts the detached measurement process; a seam the tests replace.
Spawner = Callable[[list[str], Path], None]


def spawn_detached(command: list[str], log: Path) -> None:
    with open(log, "ab") as out:
        subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip


# Niced: the user's own work comes first. The parent took the lock; prepare_runtime releases it.
_BACKGROUND_SCRIPT = (
    "import os, sys\n"
    "os.nice(10) if hasattr(os, 'nice') else None\n"
    "from fakereview_nlp.runtime.measure import prepare_runtime\n"
    "prepare_runtime(sys.argv[1], lock_held=True)\n"
)


def start_background_prepare(model_dir: str | os.PathLike[str], spawn: Spawner | None = None) -> bool:
    """Start :func:`~fakereview_nlp.runtime.measure.prepare_runtime` in a detached process, unless turned off or running.

    Returns:
        Whether a process was started. Nothing is raised: ``"auto"`` runs torch either way.
    """
    if os.environ.get(PREPARE_ENV_VAR, "").lower() in ("off", "0", "false", "no"):
        return False
    try:
        if not take_lock(model_dir):
            return False
        log = choice_path(model_dir).with_suffix(".log")
        command = [sys.executable, "-c", _BACKGROUND_SCRIPT, str(model_dir)]
        (spawn or spawn_detached)(command, log)
    except OSError as err:  # a read-only cache or no fork: torch is fine
        release_lock(model_dir)
        logger.info("could not start the runtime measurement for %s (%s); using torch", model_dir, err)
        return False
    logger.info("measuring the fastest runtime for %s in the background; using torch meanwhile", model_dir)
    return True


__all__ = [
    "AGREEMENT_FILE",
    "CHOICE_BACKENDS",
    "MIN_GAIN",
    "PREPARE_ENV_VAR",
    "BackendTiming",
    "RuntimeChoice",
    "choice_path",
    "logits_fn_for",
    "machine_signature",
    "pick_backend",
    "precision_accepted",
    "read_choice",
    "recorded_agreement",
    "release_lock",
    "select_backend",
    "spawn_detached",
    "start_background_prepare",
    "take_lock",
    "write_choice",
]
