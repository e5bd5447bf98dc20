"""classify()'s cache of loaded classifiers: keyed on the model's files, and clearable."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import fakereview_nlp
from fakereview_nlp import FakeReviewClassifier, classify

TEXTS = ["Best hotel ever!!! Amazing staff!!!", "Clean room, slow lift, friendly staff."]


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Iterator[Path]:
    fakereview_nlp.clear_cache()
    yield Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    fakereview_nlp.clear_cache()


def _scores(texts: list[str], model: Path) -> np.ndarray:
    return np.array([v.fake_score for v in classify(texts, model=model, device="cpu", dtype="float32")])


def _fresh(model: Path) -> np.ndarray:
    return FakeReviewClassifier.from_pretrained(model, device="cpu", dtype="float32").predict_proba(TEXTS)


def test_retrained_calibration_is_picked_up(model_copy: Path) -> None:
    before = _scores(TEXTS, model_copy)
    np.testing.assert_allclose(before, _fresh(model_copy), atol=1e-12)
    # a retrain into the same output.dir rewrites calibration.json
    (model_copy / "calibration.json").write_text(
        json.dumps({"temperature": 25.0, "ece_before": 0.1, "ece_after": 0.05})
    )
    after = _scores(TEXTS, model_copy)
    np.testing.assert_allclose(after, _fresh(model_copy), atol=1e-12)
    assert not np.allclose(after, before)


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "operating_points.json"])
def test_any_model_file_change_reloads(model_copy: Path, name: str) -> None:
    classify(TEXTS[:1], model=model_copy, device="cpu", dtype="float32")
    first = fakereview_nlp.inference.cached_classifier(str(model_copy.resolve()), "cpu", "float32")
    path = model_copy / name
    if name == "operating_points.json":
        path.write_text(json.dumps({"threshold": 0.0}))
    else:  # same bytes, newer modification time: as when the file is written again
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = fakereview_nlp.inference.cached_classifier(str(model_copy.resolve()), "cpu", "float32")
    assert second is not first
    if name == "operating_points.json":
        assert all(v.flagged for v in classify(TEXTS, model=model_copy, device="cpu", dtype="float32"))
    # unchanged files: the same classifier comes back
    assert fakereview_nlp.inference.cached_classifier(str(model_copy.resolve()), "cpu", "float32") is second


def test_clear_cache_is_public_and_forgets(model_copy: Path) -> None:
    assert "clear_cache" in fakereview_nlp.__all__
    classify(TEXTS[:1], model=model_copy, device="cpu", dtype="float32")
    first = fakereview_nlp.inference.cached_classifier(str(model_copy.resolve()), "cpu", "float32")
    fakereview_nlp.clear_cache()
    assert (
        fakereview_nlp.inference.cached_classifier(str(model_copy.resolve()), "cpu", "float32") is not first
    )
