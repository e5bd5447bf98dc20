"""The seams of training.train's last step, without a training run: scoring the best model's
validation logits, the metrics summary, and writing the model folder from a saved tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import yaml
from safetensors.torch import load_file

from tests.test_train import tiny_cfg
from training.config import TrainConfig
from training.output import COMPLETE_MARKER
from training.train import RunState, run_summary, score_validation, write_model_folder

N_VAL = 12


def _val_ds() -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {
            "id": [f"v{i}" for i in range(N_VAL)],
            "text": [f"review number {i} of the validation rows" for i in range(N_VAL)],
            "label": [i % 2 for i in range(N_VAL)],
            "group": [f"g{i % 3}" for i in range(N_VAL)],
            "split": ["3"] * N_VAL,
        }
    )


def _best_dir(tmp_path: Path, model_dir: Path) -> Path:
    """A best-model folder as training leaves it: the weights and config, and the validation logits.

    The logits over-call fakes (every fake logit +1.5), so calibration has a shift to find.
    """
    best = tmp_path / "best"
    best.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(model_dir / name, best / name)
    rng = np.random.default_rng(0)
    labels = np.array([i % 2 for i in range(N_VAL)])
    logits = np.stack([rng.normal(0, 1, N_VAL), rng.normal(0, 1, N_VAL) + 2.0 * labels + 1.5], axis=1)
    np.savez(best / "val_logits.npz", logits=logits.astype(np.float32), labels=labels)
    return best


def _cfg(tmp_path: Path, tokenizer_dir: Path, *, shift: bool) -> TrainConfig:
    cfg = tiny_cfg(tmp_path / "reviews.csv", tmp_path / "model", tokenizer_dir)
    cfg.evaluation.calibrate_shift = shift
    return cfg


@pytest.mark.parametrize("shift", [False, True])
def test_score_validation_calibrates_the_saved_logits(
    tmp_path: Path, tokenizer_dir: Path, tiny_model_dir: Path, shift: bool
) -> None:
    best = _best_dir(tmp_path, tiny_model_dir)
    scores = score_validation(_cfg(tmp_path, tokenizer_dir, shift=shift), best, _val_ds(), _val_ds())
    saved = np.load(best / "val_logits.npz")
    # the uncalibrated score is the softmax of the saved logits, untouched
    expected_raw = 1 / (1 + np.exp(saved["logits"][:, 0] - saved["logits"][:, 1]))
    np.testing.assert_allclose(scores.raw_scores, expected_raw, rtol=1e-5)
    assert scores.temperature > 0
    assert (scores.shift < 0) if shift else scores.shift == 0.0  # the over-called fakes are pulled back
    frame = scores.predictions
    assert frame["id"].tolist() == [f"v{i}" for i in range(N_VAL)]  # dataset order
    np.testing.assert_allclose(frame["fake_score"], scores.scores)
    np.testing.assert_allclose(frame["logit_fake"] - saved["logits"][:, 1], scores.shift, atol=1e-6)
    assert scores.tfidf_model is None and scores.operating_scores is scores.scores


def test_write_model_folder_writes_a_complete_shifted_model(
    tmp_path: Path, tokenizer_dir: Path, tiny_model_dir: Path
) -> None:
    from transformers import AutoTokenizer

    cfg = _cfg(tmp_path, tokenizer_dir, shift=True)
    best = _best_dir(tmp_path, tiny_model_dir)
    scores = score_validation(cfg, best, _val_ds(), _val_ds())
    state = RunState(history=[{"epoch": 0, "step": 4, "accuracy": 0.5}], best_step=4)
    summary = run_summary(state, scores, world_size=1, wall_seconds=1.25)
    folder = tmp_path / "staging"
    texts = ["The room was clean and the staff at the front desk were helpful."] * 20
    write_model_folder(
        folder, best, AutoTokenizer.from_pretrained(tokenizer_dir), cfg, scores, summary, texts
    )

    assert not (folder / "val_logits.npz").exists()  # scratch data stays out of the model
    assert (best / "val_logits.npz").exists()  # and the best folder is copied, not moved
    assert json.loads((folder / "metrics.json").read_text()) == summary
    assert summary["best"] == {"epoch": 0, "step": 4, "accuracy": 0.5}
    assert summary["fake_logit_shift"] == scores.shift and summary["temperature"] == scores.temperature
    assert yaml.safe_load((folder / COMPLETE_MARKER).read_text()) == cfg.to_dict()
    assert json.loads((folder / "model_info.json").read_text()) == {"languages": ["en"]}
    assert json.loads((folder / "calibration.json").read_text())["temperature"] == pytest.approx(
        scores.temperature
    )
    assert json.loads((folder / "operating_points.json").read_text())["operating_flag_rate"] == 0.1
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 32
    # the calibration's shift is folded into the fake bias, so the served model needs no extra step
    before = load_file(str(tiny_model_dir / "model.safetensors"))["classifier.bias"]
    after = load_file(str(folder / "model.safetensors"))["classifier.bias"]
    assert after[0].item() == pytest.approx(before[0].item())
    assert after[1].item() == pytest.approx(before[1].item() + scores.shift, abs=1e-6)
    written = pd.read_csv(folder / "val_predictions.csv")
    assert written["id"].tolist() == [f"v{i}" for i in range(N_VAL)]
    np.testing.assert_allclose(written["fake_score"], scores.scores, rtol=1e-6)
