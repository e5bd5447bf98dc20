"""The fake-logit shift (Platt scaling's intercept folded into the classifier bias) and serving the
transformer alone: at training time and on a finished, combined run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.model.baseline import TFIDF_FILE
from fakereview_nlp.model.calibration import fit_logit_shift
from fakereview_nlp.model.operating_points import compute_operating_points
from tests.test_combine import _val_texts
from tests.test_train import tiny_cfg
from training.combine import detach_tfidf
from training.output import shift_fake_bias
from training.train import run


def test_fit_logit_shift_recovers_a_known_bias() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(0.0, 3.0, 20000)
    # the truth: P(fake) = sigmoid((margin - 2) / 1.5): the model over-calls fakes by 2 logits
    labels = (rng.random(margin.size) < 1.0 / (1.0 + np.exp(-(margin - 2.0) / 1.5))).astype(int)
    logits = np.stack([np.zeros_like(margin), margin], axis=1)
    assert fit_logit_shift(logits, labels) == pytest.approx(-2.0, abs=0.15)
    assert fit_logit_shift(-logits, labels) == 0.0  # ranks backwards: no cut worth moving


def test_shift_fake_bias_moves_only_the_fake_logit(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    texts = ["The room was clean and quiet.", "BEST HOTEL EVER!!! five stars!!!"]

    def margins() -> np.ndarray:  # no calibration.json here: P(fake) = sigmoid(margin)
        p = FakeReviewClassifier.from_pretrained(folder, device="cpu", dtype="float32").predict_proba(texts)
        return np.log(p / (1.0 - p))

    before = margins()
    key = shift_fake_bias(folder, -1.25)
    assert key.endswith("classifier.bias")
    np.testing.assert_allclose(margins(), before - 1.25, atol=1e-4)


def test_training_with_calibrate_shift_serves_what_it_validated(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fakereview_nlp.model.calibration as calibration

    # a tiny random model barely ranks, so its fitted shift is ~0: fix one to see it travel into the weights
    monkeypatch.setattr(calibration, "fit_logit_shift", lambda logits, labels: -0.7)
    cfg = tiny_cfg(reviews_csv, tmp_path / "model", tokenizer_dir, epochs=1)
    cfg.evaluation.calibrate_shift = True
    out = run(cfg).output_dir
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fake_logit_shift"] == -0.7
    preds = pd.read_csv(out / "val_predictions.csv", dtype={"id": str})
    clf = FakeReviewClassifier.from_pretrained(out, device="cpu", dtype="float32")
    np.testing.assert_allclose(clf.predict_proba(_val_texts(reviews_csv, preds["id"])), preds["fake_score"], atol=1e-5)


def test_detach_tfidf_serves_the_transformer_alone(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fakereview_nlp.model.calibration as calibration

    monkeypatch.setattr(calibration, "fit_logit_shift", lambda logits, labels: 0.9)
    cfg = tiny_cfg(reviews_csv, tmp_path / "model", tokenizer_dir, epochs=1)
    cfg.model.combine_tfidf = True
    out = run(cfg).output_dir
    detach_tfidf(out, calibrate_shift=True)
    assert not (out / TFIDF_FILE).exists()
    saved = yaml.safe_load((out / "training_config.yaml").read_text())
    assert saved["model"]["combine_tfidf"] is False and saved["evaluation"]["calibrate_shift"] is True
    assert json.loads((out / "metrics.json").read_text())["fake_logit_shift"] == 0.9
    preds = pd.read_csv(out / "val_predictions.csv", dtype={"id": str})
    assert not any(c.startswith(("tfidf_", "transformer_")) for c in preds.columns)
    clf = FakeReviewClassifier.from_pretrained(out, device="cpu", dtype="float32")
    assert clf.tfidf is None
    np.testing.assert_allclose(clf.predict_proba(_val_texts(reviews_csv, preds["id"])), preds["fake_score"], atol=1e-5)
    expected = compute_operating_points(
        preds["label"].to_numpy(),
        preds["fake_score"].to_numpy(),
        flag_rates=cfg.evaluation.flag_rates,
        prevalence=cfg.evaluation.prevalence,
        operating_flag_rate=cfg.evaluation.operating_flag_rate,
    )
    assert json.loads((out / "operating_points.json").read_text())["threshold"] == pytest.approx(expected["threshold"])
    with pytest.raises(ValueError, match=r"holds no tfidf_model.json; it serves the transformer alone already"):
        detach_tfidf(out)
