"""The transformer + TF-IDF combination saved with a model: at training time and added afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.model.baseline import TFIDF_FILE, TfidfBaseline
from fakereview_nlp.model.operating_points import compute_operating_points
from tests.test_train import tiny_cfg
from training.combine import attach_tfidf
from training.combine import main as combine_main
from training.train import run


def _val_texts(reviews_csv: Path, ids: pd.Series) -> list[str]:
    source = pd.read_csv(reviews_csv, dtype=str).set_index("id")
    return source.loc[ids, "text"].tolist()


def test_training_with_combine_tfidf_saves_and_serves_the_mean(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    cfg = tiny_cfg(reviews_csv, tmp_path / "model", tokenizer_dir, epochs=1)
    cfg.model.combine_tfidf = True
    result = run(cfg)
    out = result.output_dir
    assert (out / TFIDF_FILE).is_file()
    preds = pd.read_csv(out / "val_predictions.csv", dtype={"id": str})
    mean = (preds["transformer_score"] + preds["tfidf_score"]) / 2
    np.testing.assert_allclose(preds["fake_score"], mean, atol=1e-12)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["combined_validation"]) >= {
        "combined_accuracy",
        "tfidf_accuracy",
        "transformer_accuracy",
    }
    assert yaml.safe_load((out / "training_config.yaml").read_text())["model"]["combine_tfidf"] is True

    clf = FakeReviewClassifier.from_pretrained(out, device="cpu", dtype="float32")
    assert clf.tfidf is not None and "tfidf=True" in repr(clf)
    texts = _val_texts(reviews_csv, preds["id"])
    # what the classifier serves is what training validated and chose the threshold on
    np.testing.assert_allclose(clf.predict_proba(texts), preds["fake_score"], atol=1e-5)
    tfidf_alone = TfidfBaseline.load(out).predict_proba(texts)
    np.testing.assert_allclose(tfidf_alone, preds["tfidf_score"], atol=1e-12)
    # the operating threshold was chosen on the combined scores
    saved = json.loads((out / "operating_points.json").read_text())
    expected = compute_operating_points(
        preds["label"].to_numpy(),
        preds["fake_score"].to_numpy(),
        flag_rates=cfg.evaluation.flag_rates,
        prevalence=cfg.evaluation.prevalence,
        operating_flag_rate=cfg.evaluation.operating_flag_rate,
    )
    assert saved["threshold"] == pytest.approx(expected["threshold"], abs=1e-12)
    assert clf.threshold == pytest.approx(expected["threshold"], abs=1e-12)


def test_combine_command_adds_tfidf_to_a_finished_run(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model"
    run(tiny_cfg(reviews_csv, out, tokenizer_dir, epochs=1))
    before = pd.read_csv(out / "val_predictions.csv", dtype={"id": str})
    assert combine_main([str(out)]) == 0
    after = pd.read_csv(out / "val_predictions.csv", dtype={"id": str})
    np.testing.assert_allclose(after["transformer_score"], before["fake_score"], atol=1e-12)
    np.testing.assert_allclose(
        after["fake_score"], (before["fake_score"] + after["tfidf_score"]) / 2, atol=1e-12
    )
    assert yaml.safe_load((out / "training_config.yaml").read_text())["model"]["combine_tfidf"] is True
    assert not list(tmp_path.glob(".model.*"))  # no staging or old folder left behind
    clf = FakeReviewClassifier.from_pretrained(out, device="cpu", dtype="float32")
    texts = _val_texts(reviews_csv, after["id"])
    np.testing.assert_allclose(clf.predict_proba(texts), after["fake_score"], atol=1e-5)
    capsys.readouterr()
    assert combine_main([str(out)]) == 2  # a user error: one line, exit 2 (issue 20 item 6)
    assert "combine: error: " in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"already holds tfidf_model.json; the run is combined already"):
        attach_tfidf(out)
    assert combine_main([str(tmp_path / "nothing")]) == 2
    assert "not a finished training run" in capsys.readouterr().err


def test_evaluate_names_a_combined_model_and_scores_what_it_serves(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    from fakereview_nlp.cli.main import main as cli_main

    cfg = tiny_cfg(reviews_csv, tmp_path / "model", tokenizer_dir, epochs=1)
    cfg.model.combine_tfidf = True
    out = run(cfg).output_dir
    report_dir = tmp_path / "report"
    args = ["evaluate", str(out), str(reviews_csv), "-o", str(report_dir), "--id-column", "id"]
    assert (
        cli_main([*args, "--group-column", "group", "--n-boot", "10", "--no-plots", "--device", "cpu"]) == 0
    )
    report = json.loads((report_dir / "report.json").read_text())
    assert report["models"] == ["transformer+tfidf"]
    # the saved operating threshold is reported for the model that serves it
    assert "operating" in {t["name"] for t in report["results"]["transformer+tfidf"]["thresholds"]}
    clf = FakeReviewClassifier.from_pretrained(out, device="cpu")
    texts = pd.read_csv(reviews_csv, dtype=str)["text"].tolist()
    labels = (pd.read_csv(reviews_csv, dtype=str)["label"] == "fake").to_numpy()
    accuracy = float(np.mean((np.asarray(clf.predict_proba(texts)) >= 0.5) == labels))
    assert report["results"]["transformer+tfidf"]["metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-9)
