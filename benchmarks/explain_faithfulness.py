"""Are the explanations true? Comprehensiveness and sufficiency of explain() against random spans.

On held-out reviews the model flags (``fake_score >= threshold``), for each explanation setting:

* **top-1 drop**: ``score(review) - score(review without the top span)`` (the top span's delta),
  against the same for a random span of as many words (``--n-random`` draws per review);
* **comprehensiveness**: the drop when all top-k spans are removed, against k random
  non-overlapping spans of the same word counts;
* **sufficiency**: the score of the top-k spans alone (joined by spaces), against the random spans alone;
* **time per review** of ``explain_texts`` (wall clock; the CPU and the load average are printed).

Only aggregated numbers are printed (no review text), so the output can go into the README.

    python benchmarks/explain_faithfulness.py --model runs/single_opspam \\
        --data ../shared/data/op_spam/op_spam.csv --label-map truthful=genuine,deceptive=fake \\
        --split-column fold --split 5
    python benchmarks/explain_faithfulness.py --model runs/single_cg \\
        --data ../shared/data/fake_reviews_cg/fake_reviews_cg.csv --label-map OR=genuine,CG=fake \\
        --ids-from runs/single_cg/val_predictions.csv --max-reviews 60
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from fakereview_nlp.explanations.occlusion import explain_texts, word_spans  # noqa: E402
from fakereview_nlp.inference import FakeReviewClassifier  # noqa: E402

#: name -> explain_texts keyword arguments (the first is the package default).
SETTINGS: dict[str, dict[str, Any]] = {
    "phrase4": {"unit": "phrase", "window_words": 4, "refine": 2},
    "phrase4_fast": {"unit": "phrase", "window_words": 4, "window_stride": 4, "refine": 1},
    "phrase2": {"unit": "phrase", "window_words": 2, "refine": 2},
    "phrase8": {"unit": "phrase", "window_words": 8, "refine": 2},
    "sentence": {"unit": "sentence"},
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f", {os.cpu_count()} cores"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def remove(text: str, spans: list[tuple[int, int]]) -> str:
    for a, b in sorted(spans, reverse=True):
        text = text[:a] + text[b:]
    return text


def only(text: str, spans: list[tuple[int, int]]) -> str:
    return " ".join(text[a:b] for a, b in sorted(spans))


def random_spans(
    words: list[tuple[int, int]], sizes: list[int], rng: random.Random
) -> list[tuple[int, int]] | None:
    """Non-overlapping word-aligned spans with the given word counts, at random places (None if they cannot fit)."""
    for _ in range(100):
        taken: list[tuple[int, int]] = []
        used: set[int] = set()
        for size in sizes:
            starts = [i for i in range(len(words) - size + 1) if not used & set(range(i, i + size))]
            if not starts:
                break
            i = rng.choice(starts)
            used |= set(range(i, i + size))
            taken.append((words[i][0], words[i + size - 1][1]))
        else:
            return taken
    return None


def n_words(text: str, span: tuple[int, int]) -> int:
    return len(text[span[0] : span[1]].split())


def evaluate_setting(
    clf: FakeReviewClassifier, texts: list[str], kwargs: dict[str, Any], top_k: int, n_random: int, seed: int
) -> dict[str, Any]:
    served = clf.predict_proba
    passes = [0]

    def counting(variants: list[str], *args: Any, **kw: Any) -> np.ndarray:
        passes[0] += len(variants)
        return served(variants, *args, **kw)

    clf.predict_proba = counting  # type: ignore[method-assign]  # count forward passes (one per variant)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        results = explain_texts(clf, texts, top_k, **kwargs)
    finally:
        del clf.predict_proba
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    rng = random.Random(seed)
    variants: list[str] = []
    plan: list[tuple[int, int, int, int, int, int]] = []  # per review: slices into `variants`
    for text, res in zip(texts, results, strict=True):
        top = [(s.start, s.end) for s in res.spans]
        words = word_spans(text)
        first = len(variants)
        variants += [remove(text, top), only(text, top)]
        r1, rk = [], []
        for _ in range(n_random):
            one = random_spans(words, [n_words(text, top[0])], rng)
            many = random_spans(words, [n_words(text, s) for s in top], rng)
            if one is not None:
                r1.append(remove(text, one))
            if many is not None:
                rk += [remove(text, many), only(text, many)]
        variants += r1 + rk
        plan.append((first, len(r1), len(rk) // 2, 0, 0, 0))
    scores = clf.predict_proba(variants)
    rows = []
    for res, (first, n1, nk, *_rest) in zip(results, plan, strict=True):
        base = res.fake_score
        at = first + 2
        rand1 = scores[at : at + n1]
        randk = scores[at + n1 : at + n1 + 2 * nk]
        rows.append(
            {
                "top1_drop": res.spans[0].delta,
                "random1_drop": float(np.mean(base - rand1)) if n1 else float("nan"),
                "topk_drop": base - scores[first],
                "randomk_drop": float(np.mean(base - randk[0::2])) if nk else float("nan"),
                "topk_alone": float(scores[first + 1]),
                "randomk_alone": float(np.mean(randk[1::2])) if nk else float("nan"),
                "top1_words": len(res.spans[0].text.split()),
                "topk_words": sum(len(s.text.split()) for s in res.spans),
                "review_words": len(texts[len(rows)].split()),
            }
        )
    table = {k: np.asarray([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
    mean = {k: float(np.nanmean(v)) for k, v in table.items()}
    return {
        **kwargs,
        "n_reviews": len(texts),
        "seconds_per_review": seconds / len(texts),
        "cpu_seconds_per_review": cpu_seconds / len(texts),
        "passes_per_review": passes[0] / len(texts),
        "passes_per_second": passes[0] / seconds,
        **{f"mean_{k}": v for k, v in mean.items()},
        "top1_vs_random_ratio": mean["top1_drop"] / mean["random1_drop"]
        if mean["random1_drop"] > 0
        else None,
        "topk_vs_random_ratio": mean["topk_drop"] / mean["randomk_drop"]
        if mean["randomk_drop"] > 0
        else None,
        "share_top1_beats_random": float(np.mean(table["top1_drop"] > table["random1_drop"])),
        "median_top1_drop": float(np.median(table["top1_drop"])),
        "median_random1_drop": float(np.nanmedian(table["random1_drop"])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model directory (default: the default model)")
    parser.add_argument("--data", required=True, help="CSV/TSV/JSONL/Parquet of labelled reviews")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--label-map", default=None, help="e.g. truthful=genuine,deceptive=fake")
    parser.add_argument("--split-column", default=None, help="held-out rows: this column ...")
    parser.add_argument("--split", action="append", default=[], help="... equal to this value (repeatable)")
    parser.add_argument("--ids-from", default=None, help="held-out rows: ids listed in this CSV's id column")
    parser.add_argument(
        "--select",
        choices=["flagged", "fake", "all"],
        default="flagged",
        help="which held-out reviews to explain (default: those the model flags)",
    )
    parser.add_argument("--max-reviews", type=int, default=0, help="random sample of this many (0 = all)")
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help=f"comma-separated, of {list(SETTINGS)}"
    )
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--n-random", type=int, default=5, help="random draws per review")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", default=None, help="write the aggregated figures here")
    args = parser.parse_args(argv)

    import pandas as pd

    from fakereview_nlp.cli.evaluate import parse_label_map
    from fakereview_nlp.data.reviews import load_reviews
    from fakereview_nlp.model.default_model import resolve_model

    ds = load_reviews(
        args.data,
        text_column=args.text_column,
        label_column=args.label_column,
        label_map=parse_label_map(args.label_map),
        split_column=args.split_column,
        id_column=args.id_column,
    )
    frame = ds.to_pandas()
    if args.split:
        frame = frame[frame["split"].astype(str).isin(args.split)]
    if args.ids_from:
        frame = frame[frame["id"].astype(str).isin(set(pd.read_csv(args.ids_from)["id"].astype(str)))]
    if frame.empty:
        raise SystemExit("no held-out rows: check --split-column/--split or --ids-from")
    model = resolve_model(args.model)
    clf = FakeReviewClassifier.from_pretrained(model)
    texts = frame["text"].tolist()
    scores = clf.predict_proba(texts)
    keep = {
        "flagged": scores >= clf.threshold,
        "fake": frame["label"].to_numpy() == 1,
        "all": np.ones(len(texts), dtype=bool),
    }[args.select]
    chosen = [t for t, k in zip(texts, keep, strict=True) if k and t.strip()]
    if args.max_reviews and len(chosen) > args.max_reviews:
        chosen = random.Random(args.seed).sample(chosen, args.max_reviews)
    print(f"model {model} ({clf!r})")
    print(
        f"{len(texts)} held-out reviews, {int(keep.sum())} selected ({args.select}), {len(chosen)} explained"
    )
    print(f"CPU: {cpu_name()}; load average at start {os.getloadavg()[0]:.2f}")
    out: dict[str, Any] = {
        "model": str(model),
        "data": args.data,
        "select": args.select,
        "n_heldout": len(texts),
        "n_explained": len(chosen),
        "top_k": args.top_k,
        "n_random": args.n_random,
        "cpu": cpu_name(),
        "settings": {},
    }
    cols = [
        "setting",
        "s/review",
        "CPU s/review",
        "passes/review",
        "passes/s",
        "top-1 drop",
        "random",
        "ratio",
        "top wins",
        f"top-{args.top_k} drop",
        "random",
        "ratio",
        f"top-{args.top_k} alone",
        "random alone",
        "words top-1",
    ]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for name in args.settings.split(","):
        res = evaluate_setting(clf, chosen, SETTINGS[name], args.top_k, args.n_random, args.seed)
        out["settings"][name] = res

        def f(v: float | None, d: int = 3) -> str:
            return "–" if v is None else f"{v:.{d}f}"

        print(
            f"| {name} | {res['seconds_per_review']:.2f} | {res['cpu_seconds_per_review']:.2f} | "
            f"{res['passes_per_review']:.1f} | {res['passes_per_second']:.1f} | {f(res['mean_top1_drop'])} | "
            f"{f(res['mean_random1_drop'])} | {f(res['top1_vs_random_ratio'], 1)} | "
            f"{100 * res['share_top1_beats_random']:.0f}% | {f(res['mean_topk_drop'])} | "
            f"{f(res['mean_randomk_drop'])} | {f(res['topk_vs_random_ratio'], 1)} | "
            f"{f(res['mean_topk_alone'])} | {f(res['mean_randomk_alone'])} | {res['mean_top1_words']:.1f} |",
            flush=True,
        )
        out["load_average_end"] = os.getloadavg()[0]
        if args.json_out:  # after every setting: a killed run keeps what it measured
            Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"load average at end {out['load_average_end']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
