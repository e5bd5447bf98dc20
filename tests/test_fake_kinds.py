"""model.fake_kinds: one fake output per source, combined into one P(fake) everywhere it is read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fakereview_nlp.labels import output_columns, output_labels
from fakereview_nlp.model.modeling import load_pretrained_classifier, two_way_logits
from tests.test_multi_source import _raw, two_corpora  # noqa: F401  (fixture)
from training.config import ConfigError, config_from_dict
from training.loop import compute_loss
from training.output import shift_fake_bias
from training.train import run

KINDS_LABELS = {0: "genuine", 1: "fake:hotels", 2: "fake:products"}


def test_output_labels_name_one_fake_output_per_kind() -> None:
    assert output_labels() == {0: "genuine", 1: "fake"}
    assert output_labels(["hotels", "products"]) == KINDS_LABELS
    with pytest.raises(ValueError, match="must be distinct"):
        output_labels(["a", "a"])


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        ({"0": "genuine", "1": "fake"}, (0, (1,))),
        ({0: "fake", 1: "genuine"}, (1, (0,))),
        (KINDS_LABELS, (0, (1, 2))),
    ],
)
def test_output_columns_read_plain_and_kind_labels(id2label: dict, expected: tuple) -> None:
    assert output_columns(id2label, "m") == expected


@pytest.mark.parametrize(
    "id2label",
    [
        {0: "LABEL_0", 1: "LABEL_1"},
        {0: "genuine", 1: "fake", 2: "fake:x"},  # a plain fake beside kinds: which is which?
        {0: "genuine", 1: "fake:x", 2: "neutral"},
        {0: "genuine"},
    ],
)
def test_output_columns_refuse_other_heads_naming_the_labels(id2label: dict) -> None:
    with pytest.raises(ValueError, match=r"m has id2label .* needs the labels \{0: 'genuine', 1: 'fake'\}"):
        output_columns(id2label, "m")


def test_two_way_logits_give_one_minus_p_genuine_of_the_full_softmax() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 4) * 3
    two = two_way_logits(logits, 0, (1, 2, 3))
    assert two.shape == (6, 2)
    p_fake = torch.softmax(two, dim=1)[:, 1]
    assert torch.allclose(p_fake, 1 - torch.softmax(logits, dim=1)[:, 0], atol=1e-6)
    # one fake column: the logits as they are (genuine first)
    assert torch.equal(two_way_logits(logits[:, [2, 0]], 1, (0,)), logits[:, [0, 2]])


def test_loss_learns_kinds_from_kind_labels_and_plain_labels_through_the_combined_logit() -> None:
    torch.manual_seed(1)
    logits = torch.randn(8, 3)
    kinds = torch.tensor([0, 1, 2, 0, 2, 1, 0, 0])
    labels = (kinds > 0).long()
    full = torch.nn.functional.cross_entropy(logits, kinds)
    assert torch.allclose(compute_loss(logits, labels, None, kinds), full)
    plain = torch.nn.functional.cross_entropy(two_way_logits(logits, 0, (1, 2)), labels)
    assert torch.allclose(compute_loss(logits, labels, None), plain)
    # class weights [genuine, fake]: every kind shares the fake weight
    weights = torch.tensor([0.5, 2.0])
    expected = torch.nn.functional.cross_entropy(logits, kinds, weight=torch.tensor([0.5, 2.0, 2.0]))
    assert torch.allclose(compute_loss(logits, labels, weights, kinds), expected)


def test_per_source_without_sources_is_refused(reviews_csv: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import TINY_DISTILBERT

    cfg = config_from_dict(
        {
            "data": {"path": str(reviews_csv), "eval_fraction": 0.25},
            "model": {"init": "random", "tokenizer": str(tokenizer_dir), "random_config": TINY_DISTILBERT,
                      "fake_kinds": "per_source"},  # fmt: skip
            "training": {"epochs": 1, "batch_size": 8},
            "output": {"dir": str(tmp_path / "out")},
        }
    )
    with pytest.raises(ConfigError, match="fake_kinds=per_source needs data.sources.*fake_kinds=one"):
        run(cfg)


def test_unknown_kind_setting_is_refused(two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    raw = _raw(*two_corpora, tokenizer_dir, tmp_path / "m")
    raw["model"]["fake_kinds"] = "per_generator"  # type: ignore[index]
    with pytest.raises(ConfigError, match="model.fake_kinds"):
        config_from_dict(raw)


@pytest.fixture(scope="module")
def kinds_model(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    from tests.test_multi_source import write_two_corpora

    tmp = tmp_path_factory.mktemp("kinds")
    hotels, products = write_two_corpora(tmp)
    raw = _raw(hotels, products, tokenizer_dir, tmp / "model")
    raw["model"].update({"combine_tfidf": False, "fake_kinds": "per_source"})  # type: ignore[attr-defined]
    raw["evaluation"]["calibrate_shift"] = True  # type: ignore[index]
    run(config_from_dict(raw))
    return tmp / "model"


def test_trained_folder_has_one_fake_output_per_source_and_classify_reads_one_p_fake(kinds_model: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from fakereview_nlp import classify
    from fakereview_nlp.inference import FakeReviewClassifier

    config = json.loads((kinds_model / "config.json").read_text())
    assert {int(k): v for k, v in config["id2label"].items()} == KINDS_LABELS
    assert "fake_kinds: per_source" in (kinds_model / "training_config.yaml").read_text()
    texts = ["Quiet room, slow lift.", "Best purchase ever, amazing!!!", "The staff were kind."]
    verdicts = classify(texts, model=kinds_model)
    assert len(verdicts) == 3
    # P(fake) = 1 - P(genuine) of the full softmax, with the saved temperature
    clf = FakeReviewClassifier.from_pretrained(kinds_model)
    model = AutoModelForSequenceClassification.from_pretrained(str(kinds_model)).eval()
    with torch.inference_mode():
        enc = clf.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        full = model(**enc).logits
    two = two_way_logits(full, 0, (1, 2)) / clf.temperature
    expected = torch.softmax(two, dim=1)[:, 1].numpy()
    np.testing.assert_allclose([v.fake_score for v in verdicts], expected, atol=1e-5)


def test_bias_shift_moves_every_kind(kinds_model: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(kinds_model, folder)
    before = load_file(str(folder / "model.safetensors"))
    key = shift_fake_bias(folder, -0.75)
    after = load_file(str(folder / "model.safetensors"))
    assert key.endswith("classifier.bias") and after[key].shape == (3,)
    assert torch.allclose(after[key] - before[key], torch.tensor([0.0, -0.75, -0.75]))


def test_fine_tuning_keeps_the_kinds_and_refuses_other_ones(kinds_model: Path) -> None:
    model = load_pretrained_classifier(str(kinds_model))
    assert model.config.id2label == KINDS_LABELS
    assert load_pretrained_classifier(str(kinds_model), kinds=["hotels", "products"]).config.num_labels == 3
    with pytest.raises(ValueError, match=r"already has the outputs .*fake:hotels.*fake_kinds: one"):
        load_pretrained_classifier(str(kinds_model), kinds=["shops"])


def test_adapting_a_kinds_model_trains_its_combined_p_fake(kinds_model: Path, tmp_path: Path) -> None:
    from tests.test_adapt import FAST, write_labels
    from training.adapt import adapt

    labels = write_labels(tmp_path / "labels.csv", 12, copies=2)
    adapt(labels, tmp_path / "adapted", base=kinds_model, overrides=[*FAST, "--adapt.cv_folds=2"])
    config = json.loads((tmp_path / "adapted" / "config.json").read_text())
    assert {int(k): v for k, v in config["id2label"].items()} == KINDS_LABELS
    from fakereview_nlp import classify

    assert len(classify(["Quiet room, slow lift."], model=tmp_path / "adapted")) == 1
