"""Scores under autocast half precision vs half-precision *weights*, against float32 (for devices.py).

    python benchmarks/half_precision_weights.py MODEL_DIR ../shared/data/op_spam/op_spam.csv --n 400

Prints, for ``dtype=bfloat16`` (autocast, weights float32: what the package does) and for the
weights cast with ``model.to(bfloat16)``, the largest and mean change of P(fake) against float32
and how many labels flip at 0.5 and at the model's operating threshold. ``--dtype float16`` on a
GPU compares fp16 the same way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fakereview_nlp.data.tables import read_table
from fakereview_nlp.inference import FakeReviewClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a trained model directory")
    parser.add_argument("data", help="CSV with a text column")
    parser.add_argument("--n", type=int, default=400, help="reviews sampled (seed 0)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    args = parser.parse_args()
    frame = read_table(args.data)
    texts = frame["text"].sample(min(args.n, len(frame)), random_state=0).tolist()
    points = Path(args.model) / "operating_points.json"
    threshold = json.loads(points.read_text())["threshold"] if points.is_file() else 0.5
    scores = {}
    for name, dtype, cast in [
        ("float32", "float32", False),
        ("autocast", args.dtype, False),
        ("weights", "float32", True),
    ]:
        clf = FakeReviewClassifier.from_pretrained(args.model, device=args.device, dtype=dtype)
        if cast:
            clf.model = clf.model.to(getattr(torch, args.dtype))
        started = time.perf_counter()
        scores[name] = clf.predict_proba(texts)
        print(f"{name:9s} {time.perf_counter() - started:7.1f} s for {len(texts)} reviews on {args.device}")
    ref = scores["float32"]
    for name in ("autocast", "weights"):
        change = np.abs(scores[name] - ref)
        flips = int(((scores[name] >= 0.5) != (ref >= 0.5)).sum())
        flagged = int(((scores[name] >= threshold) != (ref >= threshold)).sum())
        print(
            f"{args.dtype} {name:8s}: max |dP| {change.max():.4f}, mean {change.mean():.4f}; "
            f"labels flipped at 0.5: {flips}, flags flipped at the threshold {threshold:.3f}: {flagged}"
        )


if __name__ == "__main__":
    main()
