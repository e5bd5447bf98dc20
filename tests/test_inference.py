"""FakeReviewClassifier, classify() and device/dtype resolution, on the tiny offline model."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fakereview_nlp import FakeReviewClassifier, ReviewVerdict, classify, clear_cache
from fakereview_nlp.inference import cached_classifier
from fakereview_nlp.runtime.devices import cpu_supports_bf16, resolve_device, resolve_dtype

MIXED = [
    "Short.",
    "A much longer review about the hotel, the staff, the breakfast and the noisy lift. " * 6,
    "Clean room.",
    "Medium length review: friendly staff and a comfortable bed, would stay again.",
    "ok",
    "The view of the lake was lovely but the bathroom was tiny and the wifi kept dropping. " * 3,
    "Best hotel ever!!!",
]


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> FakeReviewClassifier:
    return FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model directory that a test may break."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


# -- batching and numerics -----------------------------------------------------------------------


def test_order_restored_for_mixed_lengths_with_batch_size_2(clf: FakeReviewClassifier) -> None:
    one_by_one = np.array([clf.predict_proba([text])[0] for text in MIXED])
    verdicts = clf.classify(MIXED, batch_size=2, out_of_scope="score")  # ordering, not scope
    assert len(verdicts) == len(MIXED)
    np.testing.assert_allclose([v.fake_score for v in verdicts], one_by_one, rtol=0, atol=1e-6)
    # the scores differ between texts, so a permutation would be caught
    assert len(set(np.round(one_by_one, 7))) > len(MIXED) // 2


def test_fp32_scores_identical_for_batch_sizes_1_and_32(clf: FakeReviewClassifier) -> None:
    texts = MIXED * 5
    np.testing.assert_array_equal(
        clf.predict_proba(texts, batch_size=1), clf.predict_proba(texts, batch_size=32)
    )


def test_small_token_budget_still_scores_every_text(tiny_model_dir: Path, clf: FakeReviewClassifier) -> None:
    small = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")
    small.token_budget = 1  # every batch falls back to a single row
    np.testing.assert_allclose(small.predict_proba(MIXED), clf.predict_proba(MIXED), rtol=0, atol=1e-6)


def test_fp32_scores_match_transformers_pipeline(tiny_model_dir: Path, clf: FakeReviewClassifier) -> None:
    from transformers import pipeline

    pipe = pipeline(
        "text-classification", model=str(tiny_model_dir), device="cpu", truncation=True, top_k=None
    )
    long_review = "word " * 2000  # beyond the 128-token maximum: both truncate
    texts = [*MIXED, long_review]
    expected = np.array([{d["label"]: d["score"] for d in r}["fake"] for r in pipe(texts, batch_size=1)])
    np.testing.assert_allclose(clf.predict_proba(texts), expected, rtol=0, atol=1e-5)


def test_predict_proba_shape_dtype_and_range(clf: FakeReviewClassifier) -> None:
    scores = clf.predict_proba(MIXED)
    assert scores.shape == (len(MIXED),)
    assert scores.dtype == np.float64
    assert ((scores >= 0) & (scores <= 1)).all()


def test_verdict_is_frozen_and_consistent(clf: FakeReviewClassifier) -> None:
    verdict = clf.classify(["Great stay."])[0]
    assert isinstance(verdict, ReviewVerdict)
    assert verdict.label == ("fake" if verdict.fake_score >= 0.5 else "genuine")
    assert verdict.flagged == (verdict.fake_score >= clf.threshold)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.label = "fake"  # type: ignore[misc]


def test_text_is_normalised_before_tokenising(clf: FakeReviewClassifier) -> None:
    a, b = clf.predict_proba(["Great  room.\n\nWould stay again. ", "Great room. Would stay again."])
    assert a == b


def test_bfloat16_autocast_path_runs(tiny_model_dir: Path, clf: FakeReviewClassifier) -> None:
    bf16 = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="bf16")
    assert bf16.dtype == torch.bfloat16
    np.testing.assert_allclose(bf16.predict_proba(MIXED), clf.predict_proba(MIXED), atol=2e-2)


# -- awkward input -------------------------------------------------------------------------------


def test_bare_string_is_refused(clf: FakeReviewClassifier) -> None:
    with pytest.raises(
        TypeError, match=r"classify\(\) expects a list of texts; wrap a single review as \[text\]"
    ):
        clf.classify("one review")
    with pytest.raises(TypeError, match=r"predict_proba\(\) expects a list of texts; wrap a single review"):
        clf.predict_proba("one review")
    with pytest.raises(TypeError, match=r"wrap a single review as \[text\]"):
        classify("one review", model="never-loaded")


def test_non_string_element_names_index_and_type(clf: FakeReviewClassifier) -> None:
    with pytest.raises(TypeError, match=r"texts\[1\] is int, not str; convert it with str\(\) or drop it"):
        clf.classify(["fine", 3])
    with pytest.raises(TypeError, match=r"texts\[2\] is NoneType, not str"):
        clf.predict_proba(["a", "b", None])


def test_empty_list_returns_empty(clf: FakeReviewClassifier) -> None:
    assert clf.classify([]) == []
    assert clf.predict_proba([]).shape == (0,)
    assert classify([], model="never-loaded") == []  # nothing is loaded for nothing to do


def test_empty_and_whitespace_texts_score_as_special_tokens_only(clf: FakeReviewClassifier) -> None:
    empty, spaces, newlines = clf.predict_proba(["", "   ", "\n\t "])
    assert empty == spaces == newlines
    assert 0.0 <= empty <= 1.0


@pytest.mark.parametrize("long_text", ["truncate", "chunk"])
def test_100k_character_review(clf: FakeReviewClassifier, long_text: str) -> None:
    review = ("The lobby was grand but the room smelled of smoke and the staff shrugged. " * 1400)[:100_000]
    assert len(review) == 100_000
    verdicts = clf.classify([review, "short one"], long_text=long_text)  # type: ignore[arg-type]
    assert len(verdicts) == 2
    assert 0.0 <= verdicts[0].fake_score <= 1.0


def test_chunk_score_is_max_over_windows(clf: FakeReviewClassifier) -> None:
    review = " ".join(f"w{i % 97} room staff" for i in range(400))  # several 128-token windows
    truncated = clf.predict_proba([review])[0]
    chunked = clf.predict_proba([review], long_text="chunk")[0]
    windows, owner = clf._tokenize([review], "chunk")
    assert len(windows) > 2 and set(owner.tolist()) == {0}
    per_window = clf._score_sequences(windows, cap=8)
    assert chunked == pytest.approx(per_window.max(), abs=1e-7)
    assert chunked >= truncated - 1e-6  # the first window is the truncated text


def test_invalid_options_name_the_value(clf: FakeReviewClassifier) -> None:
    with pytest.raises(
        ValueError, match=r"long_text='middle' is not supported; expected 'truncate' or 'chunk'"
    ):
        clf.classify(["a"], long_text="middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"batch_size must be a positive int or None, got 0"):
        clf.classify(["a"], batch_size=0)


# -- the model directory ---------------------------------------------------------------------------


def test_calibration_temperature_is_honoured(model_copy: Path, clf: FakeReviewClassifier) -> None:
    (model_copy / "calibration.json").write_text(json.dumps({"temperature": 2.5, "ece_before": 0.1}))
    calibrated = FakeReviewClassifier.from_pretrained(model_copy, device="cpu", dtype="float32")
    assert calibrated.temperature == 2.5
    raw = clf.predict_proba(MIXED)
    expected = 1.0 / (1.0 + np.exp(-_logit(raw) / 2.5))
    np.testing.assert_allclose(calibrated.predict_proba(MIXED), expected, rtol=0, atol=1e-6)


def test_operating_point_threshold_sets_flagged(model_copy: Path, clf: FakeReviewClassifier) -> None:
    scores = clf.predict_proba(MIXED)
    threshold = float(np.median(scores))
    points = {"threshold": threshold, "operating_flag_rate": 0.5, "prevalence": None, "points": []}
    (model_copy / "operating_points.json").write_text(json.dumps(points))
    verdicts = FakeReviewClassifier.from_pretrained(model_copy, device="cpu", dtype="float32").classify(
        MIXED, out_of_scope="score"  # MIXED has texts too short to identify; this is about the threshold
    )
    assert [v.flagged for v in verdicts] == [bool(s >= threshold) for s in scores]
    assert 0 < sum(v.flagged for v in verdicts) < len(MIXED)


def test_defaults_without_calibration_or_operating_points(clf: FakeReviewClassifier) -> None:
    assert clf.temperature == 1.0
    assert clf.threshold == 0.5
    assert clf.max_length == 128  # min(tokenizer.model_max_length, max_position_embeddings)


@pytest.mark.parametrize(
    ("breakage", "error", "pattern"),
    [
        ("no_config", FileNotFoundError, r"has no config\.json"),
        ("bad_config", ValueError, r"config\.json is not valid JSON"),
        ("no_weights", FileNotFoundError, r"has no model\.safetensors"),
        (
            "pickle_only",
            FileNotFoundError,
            r"has no model\.safetensors \(pickle weights such as pytorch_model\.bin",
        ),
        ("truncated_weights", ValueError, r"model\.safetensors is corrupt or truncated"),
        ("no_tokenizer", FileNotFoundError, r"has no tokenizer \(tokenizer_config\.json"),
        ("bad_calibration", ValueError, r"calibration\.json is not valid JSON"),
        (
            "bad_threshold",
            ValueError,
            r"operating_points\.json has threshold 1\.5; expected a number in \[0, 1\]",
        ),
        ("wrong_labels", ValueError, r"config\.json has id2label .*'positive'.*needs the labels"),
    ],
)
def test_broken_model_directory_names_the_file(
    model_copy: Path, breakage: str, error: type, pattern: str
) -> None:
    if breakage == "no_config":
        (model_copy / "config.json").unlink()
    elif breakage == "bad_config":
        (model_copy / "config.json").write_text("{not json")
    elif breakage == "no_weights":
        (model_copy / "model.safetensors").unlink()
    elif breakage == "pickle_only":
        (model_copy / "model.safetensors").rename(model_copy / "pytorch_model.bin")
    elif breakage == "truncated_weights":
        weights = model_copy / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    elif breakage == "no_tokenizer":
        for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json"):
            (model_copy / name).unlink(missing_ok=True)
    elif breakage == "bad_calibration":
        (model_copy / "calibration.json").write_text("temperature: 2")
    elif breakage == "bad_threshold":
        (model_copy / "operating_points.json").write_text(json.dumps({"threshold": 1.5}))
    elif breakage == "wrong_labels":
        config = json.loads((model_copy / "config.json").read_text())
        config["id2label"] = {"0": "negative", "1": "positive"}
        config["label2id"] = {"negative": 0, "positive": 1}
        (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(error, match=pattern):
        FakeReviewClassifier.from_pretrained(model_copy, device="cpu")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model directory .*nowhere.* does not exist"):
        FakeReviewClassifier.from_pretrained(tmp_path / "nowhere")


# -- module-level classify() -----------------------------------------------------------------------


def test_module_classify_uses_env_var_and_caches(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKEREVIEW_MODEL", str(tiny_model_dir))
    clear_cache()
    first = classify(MIXED[:3], device="cpu", dtype="float32")
    loaded = cached_classifier(str(tiny_model_dir.resolve()), "cpu", "float32")
    second = classify(MIXED[:3], device="cpu", dtype="float32")
    assert first == second
    classify(MIXED[:1], model=tiny_model_dir, device="cpu", dtype="float32")  # same model, same key
    assert cached_classifier(str(tiny_model_dir.resolve()), "cpu", "float32") is loaded
    clear_cache()


def test_unreachable_hub_id_says_how_to_point_at_a_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    # the default model is covered in test_default_model.py; a Hub id is only tried when named
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clear_cache()
    with pytest.raises(
        OSError, match=r"Pass the path of a trained model directory.*FAKEREVIEW_MODEL=/path/to/model"
    ):
        classify(["a review"], model="no-such-org/no-such-model")
    clear_cache()


def test_import_stays_light() -> None:
    code = "import sys, fakereview_nlp; fakereview_nlp.ReviewVerdict; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- devices ---------------------------------------------------------------------------------------


def test_device_resolution() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device 'cuda:1' was requested but PyTorch sees no CUDA GPU"):
            resolve_device("cuda:1")
    with pytest.raises(ValueError, match=r"device 'gpu0' is not a device name; expected 'cpu', 'cuda'"):
        resolve_device("gpu0")


def test_dtype_resolution() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype(None, cpu) == (torch.bfloat16 if cpu_supports_bf16() else torch.float32)
    assert resolve_dtype("float32", cpu) == torch.float32
    assert resolve_dtype("bf16", cpu) == torch.bfloat16
    assert resolve_dtype(torch.bfloat16, cpu) == torch.bfloat16
    with pytest.raises(ValueError, match=r"dtype 'int8' is not supported; expected one of"):
        resolve_dtype("int8", cpu)
    with pytest.raises(ValueError, match=r"dtype 'float16' is not supported on the CPU"):
        resolve_dtype("float16", cpu)
