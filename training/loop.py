"""One epoch of training and one pass of validation, with accelerate.

These are small functions on purpose: ``training.train`` strings them together, and the
tests drive them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator

from fakereview_nlp.model.modeling import two_way_logits

logger = logging.getLogger(__name__)


@dataclass
class StepState:
    """Where the run is; saved with every checkpoint so that a resumed run continues exactly."""

    epoch: int = 0
    #: optimizer steps done in total.
    global_step: int = 0
    #: batches consumed in the current epoch (what a resume skips).
    batches_in_epoch: int = 0


def compute_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    class_weights: torch.Tensor | None,
    kind_labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of the genuine/fake labels, or with ``kind_labels`` of the output classes.

    A model with one fake output per kind (``(n, 1 + kinds)`` logits, genuine first) learns each
    kind against genuine from ``kind_labels``; without them (a fine-tune on plain labels) its fake
    outputs are combined first (:func:`~fakereview_nlp.model.modeling.two_way_logits`). The class
    weights are ``[genuine, fake]``; every kind shares the fake weight.
    """
    weight = None if class_weights is None else class_weights.to(device=logits.device, dtype=torch.float32)
    # fp32 loss even under autocast: bf16 log-softmax loses the small differences late in training.
    logits = logits.float()
    n_out = logits.shape[1]
    if kind_labels is not None:
        if weight is not None:
            weight = torch.cat([weight[:1], weight[1:2].expand(n_out - 1)])
        return torch.nn.functional.cross_entropy(logits, kind_labels, weight=weight)
    if n_out > 2:
        logits = two_way_logits(logits, 0, range(1, n_out))
    return torch.nn.functional.cross_entropy(logits, labels, weight=weight)


def train_one_epoch(
    accelerator: Accelerator,
    model: torch.nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: StepState,
    *,
    class_weights: torch.Tensor | None,
    max_grad_norm: float,
    on_optimizer_step: Callable[[StepState, float], bool],
    progress: Any = None,
    adversary: torch.nn.Module | None = None,
) -> bool:
    """Run the batches of one epoch; returns ``False`` when ``on_optimizer_step`` asks to stop.

    ``on_optimizer_step(state, loss)`` runs after every real optimizer step (not every
    micro-batch): logging, validation, checkpoints and early stopping hang off it. With an
    ``adversary`` (training/adversary.py), batches carry ``source_ids`` and its reversed source loss
    is added; the logged loss is the classifier's alone.
    """
    model.train()
    running: list[float] = []
    for batch in batches:
        labels = batch.pop("labels")
        source_ids = batch.pop("source_ids", None)
        kind_labels = batch.pop("kind_labels", None)
        with accelerator.accumulate(model):
            logits = model(**batch).logits
            loss = compute_loss(logits, labels, class_weights, kind_labels)
            total = loss if adversary is None else loss + adversary(source_ids)
            accelerator.backward(total)
            if accelerator.sync_gradients and max_grad_norm > 0:
                accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        state.batches_in_epoch += 1
        running.append(loss.detach().float().item())
        if progress is not None:
            progress.update(1)
        if accelerator.sync_gradients:
            state.global_step += 1
            mean_loss = float(np.mean(running))
            running.clear()
            if not on_optimizer_step(state, mean_loss):
                return False
    return True


@dataclass
class EvalOutput:
    """Validation outputs in dataset order: one row per example, duplicates removed."""

    indices: np.ndarray
    logits: np.ndarray
    labels: np.ndarray
    loss: float


@torch.inference_mode()
def evaluate(
    accelerator: Accelerator,
    model: torch.nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    n_examples: int,
) -> EvalOutput:
    """Logits ``[genuine, fake]`` for every validation example, gathered across processes.

    A model with one fake output per kind has them combined (log-sum-exp) into the fake column.

    ``gather_for_metrics`` drops the samples accelerate duplicates to even out the last
    batch; a duplicated review would shift every flag-rate threshold.
    """
    model.eval()
    all_idx, all_logits, all_labels = [], [], []
    for batch in batches:
        index = batch.pop("index")
        labels = batch.pop("labels")
        logits = model(**batch).logits.float()
        if logits.shape[1] > 2:
            logits = two_way_logits(logits, 0, range(1, logits.shape[1]))
        index, logits, labels = accelerator.gather_for_metrics((index, logits, labels))
        all_idx.append(index.cpu().numpy())
        all_logits.append(logits.cpu().numpy())
        all_labels.append(labels.cpu().numpy())
    indices = np.concatenate(all_idx)
    if len(indices) != n_examples or len(np.unique(indices)) != n_examples:
        raise RuntimeError(
            f"validation gathered {len(indices)} predictions ({len(np.unique(indices))} distinct) for "
            f"{n_examples} examples; the evaluation data loader must not drop or repeat examples"
        )
    order = np.argsort(indices)
    logits_np = np.concatenate(all_logits)[order]
    labels_np = np.concatenate(all_labels)[order]
    loss = float(torch.nn.functional.cross_entropy(torch.from_numpy(logits_np), torch.from_numpy(labels_np)))
    return EvalOutput(indices=indices[order], logits=logits_np, labels=labels_np, loss=loss)
