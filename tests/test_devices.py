"""Precision by the compute capability of the device asked for, and the CPUs this process may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from fakereview_nlp.runtime import devices
from fakereview_nlp.runtime.devices import available_cpus, resolve_dtype


@pytest.fixture()
def gpus(monkeypatch: pytest.MonkeyPatch) -> dict[int, tuple[int, int]]:
    """A fake machine: GPU index -> compute capability. is_bf16_supported() says yes, as torch
    2.13 does for emulated bf16, so a test fails if the choice still consults it."""
    capability: dict[int, tuple[int, int]] = {}

    def get_capability(device: object = None) -> tuple[int, int]:
        index = device.index if isinstance(device, torch.device) else device
        return capability[0 if index is None else int(index)]  # type: ignore[arg-type]

    monkeypatch.setattr(torch.cuda, "get_device_capability", get_capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    return capability


@pytest.mark.parametrize(
    ("capability", "expected"),
    [
        ((9, 0), torch.bfloat16),  # H100
        ((8, 0), torch.bfloat16),  # A100
        ((8, 6), torch.bfloat16),  # RTX 30xx / A10
        ((7, 5), torch.float16),  # T4: tensor cores for fp16, bf16 only emulated
        ((7, 0), torch.float16),  # V100
        ((6, 1), torch.float32),  # P4 / GTX 10xx: no tensor cores
    ],
)
def test_auto_dtype_follows_compute_capability(
    gpus: dict[int, tuple[int, int]], capability: tuple[int, int], expected: torch.dtype
) -> None:
    gpus[0] = capability
    assert resolve_dtype(None, torch.device("cuda", 0)) == expected
    assert resolve_dtype("auto", torch.device("cuda")) == expected


def test_auto_dtype_reads_the_given_device_not_the_current_one(gpus: dict[int, tuple[int, int]]) -> None:
    gpus.update({0: (8, 0), 1: (7, 0), 2: (6, 0)})
    assert resolve_dtype(None, torch.device("cuda", 1)) == torch.float16
    assert resolve_dtype(None, torch.device("cuda", 2)) == torch.float32
    assert resolve_dtype(None, torch.device("cuda", 0)) == torch.bfloat16


def test_explicit_bf16_on_a_gpu_without_it_warns(
    gpus: dict[int, tuple[int, int]], caplog: pytest.LogCaptureFixture
) -> None:
    gpus[0] = (7, 5)
    with caplog.at_level("WARNING", logger="fakereview_nlp.runtime.devices"):
        assert resolve_dtype("bf16", torch.device("cuda", 0)) == torch.bfloat16
    assert "compute capability 7.5" in caplog.text and "emulated" in caplog.text


def test_available_cpus_follows_affinity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(devices, "_CGROUP_CPU_FILES", ())
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {2, 5, 7}, raising=False)
    assert available_cpus() == 3
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS, Windows
    assert available_cpus() == 64
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert available_cpus() == 1


@pytest.mark.parametrize(
    ("content", "expected"), [("150000 100000\n", 2), ("max 100000\n", 8), ("50000 100000", 1)]
)
def test_available_cpus_follows_the_cgroup_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, expected: int
) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content)
    monkeypatch.setattr(devices, "_CGROUP_CPU_FILES", (cpu_max,))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert available_cpus() == expected


def test_training_threads_share_the_available_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    from training.train import default_num_threads

    monkeypatch.setattr(devices, "_CGROUP_CPU_FILES", ())
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert default_num_threads() == 3
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert default_num_threads() == 6
