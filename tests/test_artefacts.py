"""Every artefact that training, CV and corpus preparation write: atomic, and readable as open() makes it.

A file is "atomic" here when it reached its final name through ``os.replace`` from a temporary
file beside it (so a reader or a crash never sees half of it); its mode is what ``open(path,
"w")`` gives under the process umask (0644 under umask 022), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fakereview_nlp.data import corpora
from fakereview_nlp.model.calibration import apply_temperature
from tests.test_corpora import OP_SPAM_FILES, _FakeResponse, make_op_spam_zip
from tests.test_train import tiny_raw
from training.config import TrainConfig, config_from_dict
from training.train import run

#: What a training run writes into its output directory besides the tokenizer files.
TRAINING_ARTEFACTS = {
    "model.safetensors",
    "config.json",
    "metrics.json",
    "val_predictions.csv",
    "calibration.json",
    "operating_points.json",
    "training_config.yaml",
    "tfidf_model.json",
}


@pytest.fixture()
def umask_022() -> Iterator[int]:
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


@pytest.fixture()
def replaced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Final paths that ``os.replace`` moved a file onto, in order."""
    seen: list[Path] = []
    real = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str], *args: object, **kw: object) -> None:
        real(src, dst, *args, **kw)  # type: ignore[arg-type]
        seen.append(Path(dst))

    monkeypatch.setattr(os, "replace", spy)
    return seen


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_training_output_is_written_atomically_with_umask_modes(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path, umask_022: int, replaced: list[Path]
) -> None:
    out = tmp_path / "model"
    result = run(_combined(reviews_csv, out, tokenizer_dir))
    # the uncalibrated score is the package's one softmax (calibration.apply_temperature)
    logits = result.val_predictions[["logit_genuine", "logit_fake"]].to_numpy()
    uncalibrated = result.val_predictions["transformer_score_uncalibrated"].to_numpy()
    np.testing.assert_array_equal(uncalibrated, apply_temperature(logits, 1.0))
    files = {p.name: p for p in out.iterdir()}
    assert set(files) >= TRAINING_ARTEFACTS
    modes = {name: oct(_mode(path)) for name, path in files.items()}
    assert modes == {name: oct(umask_022) for name in files}, "files must be readable as open() makes them"
    assert oct(_mode(out)) == oct(0o755)
    # written through a temporary file + os.replace (into the staging folder that is renamed to out)
    atomic = {p.name for p in replaced}
    assert TRAINING_ARTEFACTS - {"model.safetensors", "config.json"} <= atomic, sorted(atomic)


def _combined(csv: Path, out: Path, tokenizer_dir: Path) -> TrainConfig:
    """The tiny config, serving the TF-IDF combination so that tfidf_model.json is written too."""
    raw = tiny_raw(csv, out, tokenizer_dir, epochs=1)
    raw["model"]["combine_tfidf"] = True  # type: ignore[index]
    return config_from_dict(raw)


def test_cv_files_are_written_atomically(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path, umask_022: int, replaced: list[Path]
) -> None:
    from training.cv import main

    config = tmp_path / "cv.yaml"
    raw = tiny_raw(reviews_csv, tmp_path / "unused", tokenizer_dir, epochs=1)
    raw["data"].pop("split_column")  # type: ignore[attr-defined]
    raw["data"].pop("eval_splits")  # type: ignore[attr-defined]
    config.write_text(yaml.safe_dump(raw))
    runs, report = tmp_path / "runs", tmp_path / "report"
    args = [
        str(config),
        "--models",
        "tfidf",
        "--n-folds",
        "2",
        "--runs-dir",
        str(runs),
        "--report-dir",
        str(report),
    ]
    assert main([*args, "--n-boot", "0"]) == 0
    atomic = {p.name for p in replaced}
    assert {"oof_predictions.csv", "cv_runs.json", "cv_data.parquet"} <= atomic, sorted(atomic)
    for name in ("oof_predictions.csv", "cv_runs.json"):
        assert _mode(report / name) == umask_022
    assert _mode(runs / "cv_data.parquet") == umask_022


def test_prepared_and_downloaded_corpora_honour_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: int
) -> None:
    payload = make_op_spam_zip(tmp_path).read_bytes()
    monkeypatch.setattr(corpora.urllib.request, "urlopen", lambda request, timeout: _FakeResponse(payload))
    out = tmp_path / "out" / "op_spam.csv"
    frame = corpora.prepare_corpus("op_spam", out)
    assert len(frame) == len(OP_SPAM_FILES)
    assert oct(_mode(tmp_path / "out" / "op_spam_v1.4.zip")) == oct(umask_022)
    assert oct(_mode(out)) == oct(umask_022)
    assert len(pd.read_csv(out, dtype=str)) == len(OP_SPAM_FILES)
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
