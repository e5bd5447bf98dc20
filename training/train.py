"""Fine-tune a genuine/fake review classifier from a YAML config.

Usage::

    python -m training.train configs/tiny_debug.yaml [--section.key=value ...]
    accelerate launch -m training.train configs/distilbert_opspam.yaml
    accelerate launch --multi_gpu --num_processes 2 -m training.train configs/tiny_debug.yaml

The shape follows accelerate's ``nlp_example``: :func:`get_dataloaders` (the test seam)
→ :func:`build_model` → :func:`run`, which strings together ``training.loop``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pandas as pd
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup

from fakereview_nlp.cli.handler import run_handler
from fakereview_nlp.data.reviews import (
    grouped_split,
    load_reviews,
    log_split,
    split_by_column,
    stratified_subsample,
)
from fakereview_nlp.files import atomic_path, atomic_write_text
from fakereview_nlp.model.calibration import apply_temperature
from fakereview_nlp.model.modeling import build_random_classifier, load_pretrained_classifier, load_tokenizer
from training.adversary import SourceAdversary
from training.config import ConfigError, SourceFields, TrainConfig, TrainingConfig, load_config
from training.loop import EvalOutput, StepState, evaluate, train_one_epoch
from training.output import (
    BEST_DIR,
    COMPLETE_MARKER,
    best_folder,
    check_output_dir,
    match_umask,
    publish,
    save_best_folder,
    shift_fake_bias,
    staging_dir,
)
from training.sampler import LengthGroupedBatchSampler, length_balanced_indices

logger = logging.getLogger("training")

TRAINER_STATE = "trainer_state.json"


# ----------------------------------------------------------------------------- data


def load_splits(cfg: TrainConfig) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Train and validation sets in the canonical schema, split without leakage.

    With ``data.sources`` every corpus is read and split by its own keys (so each keeps its
    own folds and groups), tagged with a ``domain`` column, its training rows repeated
    ``oversample`` times, and the parts joined; the validation set is the union of the
    sources' held-out rows.
    """
    d = cfg.data
    if not d.sources:
        train, val = _split_source(d, cfg)
    else:
        parts = [_split_source(source, cfg) for source in d.sources]
        columns = [c for c in d.prediction_columns() if c != "domain"]
        trains, vals = [], []
        for source, (tr, va) in zip(d.sources, parts, strict=True):
            tr, va = (_as_domain(p, source.name, columns) for p in (tr, va))
            trains.extend([tr] * source.oversample)
            vals.append(va)
        train, val = datasets.concatenate_datasets(trains), datasets.concatenate_datasets(vals)
        _check_unique_ids(val)
    if d.train_fraction < 1.0:
        train = train.select(stratified_subsample(train["label"], d.train_fraction, seed=cfg.training.seed))
    for name, part in (("train", train), ("validation", val)):
        if len(part) == 0 or len(set(part["label"])) < 2:
            raise ValueError(
                f"the {name} split has {len(part)} rows and labels {sorted(set(part['label']))}; it needs "
                "both classes. Check data.eval_splits / data.eval_fraction"
            )
    log_split("train", train)
    log_split("validation", val)
    if d.sources:
        for source in d.sources:
            n_train = sum(1 for x in train["domain"] if x == source.name)
            n_val = sum(1 for x in val["domain"] if x == source.name)
            logger.info("domain %s: %d train rows (x%d oversampled), %d validation rows",
                        source.name, n_train, source.oversample, n_val)  # fmt: skip
    return train, val


def _split_source(source: SourceFields, cfg: TrainConfig) -> tuple[datasets.Dataset, datasets.Dataset]:
    """One file read and split by its own rules: its split column, else a seeded grouped split."""
    d = cfg.data
    ds = load_source(source, cfg)
    if d.max_rows and d.max_rows < len(ds):
        # A seeded sample, not the first rows: corpus files are often sorted by label.
        ds = ds.shuffle(seed=cfg.training.seed).select(range(d.max_rows)).flatten_indices()
    train, val = _split_once(ds, source, cfg.training.seed, source.eval_splits)
    if d.inner_validation:  # the reported rows stay unused; the training rows are split again
        train, val = _split_once(train, source, cfg.training.seed + 1, source.inner_eval_splits)
    if source.length_balance:
        before = len(train)
        train = train.select(
            length_balanced_indices([len(t) for t in train["text"]], train["label"], seed=cfg.training.seed)
        ).flatten_indices()
        logger.info("%s: length-balanced %d training rows into %d", source.path, before, len(train))
    return train, val


def _split_once(
    ds: datasets.Dataset, source: SourceFields, seed: int, eval_splits: list[str]
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(train, validation) of one source by its own rule: its split column, else a seeded grouped split."""
    if source.split_column:
        train_splits = source.train_splits if eval_splits == source.eval_splits else None
        return split_by_column(ds, eval_splits=eval_splits, train_splits=train_splits)
    return grouped_split(
        ds, eval_fraction=source.eval_fraction, seed=seed, prefix_chars=source.near_duplicate_prefix_chars
    )


def load_source(source: SourceFields, cfg: TrainConfig) -> datasets.Dataset:
    """Every row of one source file that its filters keep, in the canonical schema (no split)."""
    kwargs = source.load_kwargs(cfg.data.bad_rows)
    kwargs["keep_columns"] = list(dict.fromkeys([*kwargs["keep_columns"], *source.filters]))
    return apply_filters(load_reviews(source.path, **kwargs), source.filters, source.path)


def apply_filters(ds: datasets.Dataset, filters: dict[str, list[str]], where: str) -> datasets.Dataset:
    """The rows whose every filter column holds one of its listed values (``data.filters``)."""
    for column, values in filters.items():
        if column not in ds.column_names:
            raise ConfigError(f"filter column {column!r} is not in {where}; columns: {ds.column_names}")
        keep = set(values)
        found = set(map(str, ds[column]))
        if not keep & found:
            raise ConfigError(
                f"filter {column}: {values} keeps no row of {where}; values there: {sorted(found)[:20]}"
            )
        ds = ds.filter(lambda batch, c=column, k=keep: [str(v) in k for v in batch[c]], batched=True)
    return ds


def _as_domain(ds: datasets.Dataset, domain: str, columns: list[str]) -> datasets.Dataset:
    """``ds`` with a ``domain`` column and every source's kept columns (as text; blank where absent)."""
    out = {c: ds[c] for c in ("id", "text", "label", "group", "split")}
    out["domain"] = [domain] * len(ds)
    for column in columns:
        out[column] = [str(v) for v in ds[column]] if column in ds.column_names else [""] * len(ds)
    return datasets.Dataset.from_dict(out)


def _check_unique_ids(val: datasets.Dataset) -> None:
    seen: dict[str, str] = {}
    for row_id, domain in zip(val["id"], val["domain"], strict=True):
        if row_id in seen and seen[row_id] != domain:
            raise ValueError(
                f"id {row_id!r} appears in the validation rows of both {seen[row_id]!r} and {domain!r}; "
                "ids must be unique across data.sources (give one source another id_column)"
            )
        seen[row_id] = domain


def tokenize(ds: datasets.Dataset, tokenizer: Any, max_length: int, *, with_index: bool) -> datasets.Dataset:
    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        out = tokenizer(batch["text"], truncation=True, max_length=max_length)
        out["length"] = [len(ids) for ids in out["input_ids"]]
        return out

    keep = ("label", SOURCE_IDS, KIND_LABELS)
    encoded = ds.map(encode, batched=True, remove_columns=[c for c in ds.column_names if c not in keep])
    if with_index:
        encoded = encoded.add_column("index", list(range(len(encoded))))
    return encoded


#: the training column of source indices that a source adversary learns from.
SOURCE_IDS = "source_ids"


def source_names(ds: datasets.Dataset) -> list[str]:
    """The sorted sources of the training rows (their ``domain`` column) that a source adversary tells apart."""
    if "domain" not in ds.column_names:
        raise ConfigError(
            "training.source_adversary needs data.sources (at least two); this config has one data.path: "
            "set training.source_adversary=0"
        )
    names = sorted(set(ds["domain"]))
    if len(names) < 2:
        raise ConfigError(
            f"training.source_adversary needs at least two sources to train on, got {names}: "
            "set training.source_adversary=0"
        )
    return names


def with_source_ids(ds: datasets.Dataset) -> datasets.Dataset:
    """``ds`` with each row's source as an index into :func:`source_names`."""
    index = {name: i for i, name in enumerate(source_names(ds))}
    return ds.add_column(SOURCE_IDS, [index[d] for d in ds["domain"]])


#: the training column of each row's output class when the model has one fake output per source.
KIND_LABELS = "kind_labels"


def fake_kinds(cfg: TrainConfig, train_ds: datasets.Dataset) -> list[str]:
    """The kinds of fake the model gets an output for: [] (one fake output) or the training rows' sources."""
    if cfg.model.fake_kinds == "one":
        return []
    if "domain" not in train_ds.column_names:
        raise ConfigError(
            "model.fake_kinds=per_source needs data.sources; this config has one data.path: set model.fake_kinds=one"
        )
    present = set(train_ds["domain"])
    # config order, so a source's output column does not move when another is left out
    return [s.name for s in cfg.data.sources if s.name in present]


def with_kind_labels(ds: datasets.Dataset, kinds: list[str]) -> datasets.Dataset:
    """``ds`` with each row's output class: 0 genuine, 1 + i a fake of ``kinds[i]``."""
    index = {name: i + 1 for i, name in enumerate(kinds)}
    classes = [index[d] if y == 1 else 0 for d, y in zip(ds["domain"], ds["label"], strict=True)]
    return ds.add_column(KIND_LABELS, classes)


def get_dataloaders(
    accelerator: Accelerator,
    cfg: TrainConfig,
    tokenizer: Any,
    train_ds: datasets.Dataset,
    val_ds: datasets.Dataset,
) -> tuple[DataLoader, DataLoader, LengthGroupedBatchSampler]:
    """Tokenised, dynamically padded loaders; training batches grouped by length.

    Padding to a multiple of 8 keeps tensor-core and AMX tiles full under mixed precision.
    """
    if cfg.training.source_adversary > 0:
        train_ds = with_source_ids(train_ds)
    kinds = fake_kinds(cfg, train_ds)
    if kinds:
        train_ds = with_kind_labels(train_ds, kinds)
    with accelerator.main_process_first():
        train_tok = tokenize(train_ds, tokenizer, cfg.model.max_length, with_index=False)
        val_tok = tokenize(val_ds, tokenizer, cfg.model.max_length, with_index=True)
    sampler = LengthGroupedBatchSampler(
        train_tok["length"],
        cfg.training.batch_size,
        cfg.training.seed,
        group_by_length=cfg.training.group_by_length,
    )
    # Longest first: validation pads little and memory peaks at once.
    val_tok = val_tok.select(np.argsort([-n for n in val_tok["length"]], kind="stable"))
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    train_tok = train_tok.remove_columns("length")
    val_tok = val_tok.remove_columns("length")
    # Own generators: creating a loader's iterator draws a seed from the global RNG otherwise,
    # and a resumed run (which creates one more iterator) would get different dropout masks.
    train_dl = DataLoader(
        train_tok,
        batch_sampler=sampler,
        collate_fn=collator,
        generator=torch.Generator().manual_seed(cfg.training.seed),
    )
    val_dl = DataLoader(
        val_tok,
        batch_size=cfg.training.eval_batch_size,
        shuffle=False,
        collate_fn=collator,
        generator=torch.Generator().manual_seed(cfg.training.seed),
    )
    return train_dl, val_dl, sampler


# ----------------------------------------------------------------------------- model


def build_model(cfg: TrainConfig, tokenizer: Any, kinds: list[str] | None = None) -> torch.nn.Module:
    """The classifier to fine-tune: one fake output, or one per entry of ``kinds`` (see :func:`fake_kinds`)."""
    m = cfg.model
    if m.init == "random":
        return build_random_classifier(
            m.model_type, m.random_config, vocab_size=len(tokenizer), seed=cfg.training.seed, kinds=kinds or ()
        )
    return load_pretrained_classifier(m.name_or_path, kinds=kinds or ())


def _layer_id(name: str, n_layers: int) -> int:
    """0 for embeddings, i+1 for transformer block i, n_layers+1 for the classification head."""
    if "embeddings" in name:
        return 0
    match = re.search(r"\.(?:layer|layers)\.(\d+)\.", name)
    return int(match.group(1)) + 1 if match else n_layers + 1


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and LayerNorm; optional layer-wise learning-rate decay."""
    t = cfg.training
    config = model.config
    n_layers = int(getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", 0))
    groups: dict[tuple[int, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
        groups.setdefault((_layer_id(name, n_layers), no_decay), []).append(param)
    param_groups = [
        {
            "params": params,
            "weight_decay": 0.0 if no_decay else t.weight_decay,
            "lr": t.learning_rate * t.layerwise_lr_decay ** (n_layers + 1 - layer),
        }
        for (layer, no_decay), params in sorted(groups.items())
    ]
    # fused: one kernel over all parameters. The default per-tensor path measured 6 s per step for
    # MiniLM's 22M parameters on 2 CPU cores, against 0.3 s fused.
    return torch.optim.AdamW(param_groups, lr=t.learning_rate, fused=True)


def class_weight_tensor(cfg: TrainConfig, labels: list[int]) -> torch.Tensor | None:
    weights = cfg.training.class_weights
    if weights == "none":
        return None
    if weights == "auto":
        counts = np.bincount(np.asarray(labels), minlength=2).astype(np.float64)
        return torch.tensor(len(labels) / (2.0 * counts), dtype=torch.float32)
    return torch.tensor(weights, dtype=torch.float32)


# ----------------------------------------------------------------------------- metrics


def validation_metrics(labels: np.ndarray, scores: np.ndarray, process_index: int = 0) -> dict[str, float]:
    """The package's evaluate metric module (loaded from a local path; the Hub is not needed).

    Every process computes on the full gathered set; a per-process experiment id keeps their
    evaluate cache files apart.
    """
    from fakereview_nlp.evaluation.hf_metric import load_metric

    metric = load_metric(experiment_id=f"fakereview-rank{process_index}")
    result = metric.compute(predictions=scores.tolist(), references=labels.tolist())
    return {k: float(v) for k, v in result.items()}


# ----------------------------------------------------------------------------- run


@dataclass
class RunState:
    """Everything besides the accelerate state that a resumed run must get back."""

    step: StepState = field(default_factory=StepState)
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float | None = None
    best_step: int = -1
    bad_evals: int = 0
    last_eval_step: int = -1
    stop: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunState:
        raw = json.loads(text)
        return cls(step=StepState(**raw.pop("step")), **raw)


@dataclass
class TrainResult:
    output_dir: Path
    best_metrics: dict[str, float]
    history: list[dict[str, float]]
    val_predictions: pd.DataFrame
    world_size: int
    wall_seconds: float


def find_checkpoint(work: Path, resume: str) -> Path:
    if resume != "latest":
        path = Path(resume)
        if not (path / TRAINER_STATE).is_file():
            raise FileNotFoundError(
                f"resume_from_checkpoint={resume!r} is not a checkpoint folder (no {TRAINER_STATE})"
            )
        return path
    found = sorted(work.glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    found = [p for p in found if (p / TRAINER_STATE).is_file()]
    if not found:
        raise FileNotFoundError(
            f"resume_from_checkpoint='latest' but {work} holds no checkpoint; drop the option to start afresh"
        )
    return found[-1]


def run(cfg: TrainConfig, *, on_step: Callable[[int], None] | None = None) -> TrainResult:
    """Train, validate, early-stop, calibrate and write the output directory.

    ``on_step(global_step)`` is a test seam called after each optimizer step (after any
    checkpoint of that step); raising from it simulates a killed run.
    """
    started = time.perf_counter()
    final = Path(cfg.output.dir)
    work = Path(cfg.output.checkpoint_dir or f"{final}.checkpoints")
    accelerator = start_accelerator(cfg, work)
    tokenizer = load_tokenizer(cfg.model.tokenizer or cfg.model.name_or_path)
    train_ds, val_ds = load_splits(cfg)
    parts = prepare_training(accelerator, cfg, tokenizer, train_ds, val_ds)
    if cfg.training.tracker != "none":
        accelerator.init_trackers("fakereview", config=_flat(cfg.to_dict()))
    state = resume_state(accelerator, work, cfg.training.resume_from_checkpoint)
    session = TrainingSession(accelerator, cfg, parts, state, work, on_step)
    session.train()
    accelerator.wait_for_everyone()
    result = _write_output(accelerator, cfg, state, train_ds, val_ds, tokenizer, final, work, started)
    accelerator.end_training()
    return result


def start_accelerator(cfg: TrainConfig, work: Path) -> Accelerator:
    """The run's Accelerator, with logging, threads and seed set, after the output directory is checked."""
    t = cfg.training
    accelerator = Accelerator(
        cpu=_cpu_processes_launched(),
        mixed_precision=t.mixed_precision,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        log_with=None if t.tracker == "none" else t.tracker,
        project_dir=str(work / "logs"),
    )
    _setup_logging(accelerator)
    check_output_dir(Path(cfg.output.dir), overwrite=cfg.output.overwrite)
    torch.set_num_threads(t.num_threads or default_num_threads())
    set_seed(t.seed)
    logger.info(
        "world size %d (%s), device %s, mixed precision %s",
        accelerator.num_processes,
        accelerator.distributed_type,
        accelerator.device,
        accelerator.mixed_precision,
    )
    return accelerator


@dataclass
class TrainingParts:
    """The prepared objects of one run (after ``accelerator.prepare``)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_dl: DataLoader
    val_dl: DataLoader
    sampler: LengthGroupedBatchSampler
    class_weights: torch.Tensor | None
    n_val: int
    #: the source-adversarial head (``training.source_adversary`` > 0), else None.
    adversary: torch.nn.Module | None = None


def prepare_training(
    accelerator: Accelerator,
    cfg: TrainConfig,
    tokenizer: Any,
    train_ds: datasets.Dataset,
    val_ds: datasets.Dataset,
) -> TrainingParts:
    """Model, loaders, optimizer and linear-warmup schedule, prepared by accelerate."""
    t = cfg.training
    model = build_model(cfg, tokenizer, fake_kinds(cfg, train_ds))
    train_dl, val_dl, sampler = get_dataloaders(accelerator, cfg, tokenizer, train_ds, val_ds)
    optimizer = build_optimizer(model, cfg)
    adversary = None
    if t.source_adversary > 0:
        n_sources = len(source_names(train_ds))
        adversary = SourceAdversary.for_model(model, n_sources, t.source_adversary)
        optimizer.add_param_group({"params": list(adversary.parameters()), "weight_decay": 0.0})
        logger.info("source adversary over %d sources, weight %g", n_sources, t.source_adversary)
    steps_per_epoch = math.ceil(len(train_dl) / t.gradient_accumulation_steps)
    total_steps = steps_per_epoch * t.epochs
    if t.max_steps:
        total_steps = min(total_steps, t.max_steps * accelerator.num_processes)
    # Counted before prepare(): accelerate's scheduler steps once per process each step.
    scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total_steps), total_steps)
    weights = class_weight_tensor(cfg, train_ds["label"])
    model, optimizer, train_dl, val_dl, scheduler = accelerator.prepare(
        model, optimizer, train_dl, val_dl, scheduler
    )
    if adversary is not None:
        adversary = accelerator.prepare(adversary)
    # Recomputed after prepare(): sharding over processes shortens each process's epoch.
    steps_per_epoch = math.ceil(len(train_dl) / t.gradient_accumulation_steps)
    logger.info(
        "%d train / %d validation reviews; total train batch size (w. parallel, distributed & accumulation) %d; "
        "%d optimizer steps per epoch",
        len(train_ds),
        len(val_ds),
        t.batch_size * accelerator.num_processes * t.gradient_accumulation_steps,
        steps_per_epoch,
    )
    return TrainingParts(model, optimizer, scheduler, train_dl, val_dl, sampler, weights, len(val_ds), adversary)


def resume_state(accelerator: Accelerator, work: Path, resume: str | None) -> RunState:
    """A fresh :class:`RunState`, or, with ``resume``, the checkpoint's (accelerate state loaded too)."""
    if not resume:
        return RunState()
    checkpoint = find_checkpoint(work, resume)
    accelerator.load_state(str(checkpoint))
    state = RunState.from_json((checkpoint / TRAINER_STATE).read_text())
    logger.info("resumed from %s at step %d", checkpoint, state.step.global_step)
    return state


def record_validation(state: RunState, metrics: dict[str, float], t: TrainingConfig) -> bool:
    """Append ``metrics`` to the history, log them and apply early stopping; True when this model becomes the best.

    "Best" is the model kept as the output: the best so far by ``t.early_stopping_metric``, or,
    with ``select_best`` off, simply the latest.
    """
    state.history.append(metrics)
    state.last_eval_step = state.step.global_step
    key = t.early_stopping_metric
    if key not in metrics:
        raise ConfigError(
            f"training.early_stopping_metric is {key!r}, which validation does not report; "
            f"choose one of {sorted(metrics)}"
        )
    value = metrics[key]
    better = state.best_value is None or (
        value > state.best_value if t.early_stopping_mode == "max" else value < state.best_value
    )
    logger.info(
        "validation at step %d: %s",
        state.step.global_step,
        ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k not in ("epoch", "step")),
    )
    if better:
        state.best_value, state.bad_evals = value, 0
    else:
        state.bad_evals += 1
        if t.early_stopping_patience and state.bad_evals >= t.early_stopping_patience:
            logger.info("early stopping: %s did not improve for %d validations", key, state.bad_evals)
            state.stop = True
    if better or not t.select_best:
        state.best_step = state.step.global_step
        return True
    return False


class TrainingSession:
    """The epoch loop of one run, with what happens after each optimizer step and at each validation."""

    def __init__(
        self,
        accelerator: Accelerator,
        cfg: TrainConfig,
        parts: TrainingParts,
        state: RunState,
        work: Path,
        on_step: Callable[[int], None] | None,
    ) -> None:
        self.accelerator = accelerator
        self.cfg = cfg
        self.parts = parts
        self.state = state
        self.work = work
        self.on_step = on_step
        self.tracking = cfg.training.tracker != "none"

    def train(self) -> None:
        """Epochs until done, stopped early, or ``max_steps``; then a last validation if the last step had none."""
        t, state, parts = self.cfg.training, self.state, self.parts
        train_dl = parts.train_dl
        progress = tqdm(
            total=len(train_dl) * t.epochs,
            initial=state.step.epoch * len(train_dl) + state.step.batches_in_epoch,
            disable=not self.accelerator.is_local_main_process,
            desc="train",
            mininterval=2.0,
        )
        while state.step.epoch < t.epochs and not state.stop:
            batches = train_dl
            if state.step.batches_in_epoch:
                batches = self.accelerator.skip_first_batches(train_dl, state.step.batches_in_epoch)
            # Through the loader, not only the sampler: accelerate's loaders re-set their sampler's
            # epoch from their own iteration count, which a resumed run's fresh loader starts at 0.
            parts.sampler.set_epoch(state.step.epoch)
            if hasattr(batches, "set_epoch"):
                batches.set_epoch(state.step.epoch)
            finished = train_one_epoch(
                self.accelerator,
                parts.model,
                batches,
                parts.optimizer,
                parts.scheduler,
                state.step,
                class_weights=parts.class_weights,
                max_grad_norm=t.max_grad_norm,
                on_optimizer_step=self.after_step,
                progress=progress,
                adversary=parts.adversary,
            )
            if finished:
                if not t.eval_every_steps:
                    self.validate()
                state.step.epoch += 1
                state.step.batches_in_epoch = 0
        progress.close()
        if state.last_eval_step != state.step.global_step:
            self.validate()

    def validate(self) -> None:
        """Score the validation set, log it, apply early stopping, and save the model if it is the best."""
        accelerator, state = self.accelerator, self.state
        out = evaluate(accelerator, self.parts.model, self.parts.val_dl, self.parts.n_val)
        scores = apply_temperature(out.logits, 1.0)
        metrics = {"epoch": state.step.epoch, "step": state.step.global_step, "eval_loss": out.loss}
        metrics.update(validation_metrics(out.labels, scores, accelerator.process_index))
        is_best = record_validation(state, metrics, self.cfg.training)
        if self.tracking:
            accelerator.log({f"eval/{k}": v for k, v in metrics.items()}, step=state.step.global_step)
        if is_best:
            _save_best(accelerator, self.parts.model, out, self.work, state.best_step)

    def after_step(self, step: StepState, loss: float) -> bool:
        """Log, validate, checkpoint as configured; False once the run should stop."""
        t, state = self.cfg.training, self.state
        if step.global_step % t.log_every_steps == 0:
            lr = self.parts.scheduler.get_last_lr()[-1]
            logger.info("step %d  loss %.4f  lr %.2e", step.global_step, loss, lr)
            if self.tracking:
                self.accelerator.log({"train/loss": loss, "train/lr": lr}, step=step.global_step)
        if t.eval_every_steps and step.global_step % t.eval_every_steps == 0:
            self.validate()
        if t.checkpoint_every_steps and step.global_step % t.checkpoint_every_steps == 0:
            _save_checkpoint(self.accelerator, self.work, state)
        if self.on_step is not None:
            self.on_step(step.global_step)
        if t.max_steps and step.global_step >= t.max_steps:
            state.stop = True
        return not state.stop


def default_num_threads() -> int:
    """torch threads for one training process: the CPUs it may use, shared by this machine's processes.

    :func:`fakereview_nlp.runtime.devices.available_cpus` honours the affinity mask and a cgroup quota;
    ``LOCAL_WORLD_SIZE`` (set by ``accelerate launch`` / ``torchrun``) splits them so that two
    processes on a 2-CPU box do not each start 2 threads.
    """
    from fakereview_nlp.runtime.devices import available_cpus

    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE") or 1))
    return max(1, available_cpus() // local)


def _cpu_processes_launched() -> bool:
    """True when a launcher started several processes on a machine without a GPU.

    ``accelerate launch --multi_gpu`` sets WORLD_SIZE and LOCAL_RANK, but accelerate only forms a
    CPU process group (gloo) when asked for the CPU; without this each process would train alone
    and all of them would write the output.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world > 1 and not torch.cuda.is_available()


def _save_best(
    accelerator: Accelerator, model: torch.nn.Module, out: EvalOutput, work: Path, step: int
) -> None:
    """The model validated at ``step`` as the run's best, in ``work/best/step_<step>``.

    Written aside and renamed into place (:func:`training.output.save_best_folder`): the best
    model a checkpoint refers to survives a crash at any point, so a resumed run finds it.
    """
    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(model)
    if accelerator.is_main_process:

        def write(folder: Path) -> None:
            accelerator.unwrap_model(model).save_pretrained(
                folder, state_dict=state_dict, safe_serialization=True
            )
            with atomic_path(folder / "val_logits.npz") as tmp, tmp.open("wb") as handle:
                np.savez(handle, logits=out.logits, labels=out.labels)

        save_best_folder(work, step, write)
    accelerator.wait_for_everyone()


def _save_checkpoint(accelerator: Accelerator, work: Path, state: RunState) -> None:
    folder = work / f"step_{state.step.global_step}"
    accelerator.save_state(str(folder))
    if accelerator.is_main_process:
        # Written last: a checkpoint without it is incomplete and 'latest' skips it.
        atomic_write_text(folder / TRAINER_STATE, state.to_json())
    accelerator.wait_for_everyone()


@dataclass
class ValidationScores:
    """The best model's validation predictions, calibrated: what the output directory is written from."""

    labels: np.ndarray
    raw_scores: np.ndarray  # P(fake) before calibration
    scores: np.ndarray  # calibrated P(fake)
    shift: float  # added to the fake logit (calibration.calibrate_shift)
    temperature: float
    predictions: pd.DataFrame  # val_predictions.csv
    operating_scores: np.ndarray  # what the operating points are set on (with TF-IDF: the combination)
    tfidf_model: Any | None = None


def score_validation(
    cfg: TrainConfig, best_dir: Path, train_ds: datasets.Dataset, val_ds: datasets.Dataset
) -> ValidationScores:
    """The calibrated validation predictions of the model saved in ``best_dir`` (and, with
    ``model.combine_tfidf``, the fitted TF-IDF part and the combined scores)."""
    from fakereview_nlp.model.calibration import fit_calibration

    saved = np.load(best_dir / "val_logits.npz")
    logits, labels = saved["logits"], saved["labels"]
    raw_scores = apply_temperature(logits, 1.0)
    shift, temperature = 0.0, 1.0
    if cfg.evaluation.calibrate:
        shift, temperature = fit_calibration(logits, labels, shift=cfg.evaluation.calibrate_shift)
    logits = logits + np.array([0.0, shift])
    scores = apply_temperature(logits, temperature)
    predictions = prediction_frame(val_ds, labels, logits, scores, raw_scores, cfg.data.prediction_columns())
    out = ValidationScores(labels, raw_scores, scores, shift, temperature, predictions, scores)
    if cfg.model.combine_tfidf:
        # Every process fits it (seconds of CPU) so that all ranks return the same predictions.
        from training.tfidf_part import combine_predictions, fit_tfidf_part

        out.tfidf_model, tfidf = fit_tfidf_part(
            train_ds["text"],
            train_ds["label"],
            val_ds["text"],
            min_df=cfg.model.tfidf_min_df,
            max_features=cfg.model.tfidf_max_features,
        )
        out.predictions = combine_predictions(predictions, tfidf)
        out.operating_scores = out.predictions["fake_score"].to_numpy()
    return out


def prediction_frame(
    val_ds: datasets.Dataset,
    labels: np.ndarray,
    logits: np.ndarray,
    scores: np.ndarray,
    raw_scores: np.ndarray,
    extra_columns: list[str],
) -> pd.DataFrame:
    """``val_predictions.csv``: one row per validation review, in dataset order."""
    return pd.DataFrame(
        {
            "id": val_ds["id"],
            "label": labels,
            "fake_score": scores,
            "fake_score_uncalibrated": raw_scores,
            "logit_genuine": logits[:, 0],
            "logit_fake": logits[:, 1],
            "group": val_ds["group"],
            "split": val_ds["split"],
            **{c: val_ds[c] for c in extra_columns},
        }
    )


def run_summary(
    state: RunState, scores: ValidationScores, *, world_size: int, wall_seconds: float
) -> dict[str, Any]:
    """``metrics.json``: the best validation, the whole history and the calibration found."""
    summary: dict[str, Any] = {
        "best_step": state.best_step,
        "best": best_validation(state),
        "history": state.history,
        "world_size": world_size,
        "train_wall_seconds": wall_seconds,
        "temperature": scores.temperature,
        "fake_logit_shift": scores.shift,
    }
    if scores.tfidf_model is not None:
        from training.tfidf_part import combined_metrics

        summary["combined_validation"] = combined_metrics(scores.labels, scores.predictions)
    return summary


def best_validation(state: RunState) -> dict[str, float]:
    """The history entry of the step whose model is the output."""
    return next(h for h in state.history if h["step"] == state.best_step)


def write_model_folder(
    folder: Path,
    best_dir: Path,
    tokenizer: Any,
    cfg: TrainConfig,
    scores: ValidationScores,
    summary: dict[str, Any],
    train_texts: list[str],
) -> None:
    """Fill ``folder`` (a fresh staging folder) with the complete model directory.

    The best model's weights (its fake bias shifted by the calibration), the tokenizer, the
    calibration, the operating points, the TF-IDF part if any, ``val_predictions.csv``,
    ``model_info.json`` and ``metrics.json``; the resolved config goes last.
    """
    from fakereview_nlp.metrics import expected_calibration_error
    from fakereview_nlp.model.calibration import save_calibration
    from fakereview_nlp.model.operating_points import compute_operating_points, save_operating_points

    shutil.copytree(best_dir, folder)
    (folder / "val_logits.npz").unlink()
    if scores.shift:
        shift_fake_bias(folder, scores.shift)
    tokenizer.model_max_length = cfg.model.max_length
    tokenizer.save_pretrained(folder)
    save_calibration(
        folder,
        scores.temperature,
        ece_before=expected_calibration_error(scores.labels, scores.raw_scores),
        ece_after=expected_calibration_error(scores.labels, scores.scores),
    )
    points = compute_operating_points(
        scores.labels,
        scores.operating_scores,
        flag_rates=cfg.evaluation.flag_rates,
        prevalence=cfg.evaluation.prevalence,
        operating_flag_rate=cfg.evaluation.operating_flag_rate,
    )
    save_operating_points(folder, points)
    if scores.tfidf_model is not None:
        scores.tfidf_model.save(folder)
    with atomic_path(folder / "val_predictions.csv") as tmp:
        scores.predictions.to_csv(tmp, index=False)
    _write_model_info(folder, train_texts, seed=cfg.training.seed)
    atomic_write_text(folder / "metrics.json", json.dumps(summary, indent=2))
    # The resolved config goes last: its presence marks the directory complete.
    atomic_write_text(folder / COMPLETE_MARKER, cfg.to_yaml())


def _write_output(
    accelerator: Accelerator,
    cfg: TrainConfig,
    state: RunState,
    train_ds: datasets.Dataset,
    val_ds: datasets.Dataset,
    tokenizer: Any,
    final: Path,
    work: Path,
    started: float,
) -> TrainResult:
    """Score, calibrate, and (on the main process) write and publish the output directory."""
    best_dir = best_folder(work, state.best_step)
    scores = score_validation(cfg, best_dir, train_ds, val_ds)
    best = best_validation(state)
    wall = time.perf_counter() - started
    if accelerator.is_main_process:
        summary = run_summary(state, scores, world_size=accelerator.num_processes, wall_seconds=wall)
        staging = staging_dir(final)
        if staging.exists():
            shutil.rmtree(staging)
        write_model_folder(staging, best_dir, tokenizer, cfg, scores, summary, train_ds["text"])
        if "combined_validation" in summary:
            logger.info("with the TF-IDF part: %s", summary["combined_validation"])
        match_umask(staging)
        publish(staging, final, overwrite=cfg.output.overwrite)
        _remove_scratch(work)
        logger.info(
            "wrote %s (model of step %d: %s=%.4f) in %.0f s",
            final,
            state.best_step,
            cfg.training.early_stopping_metric,
            best[cfg.training.early_stopping_metric],
            wall,
        )
    accelerator.wait_for_everyone()
    return TrainResult(final, best, state.history, scores.predictions, accelerator.num_processes, wall)


def _remove_scratch(work: Path) -> None:
    """Drop the best-model scratch copies, and ``work`` itself unless it holds checkpoints or tracker logs."""
    shutil.rmtree(work / BEST_DIR, ignore_errors=True)
    if work.is_dir() and not any(work.iterdir()):
        work.rmdir()


def _write_model_info(folder: Path, texts: list[str], *, seed: int) -> None:
    """``model_info.json`` with the languages the model was trained on, so inference knows what it reads.

    Identified on a seeded sample of the training texts (:func:`fakereview_nlp.language.training_languages`:
    up to 2,000 texts, languages with at least 2 % of them). Text in any other language is out of
    the model's scope at inference. ``python -m training.package`` keeps these and adds the version.
    """
    from fakereview_nlp.language import training_languages
    from fakereview_nlp.model.folder import MODEL_INFO_FILE

    languages = training_languages(texts, seed=seed)
    if not languages:  # nothing identifiable (too short): leave them unrecorded rather than record none
        logger.warning("no language could be identified in the training texts; model_info.json records none")
        return
    logger.info(
        "training texts are in %s; other languages will be out of the model's scope", ", ".join(languages)
    )
    atomic_write_text(folder / MODEL_INFO_FILE, json.dumps({"languages": languages}, indent=2) + "\n")


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


def _setup_logging(accelerator: Accelerator) -> None:
    level = logging.INFO if accelerator.is_main_process else logging.WARNING
    logging.basicConfig(
        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=level, force=True
    )
    if accelerator.is_main_process:
        datasets.utils.logging.set_verbosity_warning()
    else:
        datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()


USAGE = """usage: python -m training.train CONFIG [--section.key=value ...] [-v]

Fine-tunes a genuine/fake review classifier. CONFIG is a YAML file (see configs/);
each --section.key=value overrides one key, e.g. --training.epochs=3 --data.eval_splits=[5].
Sections: data, model, training, evaluation, output (keys: see training/config.py).
A user error (config, data path, labels) is one line `train: error: ...` and exit code 2;
-v prints its traceback too.
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in args)
    args = [a for a in args if a not in ("-v", "--verbose")]
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2

    def train(_: argparse.Namespace) -> int:
        run(load_config(args[0], args[1:]))
        return 0

    return run_handler(train, argparse.Namespace(), verbose=verbose, prog="train")


if __name__ == "__main__":
    raise SystemExit(main())
