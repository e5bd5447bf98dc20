"""training.package: a finished run becomes a shippable folder with fp16 weights, size-checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from fakereview_nlp import FakeReviewClassifier
from training.package import main, package


@pytest.fixture()
def finished_run(tmp_path: Path, tiny_model_dir: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    (run / "training_config.yaml").write_text("data: {}\n")
    (run / "val_logits.npz").write_bytes(b"not shipped")
    return run


def test_weights_become_fp16_and_scores_barely_move(finished_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "pkg" / "model"
    sizes = package(finished_run, target, version="test-1")
    assert "val_logits.npz" not in sizes and "val_predictions.csv" not in sizes and "training_config.yaml" in sizes
    with safe_open(str(target / "model.safetensors"), framework="pt") as handle:
        assert {str(handle.get_tensor(k).dtype) for k in handle.keys()} == {"torch.float16"}  # noqa: SIM118
    texts = ["Best hotel ever!!!", "The lift was slow and the room small.", "ok"]
    before = FakeReviewClassifier.from_pretrained(finished_run, device="cpu", dtype="float32").predict_proba(texts)
    after = FakeReviewClassifier.from_pretrained(target, device="cpu", dtype="float32").predict_proba(texts)
    np.testing.assert_allclose(after, before, atol=2e-3)


def test_over_the_size_limit_is_refused_and_leaves_nothing(finished_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "model"
    with pytest.raises(ValueError, match=r"over the 0 MiB allowed.*prune the TF-IDF part"):
        package(finished_run, target, max_bytes=1000, version="test-1")
    assert not target.exists() and list(tmp_path.glob(".model.partial*")) == []


def test_unfinished_run_is_a_one_line_error(tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny_model_dir), str(tmp_path / "model")]) == 2
    assert "package: error:" in capsys.readouterr().err


def test_model_info_records_version_languages_and_sources(finished_run: Path, tmp_path: Path) -> None:
    import json

    (finished_run / "training_config.yaml").write_text("data:\n  sources:\n  - {name: op_spam}\n  - {name: maide_up}\n")
    target = tmp_path / "model"
    package(finished_run, target, version="2026.12.0", languages=["en"])
    info = json.loads((target / "model_info.json").read_text(encoding="utf-8"))
    assert info == {"version": "2026.12.0", "languages": ["en"], "sources": ["op_spam", "maide_up"]}
    with pytest.raises(ValueError, match=r"has no model version; give one with --version"):
        package(finished_run, tmp_path / "other")
    assert not (tmp_path / "other").exists()
