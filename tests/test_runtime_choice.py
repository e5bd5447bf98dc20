"""ONNX Runtime copies, the on-machine measurement behind backend="auto", and its background start."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from fakereview_nlp.cli.main import main as cli_main
from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.model.folder import weights_hash
from fakereview_nlp.runtime import choice, onnx
from fakereview_nlp.runtime.choice import (
    AGREEMENT_FILE,
    BackendTiming,
    RuntimeChoice,
    choice_path,
    pick_backend,
    read_choice,
    select_backend,
    start_background_prepare,
    take_lock,
    write_choice,
)
from fakereview_nlp.runtime.measure import measure_backends, prepare_runtime, probe_reviews
from fakereview_nlp.runtime.onnx import build_onnx, find_onnx

TEXTS = [
    "The room was clean and the staff were helpful.",
    "Best hotel ever!!! Amazing amazing amazing!!!",
    "We stayed two nights; the view of the lake was lovely but the lift was slow and the bar closed early.",
]


pytestmark = pytest.mark.usefixtures("private_runtime_cache")


@pytest.fixture(autouse=True)
def _background_measurement_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    # conftest turns it off for every test; here it is what is tested (spawns are intercepted)
    monkeypatch.setenv(choice.PREPARE_ENV_VAR, "background")


@pytest.fixture()
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Commands the background starter would have run (nothing is started)."""
    calls: list[list[str]] = []
    monkeypatch.setattr(choice, "spawn_detached", lambda command, log: calls.append(command))
    return calls


def _timing(name: str, speed: float, eligible: bool = True) -> BackendTiming:
    return BackendTiming(name, speed, 1.0, 1.0, eligible, "" if eligible else "not accepted")


# -- ONNX copies -----------------------------------------------------------------------------------


def test_onnx_float_matches_torch_float32_and_int8_runs(model_copy: Path) -> None:
    folder = build_onnx(model_copy)
    assert sorted(p.name for p in folder.iterdir()) == ["build.json", "model.onnx", "model_int8.onnx"]
    torch_fp32 = FakeReviewClassifier.from_pretrained(
        model_copy, device="cpu", dtype="float32", backend="torch"
    )
    as_onnx = FakeReviewClassifier.from_pretrained(model_copy, device="cpu", backend="onnx")
    as_int8 = FakeReviewClassifier.from_pretrained(model_copy, device="cpu", backend="onnx-int8")
    assert as_onnx.backend == "onnx" and as_int8.backend == "onnx-int8"
    expected = torch_fp32.predict_proba(TEXTS)
    np.testing.assert_allclose(as_onnx.predict_proba(TEXTS), expected, atol=1e-5)
    int8_scores = as_int8.predict_proba(TEXTS)
    assert int8_scores.shape == expected.shape and np.all((int8_scores >= 0) & (int8_scores <= 1))


def test_onnx_copy_is_rebuilt_for_new_weights_or_new_versions(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_onnx(model_copy)
    assert find_onnx(model_copy, int8=False) is not None
    monkeypatch.setattr(onnx, "RECIPE", "a-newer-recipe")
    assert find_onnx(model_copy, int8=False) is None  # built by another recipe: stale
    monkeypatch.undo()
    (model_copy / "model.safetensors").write_bytes((model_copy / "model.safetensors").read_bytes() + b" ")
    assert find_onnx(model_copy, int8=False) is None  # other weights, other cache folder


def test_forced_onnx_builds_its_copy_on_first_use(model_copy: Path) -> None:
    assert find_onnx(model_copy, int8=False) is None
    clf = FakeReviewClassifier.from_pretrained(model_copy, device="cpu", backend="onnx")
    assert find_onnx(model_copy, int8=False) is not None
    assert len(clf.classify(TEXTS)) == 3


def test_onnx_is_cpu_only(model_copy: Path) -> None:
    with pytest.raises(
        ValueError, match=r"backend 'onnx' runs on the CPU only, got device 'cuda'; use backend='torch'"
    ):
        select_backend("onnx", device_type="cuda", dtype_forced=False, model_dir=model_copy)


# -- the choice ------------------------------------------------------------------------------------


def test_pick_backend_needs_a_real_gain_over_torch() -> None:
    assert pick_backend([_timing("torch", 100.0), _timing("onnx", 109.0)]) == "torch"
    assert pick_backend([_timing("torch", 100.0), _timing("onnx", 111.0)]) == "onnx"
    assert (
        pick_backend([_timing("torch", 100.0), _timing("onnx", 150.0), _timing("onnx-int8", 300.0)])
        == "onnx-int8"
    )
    # the fastest of all, but not accepted: never picked
    assert pick_backend([_timing("torch", 100.0), _timing("onnx-int8", 300.0, eligible=False)]) == "torch"


def test_auto_uses_the_measured_choice_and_starts_a_measurement_when_there_is_none(
    model_copy: Path, spawned: list[list[str]]
) -> None:
    pick = select_backend
    assert pick("auto", device_type="cpu", dtype_forced=False, model_dir=model_copy) == "torch"
    assert len(spawned) == 1 and spawned[0][-1] == str(model_copy)
    assert "prepare_runtime(sys.argv[1], lock_held=True)" in spawned[0][-2]
    # the lock is held by the process just started: a second load starts nothing
    assert pick("auto", device_type="cpu", dtype_forced=False, model_dir=model_copy) == "torch"
    assert len(spawned) == 1
    build_onnx(model_copy)
    measured = RuntimeChoice(
        "onnx", (_timing("torch", 10.0), _timing("onnx", 20.0)), weights_sha256=weights_hash(model_copy)
    )
    write_choice(model_copy, measured)
    assert read_choice(model_copy) == measured
    assert pick("auto", device_type="cpu", dtype_forced=False, model_dir=model_copy) == "onnx"
    # a forced dtype, another device, no folder: torch, as asked
    assert pick("auto", device_type="cpu", dtype_forced=True, model_dir=model_copy) == "torch"
    assert pick("auto", device_type="cuda", dtype_forced=False, model_dir=model_copy) == "torch"
    assert pick("auto", device_type="cpu", dtype_forced=False, model_dir=None) == "torch"
    clf = FakeReviewClassifier.from_pretrained(model_copy, device="cpu")
    assert clf.backend == "onnx"
    np.testing.assert_allclose(
        clf.predict_proba(TEXTS),
        FakeReviewClassifier.from_pretrained(
            model_copy, device="cpu", dtype="float32", backend="torch"
        ).predict_proba(TEXTS),
        atol=1e-5,
    )


def test_before_measuring_auto_runs_half_precision_only_where_it_is_accepted(
    model_copy: Path, spawned: list[list[str]]
) -> None:
    def pick(default: str) -> str:
        return select_backend(
            "auto", device_type="cpu", dtype_forced=False, model_dir=model_copy, default_dtype=default
        )

    assert pick("float32") == "torch"
    assert pick("bfloat16") == "torch-float32"  # no record: float32
    record = {"weights_sha256": weights_hash(model_copy), "backends": {"torch-bfloat16": {"accepted": False}}}
    (model_copy / AGREEMENT_FILE).write_text(json.dumps(record), encoding="utf-8")
    assert pick("bfloat16") == "torch-float32"
    record["backends"]["torch-bfloat16"]["accepted"] = True  # type: ignore[index]
    (model_copy / AGREEMENT_FILE).write_text(json.dumps(record), encoding="utf-8")
    assert pick("bfloat16") == "torch"
    # the classifier turns "torch-float32" into torch at float32
    (model_copy / AGREEMENT_FILE).unlink()
    clf = FakeReviewClassifier.from_pretrained(model_copy, device="cpu")
    assert clf.backend == "torch" and str(clf.dtype) == "torch.float32"
    # on CUDA "auto" stays torch at its default precision
    assert (
        select_backend(
            "auto", device_type="cuda", dtype_forced=False, model_dir=model_copy, default_dtype="bfloat16"
        )
        == "torch"
    )


def test_a_choice_whose_files_are_gone_or_whose_weights_changed_is_ignored(model_copy: Path) -> None:
    build_onnx(model_copy)
    write_choice(
        model_copy, RuntimeChoice("onnx", (_timing("onnx", 1.0),), weights_sha256=weights_hash(model_copy))
    )
    assert read_choice(model_copy) is not None
    shutil.rmtree(find_onnx(model_copy, int8=False).parent)  # type: ignore[union-attr]
    assert read_choice(model_copy) is None
    choice_path(model_copy).write_text("{not json", encoding="utf-8")
    assert read_choice(model_copy) is None


def test_background_measurement_can_be_turned_off_and_skips_a_live_lock(
    model_copy: Path, spawned: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(choice.PREPARE_ENV_VAR, "off")
    assert not start_background_prepare(model_copy)
    monkeypatch.setenv(choice.PREPARE_ENV_VAR, "background")
    assert take_lock(model_copy)  # another process is measuring
    assert not start_background_prepare(model_copy)
    assert spawned == []
    lock = choice_path(model_copy).with_suffix(".lock")
    old = time.time() - choice.STALE_LOCK_S - 1
    os.utime(lock, (old, old))  # that process died long ago
    assert start_background_prepare(model_copy)
    assert len(spawned) == 1


def test_background_start_failure_leaves_no_lock(model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork(command: list[str], log: Path) -> None:
        raise OSError("Resource temporarily unavailable")

    assert not start_background_prepare(model_copy, spawn=no_fork)
    assert not choice_path(model_copy).with_suffix(".lock").exists()


# -- the measurement -------------------------------------------------------------------------------


def test_probe_reviews_are_deterministic_and_review_sized() -> None:
    probes = probe_reviews()
    assert probes == probe_reviews() and len(probes) == 48
    assert min(len(p.split()) for p in probes) >= 10 and max(len(p.split()) for p in probes) >= 100


def test_measurement_gates_int8_on_the_recorded_held_out_agreement(model_copy: Path) -> None:
    build_onnx(model_copy)
    measured = measure_backends(model_copy, TEXTS * 4, rounds=1)
    by_name = {t.backend: t for t in measured.timings}
    assert list(by_name)[0] == "torch-float32" and list(by_name)[-2:] == ["onnx", "onnx-int8"]
    assert by_name["torch-float32"].eligible and by_name["onnx"].eligible
    assert by_name["onnx"].label_agreement == 1.0 and by_name["onnx"].reviews_per_s > 0
    assert not by_name["onnx-int8"].eligible
    assert "no held-out agreement recorded for onnx-int8" in by_name["onnx-int8"].why
    assert measured.backend in ("torch-float32", "onnx")
    if "torch" in by_name:  # a CPU with native bf16: torch's default precision is gated like int8
        assert not by_name["torch"].eligible and "torch-bfloat16" in by_name["torch"].why

    record = {
        "weights_sha256": weights_hash(model_copy),
        "backends": {
            "onnx-int8": {"recipe": onnx.RECIPE, "accepted": False, "label": 0.999, "flagged_iou": 0.9}
        },
    }
    (model_copy / AGREEMENT_FILE).write_text(json.dumps(record), encoding="utf-8")
    rejected = {t.backend: t for t in measure_backends(model_copy, TEXTS * 4, rounds=1).timings}["onnx-int8"]
    assert not rejected.eligible and "flagged overlap 90.00%" in rejected.why

    record["backends"]["onnx-int8"]["accepted"] = True  # type: ignore[index]
    (model_copy / AGREEMENT_FILE).write_text(json.dumps(record), encoding="utf-8")
    accepted = {t.backend: t for t in measure_backends(model_copy, TEXTS * 4, rounds=1).timings}["onnx-int8"]
    # accepted on held-out reviews; still refused if its probe verdicts differ on this machine
    assert accepted.eligible == (accepted.label_agreement == 1.0 and accepted.flag_agreement == 1.0)

    record["weights_sha256"] = "0" * 64  # recorded for other weights: ignored
    (model_copy / AGREEMENT_FILE).write_text(json.dumps(record), encoding="utf-8")
    assert not {t.backend: t for t in measure_backends(model_copy, TEXTS * 4, rounds=1).timings}[
        "onnx-int8"
    ].eligible


def test_prepare_runtime_caches_the_choice_and_releases_the_lock(model_copy: Path) -> None:
    measured = prepare_runtime(model_copy, texts=TEXTS)
    assert read_choice(model_copy) == measured
    assert not choice_path(model_copy).with_suffix(".lock").exists()
    assert take_lock(model_copy)
    with pytest.raises(ValueError, match=r"a runtime measurement of .* is already running; wait for it"):
        prepare_runtime(model_copy, texts=TEXTS)


def test_runtime_command_prints_the_table(
    model_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fakereview_nlp.runtime.measure.probe_reviews", lambda: TEXTS)
    assert cli_main(["runtime", str(model_copy)]) == 0
    out = capsys.readouterr().out
    assert "| runtime | reviews/s | labels as float32 torch |" in out
    assert f"backend='auto' uses {read_choice(model_copy).backend!r}" in out  # type: ignore[union-attr]
    assert take_lock(model_copy)
    assert cli_main(["runtime", str(model_copy)]) == 2
    assert "fakereview: error: a runtime measurement of" in capsys.readouterr().err
