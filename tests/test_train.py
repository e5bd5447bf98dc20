"""Training smoke runs on a tiny random DistilBERT: output directory, resume, multi-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import TINY_DISTILBERT
from training.config import TrainConfig, config_from_dict
from training.sampler import LengthGroupedBatchSampler
from training.train import build_optimizer, class_weight_tensor, load_splits, run

ROOT = Path(__file__).resolve().parents[1]


def tiny_raw(csv: Path, out: Path, tokenizer_dir: Path, **training: object) -> dict[str, object]:
    return {
        "data": {
            "path": str(csv),
            "group_column": "group",
            "split_column": "fold",
            "id_column": "id",
            "eval_splits": ["3"],
        },
        "model": {
            "init": "random",
            "tokenizer": str(tokenizer_dir),
            "random_config": TINY_DISTILBERT,
            "max_length": 32,
        },
        "training": {
            "seed": 3,
            "epochs": 2,
            "batch_size": 8,
            "learning_rate": 1e-3,
            "log_every_steps": 1,
            **training,
        },
        "evaluation": {"operating_flag_rate": 0.1},
        "output": {"dir": str(out)},
    }


def tiny_cfg(csv: Path, out: Path, tokenizer_dir: Path, **training: object) -> TrainConfig:
    return config_from_dict(tiny_raw(csv, out, tokenizer_dir, **training))


def test_smoke_run_writes_complete_output(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    out = tmp_path / "model"
    result = run(tiny_cfg(reviews_csv, out, tokenizer_dir, class_weights="auto", tracker="tensorboard"))
    files = {p.name for p in out.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "training_config.yaml",
        "metrics.json",
        "val_predictions.csv",
        "calibration.json",
        "operating_points.json",
        "model_info.json",
    } <= files
    # the languages identified in its training texts (fabricated English): other text is out of scope
    assert json.loads((out / "model_info.json").read_text(encoding="utf-8")) == {"languages": ["en"]}
    assert not list(tmp_path.glob(".model.partial-*"))
    # only the TensorBoard logs stay beside the model; the scratch copy of the best model is gone
    assert [p.name for p in (tmp_path / "model.checkpoints").iterdir()] == ["logs"]
    assert list((tmp_path / "model.checkpoints" / "logs").rglob("events.out.tfevents.*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 1
    assert [h["epoch"] for h in metrics["history"]] == [0, 1]
    assert yaml.safe_load((out / "training_config.yaml").read_text())["training"]["class_weights"] == "auto"
    # every validation review once, in dataset order, with a calibrated probability
    assert len(result.val_predictions) == 16
    assert result.val_predictions["fake_score"].between(0, 1).all()
    assert result.val_predictions["id"].is_unique
    points = json.loads((out / "operating_points.json").read_text())
    assert points["operating_flag_rate"] == 0.1


def test_output_loads_in_transformers_pipeline(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    from transformers import pipeline

    out = tmp_path / "model"
    run(tiny_cfg(reviews_csv, out, tokenizer_dir, epochs=1))
    clf = pipeline("text-classification", model=str(out), device="cpu")
    labels = {r["label"] for r in clf(["Great stay!", "Awful room, never again."])}
    assert labels <= {"genuine", "fake"}


def test_existing_output_is_not_overwritten(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    with pytest.raises(
        FileExistsError, match=r"output directory .* already exists; .*--output\.overwrite=true"
    ):
        run(tiny_cfg(reviews_csv, out, tokenizer_dir))


class Killed(RuntimeError):
    pass


def test_resume_reproduces_uninterrupted_run(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    # 32 training rows / batch 8 = 4 steps per epoch; checkpoints every 3 steps; killed at step 6.
    common = {"checkpoint_every_steps": 3, "epochs": 3}
    full = run(tiny_cfg(reviews_csv, tmp_path / "full", tokenizer_dir, **common))

    def kill_at_6(step: int) -> None:
        if step == 6:
            raise Killed("simulated crash")

    killed_out = tmp_path / "resumed"
    with pytest.raises(Killed):
        run(tiny_cfg(reviews_csv, killed_out, tokenizer_dir, **common), on_step=kill_at_6)
    assert not killed_out.exists(), "a crashed run must not leave a complete-looking output directory"
    assert (tmp_path / "resumed.checkpoints" / "step_6").is_dir()

    resumed = run(tiny_cfg(reviews_csv, killed_out, tokenizer_dir, resume_from_checkpoint="latest", **common))
    assert [h["step"] for h in resumed.history] == [h["step"] for h in full.history]
    for a, b in zip(full.history, resumed.history, strict=True):
        for key in ("eval_loss", "accuracy", "average_precision"):
            assert a[key] == pytest.approx(b[key], abs=1e-6), key
    np.testing.assert_allclose(
        full.val_predictions["logit_fake"].to_numpy(),
        resumed.val_predictions["logit_fake"].to_numpy(),
        atol=1e-5,
    )


def test_resume_without_checkpoint_says_so(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"resume_from_checkpoint='latest' but .* holds no checkpoint"
    ):
        run(tiny_cfg(reviews_csv, tmp_path / "m", tokenizer_dir, resume_from_checkpoint="latest"))


def test_early_stopping_metric_must_exist(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"early_stopping_metric is 'acc', which validation does not report"):
        run(tiny_cfg(reviews_csv, tmp_path / "m", tokenizer_dir, early_stopping_metric="acc", epochs=1))


def test_length_grouped_batches_are_seeded_and_cover_everything() -> None:
    lengths = [5, 50, 7, 48, 6, 49, 8, 47, 9, 46, 10]
    sampler = LengthGroupedBatchSampler(lengths, 2, seed=1, mega_batches=3)
    first = sampler.batches()
    assert sorted(i for b in first for i in b) == list(range(len(lengths)))
    assert first == LengthGroupedBatchSampler(lengths, 2, seed=1, mega_batches=3).batches()
    assert lengths[first[0][0]] == max(lengths)
    sampler.set_epoch(1)
    assert sampler.batches() != first
    # with every index in one mega-batch, batches are runs of the length-sorted order
    lengths.append(45)
    whole = LengthGroupedBatchSampler(lengths, 2, seed=1, mega_batches=10).batches()
    assert all(max(lengths[i] for i in b) - min(lengths[i] for i in b) <= 2 for b in whole)


def test_optimizer_groups_and_class_weights(tokenizer_dir: Path) -> None:
    from fakereview_nlp.model.modeling import build_random_classifier

    cfg = config_from_dict(
        {"training": {"layerwise_lr_decay": 0.5, "learning_rate": 1e-3, "class_weights": "auto"}}
    )
    model = build_random_classifier("distilbert", TINY_DISTILBERT, vocab_size=100, seed=0)
    optimizer = build_optimizer(model, cfg)
    lrs = sorted({g["lr"] for g in optimizer.param_groups})
    # 2 layers: embeddings 1e-3 * 0.5**3, blocks 0.5**2 and 0.5**1, head 1e-3
    assert lrs == pytest.approx([1.25e-4, 2.5e-4, 5e-4, 1e-3])
    assert all(g["weight_decay"] == 0.0 for g in optimizer.param_groups if g["params"][0].ndim < 2)
    weights = class_weight_tensor(cfg, [0, 0, 0, 1])
    assert weights is not None
    assert weights.tolist() == pytest.approx([4 / 6, 2.0])


def test_accelerate_launch_two_cpu_processes(reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    """`accelerate launch --multi_gpu --num_processes 2` on a GPU-less machine: two processes over gloo."""
    config = tmp_path / "tiny.yaml"
    out = tmp_path / "ddp"
    config.write_text(yaml.safe_dump(tiny_raw(reviews_csv, out, tokenizer_dir, epochs=1)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "29533",
        "-m",
        "training.train",
        str(config),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "world size 2" in proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    # gather_for_metrics dropped the duplicates accelerate adds to even out the last batch
    import pandas as pd

    predictions = pd.read_csv(out / "val_predictions.csv")
    assert len(predictions) == 16 and predictions["id"].is_unique


def test_train_fraction_subsamples_training_rows_only(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    raw = tiny_raw(reviews_csv, tmp_path / "model", tokenizer_dir)
    full_train, full_val = load_splits(config_from_dict(raw))
    raw["data"]["train_fraction"] = 0.5  # type: ignore[index]
    train, val = load_splits(config_from_dict(raw))
    assert len(train) == len(full_train) // 2
    assert set(train["id"]) < set(full_train["id"])
    assert sorted(set(train["label"])) == [0, 1]
    assert val["id"] == full_val["id"]


def test_train_fraction_out_of_range_names_the_key(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    raw = tiny_raw(reviews_csv, tmp_path / "model", tokenizer_dir)
    raw["data"]["train_fraction"] = 0.0  # type: ignore[index]
    with pytest.raises(ValueError, match=r"'data.train_fraction' is 0.0; expected a value in \(0.0, 1.0\]"):
        config_from_dict(raw)


def _complete_models(folder: Path) -> list[Path]:
    """Saved best models under ``folder``, outside the accelerate checkpoints (``step_N/``)."""
    return sorted(
        p.parent
        for p in folder.rglob("model.safetensors")
        if not p.relative_to(folder).parts[0].startswith("step_")
        and not p.parent.name.startswith(".")
        and (p.parent / "config.json").is_file()
        and (p.parent / "val_logits.npz").is_file()
    )


def test_resume_replays_steps_after_the_last_checkpoint(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path
) -> None:
    # 4 steps per epoch, validation at the end of each (steps 4, 8, 12), checkpoints at 3, 6, 9:
    # killed at step 5, the resumed run starts from step 3 and replays steps 4 and 5.
    common = {"checkpoint_every_steps": 3, "epochs": 3}
    full = run(tiny_cfg(reviews_csv, tmp_path / "full", tokenizer_dir, **common))

    def kill_at_5(step: int) -> None:
        if step == 5:
            raise Killed("simulated crash between checkpoints")

    out = tmp_path / "resumed"
    with pytest.raises(Killed):
        run(tiny_cfg(reviews_csv, out, tokenizer_dir, **common), on_step=kill_at_5)
    checkpoints = tmp_path / "resumed.checkpoints"
    assert sorted(p.name for p in checkpoints.glob("step_*")) == ["step_3"]
    # the step-4 validation ran before the kill, so a best model exists that no checkpoint knows
    assert _complete_models(checkpoints)

    resumed = run(tiny_cfg(reviews_csv, out, tokenizer_dir, resume_from_checkpoint="latest", **common))
    assert [h["step"] for h in resumed.history] == [h["step"] for h in full.history]
    for a, b in zip(full.history, resumed.history, strict=True):
        for key in ("eval_loss", "accuracy", "average_precision"):
            assert a[key] == pytest.approx(b[key], abs=1e-6), key
    assert (
        json.loads((out / "metrics.json").read_text())["best_step"]
        == json.loads((tmp_path / "full" / "metrics.json").read_text())["best_step"]
    )
    _assert_same_weights(tmp_path / "full", out)


def test_crash_while_saving_a_new_best_keeps_the_checkpointed_one(
    reviews_csv: Path, tmp_path: Path, tokenizer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import PreTrainedModel

    # select_best off: every validation (steps 4, 8, 12) replaces the best model; checkpoints at
    # 3, 6, 9. The crash comes inside the save at step 8, after the step-6 checkpoint recorded
    # step 4's model as the best.
    common = {"checkpoint_every_steps": 3, "epochs": 3, "select_best": False}
    full = run(tiny_cfg(reviews_csv, tmp_path / "full", tokenizer_dir, **common))
    real_save = PreTrainedModel.save_pretrained
    armed = {"on": False}

    def save(self: PreTrainedModel, *args: object, **kwargs: object) -> None:
        if armed["on"]:
            raise Killed("simulated crash while saving the best model")
        real_save(self, *args, **kwargs)  # type: ignore[arg-type]

    def arm_at_8(step: int) -> None:
        armed["on"] = step == 8  # the step-8 validation (and its save) follows this step

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", save)
    out = tmp_path / "resumed"
    with pytest.raises(Killed, match="while saving"):
        run(tiny_cfg(reviews_csv, out, tokenizer_dir, **common), on_step=arm_at_8)
    monkeypatch.setattr(PreTrainedModel, "save_pretrained", real_save)
    checkpoints = tmp_path / "resumed.checkpoints"
    state = json.loads((checkpoints / "step_6" / "trainer_state.json").read_text())
    assert state["best_step"] == 4
    models = _complete_models(checkpoints)
    assert models, "the crash lost the best model that the last checkpoint refers to"
    resumed = run(tiny_cfg(reviews_csv, out, tokenizer_dir, resume_from_checkpoint="latest", **common))
    assert [h["step"] for h in resumed.history] == [4, 8, 12]
    for a, b in zip(full.history, resumed.history, strict=True):
        assert a["eval_loss"] == pytest.approx(b["eval_loss"], abs=1e-6)
    _assert_same_weights(tmp_path / "full", out)


def _assert_same_weights(a: Path, b: Path) -> None:
    from safetensors.numpy import load_file

    left, right = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert left.keys() == right.keys()
    for key in left:
        np.testing.assert_allclose(left[key], right[key], atol=1e-5, err_msg=key)
