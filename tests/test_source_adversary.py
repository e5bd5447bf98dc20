"""training.source_adversary: a gradient-reversed source head during training, gone from the saved model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.test_multi_source import _raw, two_corpora  # noqa: F401  (fixture)
from training.adversary import SourceAdversary, reverse_gradient
from training.config import ConfigError, config_from_dict
from training.train import run


def test_reverse_gradient_is_identity_forward_and_scaled_negative_backward() -> None:
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x.detach())
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, -1.5]))


def test_adversary_reads_the_classifier_input_and_reverses_its_gradient_into_the_encoder() -> None:
    torch.manual_seed(0)
    encoder = torch.nn.Linear(4, 3)
    model = torch.nn.Module()
    model.classifier = torch.nn.Linear(3, 2)
    adversary = SourceAdversary.for_model(model, n_sources=2, weight=0.5)
    x, sources = torch.randn(8, 4), torch.tensor([0, 1] * 4)
    model.classifier(encoder(x))
    adversary(sources).backward()
    reversed_grad, head_grad = encoder.weight.grad.clone(), adversary.head.weight.grad.clone()
    encoder.zero_grad()
    adversary.head.zero_grad()
    # the same source loss without the reversal: the head gets the same gradient, the encoder -2x it
    torch.nn.functional.cross_entropy(adversary.head(encoder(x)), sources).backward()
    assert torch.allclose(adversary.head.weight.grad, head_grad)
    assert torch.allclose(reversed_grad, -0.5 * encoder.weight.grad)
    assert reversed_grad.abs().sum() > 0
    with pytest.raises(RuntimeError, match="before a forward pass"):
        adversary(sources)


def test_adversary_needs_a_linear_classifier_and_two_sources() -> None:
    model = torch.nn.Module()
    model.classifier = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="'classifier' is a Linear layer.*source_adversary=0"):
        SourceAdversary.for_model(model, n_sources=2, weight=1.0)
    with pytest.raises(ValueError, match="at least 2 sources, got 1"):
        SourceAdversary(3, 1, 1.0)


def test_negative_weight_is_refused(two_corpora: tuple[Path, Path], tokenizer_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    hotels, products = two_corpora
    raw = _raw(hotels, products, tokenizer_dir, tmp_path / "m")
    raw["training"]["source_adversary"] = -1.0  # type: ignore[index]
    with pytest.raises(ConfigError, match="training.source_adversary"):
        config_from_dict(raw)


def test_one_source_config_is_refused_naming_the_key(reviews_csv: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import TINY_DISTILBERT

    cfg = config_from_dict(
        {
            "data": {"path": str(reviews_csv), "eval_fraction": 0.25},
            "model": {"init": "random", "tokenizer": str(tokenizer_dir), "random_config": TINY_DISTILBERT},
            "training": {"epochs": 1, "batch_size": 8, "source_adversary": 1.0},
            "output": {"dir": str(tmp_path / "out")},
        }
    )
    with pytest.raises(ConfigError, match="source_adversary needs data.sources.*source_adversary=0"):
        run(cfg)


def test_run_with_adversary_trains_differently_and_saves_the_plain_classifier(
    two_corpora: tuple[Path, Path],  # noqa: F811
    tokenizer_dir: Path,
    tmp_path: Path,
) -> None:
    hotels, products = two_corpora
    weights = {}
    for name, weight in (("plain", 0.0), ("adversary", 1.0)):
        raw = _raw(hotels, products, tokenizer_dir, tmp_path / name)
        raw["model"]["combine_tfidf"] = False  # type: ignore[index]
        raw["training"]["source_adversary"] = weight  # type: ignore[index]
        run(config_from_dict(raw))
        weights[name] = load_file(str(tmp_path / name / "model.safetensors"))
        assert "source_adversary: " + str(weight) in (tmp_path / name / "training_config.yaml").read_text()
    assert weights["plain"].keys() == weights["adversary"].keys()
    assert not any("head" in key for key in weights["adversary"])
    # the reversed source gradient reached the encoder: same seed and rows, different weights
    differs = [k for k in weights["plain"] if not torch.equal(weights["plain"][k], weights["adversary"][k])]
    assert any("transformer.layer" in k for k in differs)
