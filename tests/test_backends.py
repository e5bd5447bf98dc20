"""Backends: selection, the conversion cache and its invalidation, the int8 agreement gate, fallback.

Tests marked by ``pytest.importorskip("openvino")`` run where the optional ``[openvino]`` extra is
installed; everything else (selection rules, fallback, agreement, cache keys) runs everywhere.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.model.folder import weights_hash
from fakereview_nlp.runtime import backends, choice, int8
from fakereview_nlp.runtime.backends import (
    Agreement,
    agreement,
    cache_dir,
    find_int8,
)
from fakereview_nlp.runtime.choice import select_backend

TEXTS = [
    "The room was clean and the staff were helpful.",
    "Best hotel ever!!! Amazing amazing amazing!!!",
    "Noisy street at night, otherwise a decent stay for the price, and the breakfast was fine.",
    "ok",
    "We stayed two nights; the view of the lake was lovely but the lift was slow and the bar closed early.",
]


pytestmark = pytest.mark.usefixtures("private_runtime_cache")


def _perturb_weights(model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    with torch.no_grad():
        model.classifier.bias.add_(0.5)
    model.save_pretrained(model_dir)


def _fake_accepted_int8(model_dir: Path) -> Path:
    """What build_int8 leaves behind, without running NNCF: the selection rules read only this."""
    folder = cache_dir() / weights_hash(model_dir)[:16] / "int8"
    folder.mkdir(parents=True)
    (folder / "model.xml").write_text("<net/>", encoding="utf-8")
    meta = {"weights_sha256": weights_hash(model_dir), "accepted": True}
    (folder / "agreement.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


# -- agreement -------------------------------------------------------------------------------------


def test_agreement_counts_labels_at_half_and_flags_at_the_threshold() -> None:
    measured = agreement([0.1, 0.6, 0.97, 0.96], [0.2, 0.4, 0.96, 0.94], threshold=0.95)
    assert measured == Agreement(
        n=4, label=0.75, flagged=0.75, threshold=0.95, max_abs_diff=0.2, flagged_iou=1 / 2
    )
    assert not measured.accepted()
    assert agreement([0.1, 0.9], [0.1, 0.9]).accepted()


def test_agreement_needs_both_labels_and_flags() -> None:
    # All labels agree but one flag of 200 differs: 99.5 % is the bar, so still accepted; two are not.
    ref = np.full(200, 0.9)
    ref[100:140] = 0.97  # 40 flagged, so one more is an overlap of 40/41
    one, two = ref.copy(), ref.copy()
    one[0] = 0.97
    two[:2] = 0.97
    assert agreement(ref, one, threshold=0.95).accepted()
    assert agreement(ref, one, threshold=0.95).label == 1.0
    assert not agreement(ref, two, threshold=0.95).accepted()


def test_agreement_needs_the_flagged_sets_to_overlap() -> None:
    # Rare flags: one flip in 1,000 keeps 99.9 % of flags but the flagged sets overlap only 10/11.
    ref = np.full(1000, 0.9)
    ref[:10] = 0.97
    cand = ref.copy()
    cand[500] = 0.97
    measured = agreement(ref, cand, threshold=0.95)
    assert measured.flagged == pytest.approx(0.999)
    assert measured.flagged_iou == pytest.approx(10 / 11)
    assert not measured.accepted()
    assert agreement(ref, ref, threshold=0.95).flagged_iou == 1.0
    assert agreement([0.1, 0.2], [0.1, 0.3], threshold=0.95).flagged_iou == 1.0  # no flags on either side


def test_agreement_rejects_vectors_of_different_length() -> None:
    with pytest.raises(
        ValueError, match=r"same length, got shapes \(2,\) and \(3,\); score the same reviews"
    ):
        agreement([0.1, 0.2], [0.1, 0.2, 0.3])


# -- selection and fallback ------------------------------------------------------------------------


def test_unknown_backend_is_rejected(tiny_model_dir: Path) -> None:
    with pytest.raises(
        ValueError, match=r"backend 'tensorrt' is not supported; expected one of \['auto', 'torch', 'onnx'"
    ):
        FakeReviewClassifier.from_pretrained(tiny_model_dir, backend="tensorrt")  # type: ignore[arg-type]


def test_auto_falls_back_to_torch_without_openvino(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    assert not backends.openvino_available()
    clf = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu")
    assert clf.backend == "torch"
    assert "backend='torch'" in repr(clf)
    assert len(clf.classify(TEXTS)) == len(TEXTS)


def test_forcing_openvino_without_it_says_how_to_install(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(
        ValueError, match=r"needs OpenVINO, which is not installed; pip install 'fakereview-nlp\[openvino\]'"
    ):
        FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", backend="openvino")


def test_auto_never_picks_openvino_by_itself(model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenVINO is used when named; "auto" picks from what was measured on this machine (test_runtime_choice).
    monkeypatch.setattr(choice, "openvino_available", lambda: True)
    _fake_accepted_int8(model_copy)
    pick = select_backend
    assert pick("auto", device_type="cpu", dtype_forced=False, model_dir=model_copy) == "torch"
    assert pick("torch", device_type="cpu", dtype_forced=False, model_dir=model_copy) == "torch"
    assert (
        pick("openvino-int8", device_type="cpu", dtype_forced=False, model_dir=model_copy) == "openvino-int8"
    )


def test_forced_backends_say_what_is_missing(model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "openvino_available", lambda: True)
    with pytest.raises(ValueError, match=r"runs on the CPU only, got device 'cuda'; use backend='torch'"):
        select_backend("openvino", device_type="cuda", dtype_forced=False, model_dir=model_copy)
    with pytest.raises(ValueError, match=r"needs a model folder \(load with from_pretrained\)"):
        select_backend("openvino", device_type="cpu", dtype_forced=False, model_dir=None)
    with pytest.raises(ValueError, match=r"needs an accepted int8 model for .*build_int8\(model_dir"):
        select_backend("openvino-int8", device_type="cpu", dtype_forced=False, model_dir=model_copy)


def test_direct_construction_keeps_the_torch_path(tiny_model_dir: Path) -> None:
    base = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", backend="torch")
    clf = FakeReviewClassifier(base.model, base.tokenizer, device="cpu")
    assert clf.backend == "torch"
    np.testing.assert_array_equal(clf.predict_proba(TEXTS), base.predict_proba(TEXTS))


# -- cache keys and invalidation -------------------------------------------------------------------


def test_int8_is_found_only_for_the_weights_it_was_built_from(model_copy: Path) -> None:
    before = weights_hash(model_copy)
    folder = _fake_accepted_int8(model_copy)
    assert find_int8(model_copy) == folder
    _perturb_weights(model_copy)
    assert weights_hash(model_copy) != before
    assert find_int8(model_copy) is None  # stale: keyed by the old weights' hash


def test_int8_not_accepted_is_never_used(model_copy: Path) -> None:
    folder = _fake_accepted_int8(model_copy)
    meta = json.loads((folder / "agreement.json").read_text(encoding="utf-8"))
    (folder / "agreement.json").write_text(json.dumps({**meta, "accepted": False}), encoding="utf-8")
    assert find_int8(model_copy) is None


def test_int8_in_the_model_folder_is_checked_against_its_weights(model_copy: Path) -> None:
    folder = model_copy / backends.INT8_DIR
    folder.mkdir()
    (folder / "model.xml").write_text("<net/>", encoding="utf-8")
    meta = {"weights_sha256": "0" * 64, "accepted": True}
    (folder / "agreement.json").write_text(json.dumps(meta), encoding="utf-8")
    assert find_int8(model_copy) is None
    (folder / "agreement.json").write_text(
        json.dumps({**meta, "weights_sha256": weights_hash(model_copy)}), encoding="utf-8"
    )
    assert find_int8(model_copy) == folder


def test_cache_dir_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(backends.CACHE_ENV_VAR, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(backends.CACHE_ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "fakereview_nlp"


# -- with OpenVINO installed -----------------------------------------------------------------------


def test_openvino_matches_torch_and_is_converted_once(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch, private_runtime_cache: Path
) -> None:
    pytest.importorskip("openvino")
    torch_scores = FakeReviewClassifier.from_pretrained(
        model_copy, device="cpu", dtype="float32", backend="torch"
    ).predict_proba(TEXTS)
    clf = FakeReviewClassifier.from_pretrained(model_copy, device="cpu", dtype="float32")
    assert clf.backend == "openvino"
    np.testing.assert_allclose(clf.predict_proba(TEXTS), torch_scores, atol=1e-5)
    float_dir = private_runtime_cache / weights_hash(model_copy)[:16] / "float"
    assert (float_dir / "model.xml").is_file()

    def no_conversion(_model: object) -> object:
        raise AssertionError("converted again although the cache holds this model")

    monkeypatch.setattr(backends, "_convert", no_conversion)
    again = FakeReviewClassifier.from_pretrained(model_copy, device="cpu", dtype="float32")
    np.testing.assert_allclose(again.predict_proba(TEXTS), torch_scores, atol=1e-5)
    # New weights: a new cache key, so the stale conversion is not used (and converting is attempted).
    _perturb_weights(model_copy)
    with pytest.raises(AssertionError, match="converted again"):
        FakeReviewClassifier.from_pretrained(model_copy, device="cpu", dtype="float32")


def test_openvino_runs_when_the_cache_cannot_be_written(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("openvino")
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(backends.CACHE_ENV_VAR, str(blocker))  # mkdir under a file fails, even as root
    clf = FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", backend="openvino")
    assert len(clf.classify(TEXTS)) == len(TEXTS)
    assert "could not cache the OpenVINO model" in caplog.text


def test_build_int8_saves_only_what_it_accepted(model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    measured = int8.build_int8(model_copy, TEXTS * 4, TEXTS, min_agreement=0.0)
    assert measured.n == len(TEXTS)
    folder = find_int8(model_copy)
    assert folder is not None
    meta = json.loads((folder / "agreement.json").read_text(encoding="utf-8"))
    assert meta["weights_sha256"] == weights_hash(model_copy) and meta["label"] == measured.label
    clf = FakeReviewClassifier.from_pretrained(model_copy, device="cpu")
    assert clf.backend == "openvino-int8"
    assert np.all((clf.predict_proba(TEXTS) >= 0) & (clf.predict_proba(TEXTS) <= 1))

    shutil.rmtree(folder)
    low = Agreement(n=5, label=0.8, flagged=1.0, threshold=0.5, max_abs_diff=0.3)
    monkeypatch.setattr(int8, "agreement", lambda *a, **k: low)
    with pytest.raises(
        ValueError, match=r"int8 agreement with float32 on 5 held-out reviews is 80.00% of labels"
    ):
        int8.build_int8(model_copy, TEXTS * 4, TEXTS)
    assert find_int8(model_copy) is None


def test_build_int8_refuses_empty_lists(tiny_model_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"needs calibration and held-out reviews, got 0 and 5"):
        int8.build_int8(tiny_model_dir, [], TEXTS)


def test_module_classify_passes_the_backend_on(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fakereview_nlp.inference import classify, clear_cache

    monkeypatch.setitem(sys.modules, "openvino", None)
    clear_cache()
    with pytest.raises(ValueError, match=r"backend 'openvino' needs OpenVINO, which is not installed"):
        classify(TEXTS, model=str(tiny_model_dir), device="cpu", backend="openvino")
    verdicts = classify(TEXTS, model=str(tiny_model_dir), device="cpu", backend="torch", out_of_scope="score")
    assert [v.fake_score for v in verdicts] == pytest.approx(
        list(
            FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", backend="torch").predict_proba(
                TEXTS
            )
        )
    )
    clear_cache()
