"""Levers of the TF-IDF part, measured where it matters: on a source left out of training.

For each machine-text source S of a multi-source config, TF-IDF + logistic regression is fitted on
the training rows of the config **minus S** (``--data.leave_out=[S]``, exactly as the reference's
leave-one-source-out models are trained: same splits, oversampling and length balancing) and scores
every row of S. Variants: word 1–2-grams (the package's part) or word + character 2–5-grams; the
training rows length-balanced or not; fake_reviews_cg (GPT-2) in the mix or not. Reported: AUC and
mean AUC within length quartiles (``fakereview_nlp.evaluation.length``). Seconds per fit on a CPU; no
transformer is trained, so this measures the TF-IDF part's levers only.

Usage::

    python benchmarks/tfidf_levers.py configs/reference.yaml --out reports/tfidf_levers
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ is not installed
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ngram_partner import _SCORERS  # noqa: E402

from fakereview_nlp.evaluation.length import length_report  # noqa: E402
from fakereview_nlp.files import atomic_write_text  # noqa: E402
from training.config import load_config  # noqa: E402
from training.train import load_source, load_splits  # noqa: E402

logger = logging.getLogger("tfidf_levers")

MACHINE_SOURCES = ("maide_up", "combat_ai", "fake_reviews_cg")
#: (name, n-grams, length balance, fake_reviews_cg kept)
VARIANTS: tuple[tuple[str, str, bool, bool], ...] = (
    ("word, balanced, with cg", "word", True, True),
    ("word, not balanced, with cg", "word", False, True),
    ("word, balanced, without cg", "word", True, False),
    ("word+char, balanced, with cg", "word+char", True, True),
)


def _overrides(config: str, left_out: str, balanced: bool, keep_cg: bool) -> list[str]:
    cfg = load_config(config)
    names = [s.name for s in cfg.data.sources]
    leave = [left_out] + ([] if keep_cg or left_out == "fake_reviews_cg" else ["fake_reviews_cg"])
    out = [f"--data.leave_out=[{','.join(leave)}]"]
    if not balanced:
        out += [f"--data.sources.{n}.length_balance=false" for n in names if n not in leave]
    return out


def measure(config: str, left_out: str, ngrams: str, balanced: bool, keep_cg: bool) -> dict[str, Any]:
    cfg = load_config(config, _overrides(config, left_out, balanced, keep_cg))
    train, _ = load_splits(cfg)
    full = load_config(config)
    test = load_source(next(s for s in full.data.sources if s.name == left_out), full)
    labels = np.asarray(test["label"])
    scores = _SCORERS[ngrams](train["text"], np.asarray(train["label"]), test["text"])  # type: ignore[operator]
    rep = length_report(labels, scores, [len(t) for t in test["text"]])
    return {"roc_auc": rep.roc_auc, "within_bins_auc": rep.within_bins_auc, "train_rows": len(train), "n": len(labels)}


def render(results: dict[str, dict[str, dict[str, Any]]], config: str) -> str:
    sources = list(results)
    lines = [
        "# TF-IDF levers on a left-out source",
        "",
        f"Config `{config}` minus each source; TF-IDF + logistic regression scores every row of the left-out",
        "source. AUC (mean AUC within length quartiles).",
        "",
        "| variant | " + " | ".join(sources) + " |",
        "|---|" + "---|" * len(sources),
    ]
    for name, *_ in VARIANTS:
        cells = []
        for s in sources:
            r = results[s].get(name)
            within = "" if not r or r["within_bins_auc"] is None else f" ({r['within_bins_auc']:.3f})"
            cells.append("" if r is None else f"{r['roc_auc']:.3f}{within}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "(`without cg` does not apply where fake_reviews_cg is the left-out source.)", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--out", required=True)
    parser.add_argument("--sources", default=",".join(MACHINE_SOURCES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for source in args.sources.split(","):
        results[source] = {}
        for name, ngrams, balanced, keep_cg in VARIANTS:
            if not keep_cg and source == "fake_reviews_cg":
                continue
            results[source][name] = measure(args.config, source, ngrams, balanced, keep_cg)
            logger.info("%s / %s: %s", source, name, results[source][name])
    out = Path(args.out)
    atomic_write_text(out / "report.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out / "report.md", render(results, args.config))
    print(render(results, args.config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
