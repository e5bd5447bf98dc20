"""Adaptation curve: AUC on the rest of a source against the number of its labels used to adapt.

    python benchmarks/adapt_curve.py --base maide_up=runs/loso_maide_up --base combat_ai=runs/loso_combat_ai \\
        --base fake_reviews_cg=runs/loso_cg --base op_spam=runs/loso_op_spam \\
        --n 25,50,100,200,400 --seeds 0,1,2 --max-eval 2000 --out reports/adapt_curve

For each source, starting from the base model given for it (``--base SOURCE=DIR``; the model
trained without that source; ``--base SOURCE=default`` takes the model ``classify()`` uses), and
for each seed: the source's rows are ordered once (whole groups, such as a hotel, and identical
texts together; groups shuffled by the seed), and the first n fakes and genuine reviews in that
order (stratified: each class in its share of the source) are the labels, so the draws are
nested (the 25 labels are among the 50). Every row of a group any of the largest draw touched is
left out of the evaluation, and the evaluation rows are the same for every n of a seed (a
seeded subsample of ``--max-eval`` rows). Each draw is adapted through ``training.adapt.adapt``,
the command's own code (with ``--adapt.estimate=none``: the rest of the source measures it, so no
labels are set aside), and scored with ``classify()``'s scores. Beside it: the base model with
no adaptation, TF-IDF + logistic regression trained on the same labels, and, when given, the
model trained with all of the source (``--all-data SOURCE=AUC``).

``--variant NAME=--key=value,--key=value`` adds an adaptation with other options (e.g.
``--variant tfidf_only=--adapt.method=tfidf``); the default variant is ``adapted``.

Resumable: every finished cell (source, base, variant, n, seed) is stored in
``OUT/adapt_curve_cells.json`` and skipped when the command runs again; the base model's scores
of a seed's evaluation rows are cached beside it. Writes ``report.md``, ``report.json`` and
``adapt_curve.png``. Review texts never leave the temporary folder of one adaptation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# training/ is not installed with the package: run from a checkout, like python -m training.adapt.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakereview_nlp.files import atomic_write_text  # noqa: E402

logger = logging.getLogger("adapt_curve")

CELLS_FILE = "adapt_curve_cells.json"
DATA = Path("../shared/data")


@dataclass(frozen=True)
class Source:
    """How to read one corpus as labelled reviews of one platform."""

    name: str
    path: Path
    label_map: dict[str, str] | None
    group_column: str | None = None
    #: rows whose texts open with the same N letters are one group (GPT-2 fakes share openings).
    prefix_chars: int = 0
    #: keep only rows with this value in the column (maide_up: language == English).
    where: tuple[str, str] | None = None


SOURCES: dict[str, Source] = {
    "maide_up": Source(
        "maide_up",
        DATA / "maide_up/maide_up.csv",
        {"real": "genuine", "generated": "fake"},
        group_column="hotel",
        where=("language", "English"),
    ),  # fmt: skip
    "combat_ai": Source(
        "combat_ai", DATA / "combat_ai/combat_ai.csv", {"real": "genuine", "generated": "fake"}
    ),
    "fake_reviews_cg": Source(
        "fake_reviews_cg", DATA / "fake_reviews_cg/fake_reviews_cg.csv", None, prefix_chars=80
    ),
    "op_spam": Source(
        "op_spam",
        DATA / "op_spam/op_spam.csv",
        {"truthful": "genuine", "deceptive": "fake"},
        group_column="hotel",
    ),  # fmt: skip
}


@dataclass(frozen=True)
class Corpus:
    """A source read into the package's schema: normalised texts, 0/1 labels, a group key per row."""

    texts: list[str]
    labels: np.ndarray
    #: the draw's groups: the source's groups (hotel), identical texts and near-duplicate openings.
    groups: np.ndarray
    #: identical texts and near-duplicate openings only: the --group-column of the adaptation. A
    #: draw of 25 labels from whole hotels holds one or two hotels, too few to split by.
    copies: np.ndarray


def load_source(source: Source, data_dir: Path) -> Corpus:
    from fakereview_nlp.data.reviews import group_keys, load_reviews

    path = data_dir / source.path.relative_to(DATA)
    keep = [source.where[0]] if source.where else []
    ds = load_reviews(path, label_map=source.label_map, group_column=source.group_column, keep_columns=keep)
    if source.where:
        column, value = source.where
        ds = ds.filter(lambda row: row[column] == value)
    # A text labelled both ways (combat_ai has one) is dropped with all its copies: the command
    # refuses such labels, as it should, and a benchmark draw must not hand it any.
    seen: dict[str, set[int]] = {}
    for text, label in zip(ds["text"], ds["label"], strict=True):
        seen.setdefault(text, set()).add(int(label))
    conflicting = {text for text, found in seen.items() if len(found) > 1}
    if conflicting:
        logger.warning("%s: dropping %d texts labelled both ways", source.name, len(conflicting))
        ds = ds.filter(lambda row: row["text"] not in conflicting)
    keys = group_keys(ds, prefix_chars=source.prefix_chars)
    copies = group_keys(ds.map(lambda row: {"group": ""}), prefix_chars=source.prefix_chars)
    return Corpus(
        list(ds["text"]), np.asarray(ds["label"], dtype=np.int64), np.asarray(keys), np.asarray(copies)
    )


@dataclass(frozen=True)
class Draw:
    """One seed's nested label draws (``labelled[n]``, row indices) and its evaluation rows."""

    labelled: dict[int, np.ndarray]
    evaluation: np.ndarray


def draw_labels(corpus: Corpus, sizes: Sequence[int], seed: int, max_eval: int) -> Draw:
    """Nested, stratified draws of ``sizes`` labels in whole-group order, and the untouched rest.

    Raises ``ValueError`` when the largest draw leaves fewer than 50 reviews of a class to score.
    """
    rng = np.random.default_rng(seed)
    keys = np.unique(corpus.groups)
    rng.shuffle(keys)
    rank = {key: i for i, key in enumerate(keys)}
    # Groups in seeded order, rows shuffled inside each group: a draw spends whole groups first.
    jitter = rng.random(len(corpus.labels))
    order = sorted(range(len(corpus.labels)), key=lambda i: (rank[corpus.groups[i]], jitter[i]))
    share = float(corpus.labels.mean())
    by_class = {c: [i for i in order if corpus.labels[i] == c] for c in (0, 1)}
    labelled = {}
    for n in sorted(sizes):
        n_fake = max(1, round(n * share))
        labelled[n] = np.sort(np.asarray(by_class[1][:n_fake] + by_class[0][: n - n_fake]))
    touched = set(corpus.groups[labelled[max(sizes)]].tolist())
    rest = np.asarray([i for i in range(len(corpus.labels)) if corpus.groups[i] not in touched])
    if len(rest) > max_eval > 0:
        rest = np.sort(rng.choice(rest, max_eval, replace=False))
    counts = np.bincount(corpus.labels[rest], minlength=2)
    if counts.min() < 50:
        raise ValueError(
            f"after drawing {max(sizes)} labels only {counts.tolist()} genuine/fake reviews are left to score; "
            "use smaller --n or a larger --max-eval"
        )
    return Draw(labelled, rest)


# ----------------------------------------------------------------------------- cells


class Cells:
    """Finished results, keyed ``source|base|variant|n|seed``; saved after every cell."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = value
        atomic_write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True))


def base_tag(base: str) -> str:
    """A short fingerprint of a base model folder (its path and weights' size and time)."""
    weights = Path(base) / "model.safetensors"
    stat = weights.stat()
    return hashlib.sha1(f"{Path(base).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]


def adapt_cell(corpus: Corpus, rows: np.ndarray, evaluation: np.ndarray, base: str, overrides: list[str],
               seed: int, work: Path) -> dict[str, Any]:  # fmt: skip
    """Adapt ``base`` on ``rows`` through the command's own code; AUC on ``evaluation``."""
    from fakereview_nlp.metrics import roc_auc
    from training.adapt import adapt, score_model

    with tempfile.TemporaryDirectory(prefix="adapt_curve-", dir=work) as tmp:
        labels_file = Path(tmp) / "labels.csv"
        pd.DataFrame(
            {
                "text": [corpus.texts[i] for i in rows],
                "label": ["fake" if corpus.labels[i] else "genuine" for i in rows],
                "group": corpus.copies[rows],
            }
        ).to_csv(labels_file, index=False)
        started = time.perf_counter()
        result = adapt(labels_file, Path(tmp) / "model", base=base, group_column="group",
                       overrides=[f"--training.seed={seed}", "--adapt.estimate=none", *overrides])  # fmt: skip
        wall = time.perf_counter() - started
        scores = score_model(result.output_dir, [corpus.texts[i] for i in evaluation])
    # The command's own estimate is off (adapt.estimate: none): the rest of the source measures it,
    # and the held-out part would cost a quarter of the labels.
    return {
        "auc": roc_auc(corpus.labels[evaluation], scores),
        "adapt_seconds": result.fit_seconds,
        "best_epoch": result.best_epoch,
        "wall_seconds": wall,
    }


def tfidf_cell(corpus: Corpus, rows: np.ndarray, evaluation: np.ndarray) -> dict[str, Any]:
    from fakereview_nlp.metrics import roc_auc
    from fakereview_nlp.model.baseline import tfidf_scores

    scores = tfidf_scores(
        [corpus.texts[i] for i in rows], corpus.labels[rows], [corpus.texts[i] for i in evaluation]
    )
    return {"auc": roc_auc(corpus.labels[evaluation], scores)}


def base_scores(corpus: Corpus, evaluation: np.ndarray, base: str, cache: Path) -> np.ndarray:
    """The base model's scores of the evaluation rows, cached (they take minutes on a CPU)."""
    from training.adapt import score_model

    if cache.is_file():
        saved = np.load(cache)
        if np.array_equal(saved["rows"], evaluation):
            return saved["scores"]
    scores = score_model(base, [corpus.texts[i] for i in evaluation])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, rows=evaluation, scores=scores)
    return scores


# ----------------------------------------------------------------------------- report


def summarise(cells: dict[str, dict[str, Any]], sources: list[str], bases: dict[str, str],
              variants: list[str], sizes: list[int], all_data: dict[str, float],
              tags: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Mean, sd and count over seeds per (source, method, n), and labels needed to reach all-data - 0.01."""
    out: dict[str, Any] = {}
    for source in sources:
        tag = (tags or {}).get(source) or base_tag(bases[source])
        table: dict[str, dict[int, dict[str, float]]] = {}
        methods = ["no_adaptation", "tfidf_lr", *variants]
        for n in sizes:
            by_method = {
                m: {
                    int(k.rsplit("|", 1)[1]): v
                    for k, v in cells.items()
                    if k.startswith(f"{source}|{tag}|{m}|{n}|")
                }
                for m in methods
            }
            # Only seeds every method has finished: a mean over other seeds would not compare like with like.
            done = [set(found) for found in by_method.values() if found]
            seeds = sorted(set.intersection(*done)) if done else []
            for method, found in by_method.items():
                if not found or not seeds:
                    continue
                values = [found[seed]["auc"] for seed in seeds]
                secs = [found[seed]["adapt_seconds"] for seed in seeds if "adapt_seconds" in found[seed]]
                table.setdefault(method, {})[n] = {
                    "mean": statistics.fmean(values),
                    "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "seeds": len(values),
                    "per_seed": dict(zip(seeds, values, strict=True)),
                    **({"adapt_seconds": statistics.fmean(secs)} if secs else {}),
                }
        reach = {}
        if source in all_data:
            for method, by_n in table.items():
                hit = [n for n in sorted(by_n) if by_n[n]["mean"] >= all_data[source] - 0.01]
                reach[method] = hit[0] if hit else None
        out[source] = {
            "base": bases[source],
            "table": table,
            "all_data": all_data.get(source),
            "reach": reach,
        }
    return out


def write_report(
    out: Path, summary: dict[str, Any], args: argparse.Namespace, variants: dict[str, list[str]]
) -> None:
    lines = [
        "# Adaptation curve",
        "",
        "ROC AUC on the rest of each source (rows of groups no draw touched) against the number of its labels,",
        f"mean ± sd (seeds) over the seeds of {args.seeds} that every method finished; `adapted` is `python -m training.adapt` with its defaults"
        + "".join(f"; `{k}` adds `{' '.join(v)}`" for k, v in variants.items() if v)
        + ". Cells are stored in `adapt_curve_cells.json` by the runs that computed them; this report's command:",
        "",
        "```",
        " ".join(["python benchmarks/adapt_curve.py", *sys.argv[1:]]),
        "```",
        "",
    ]
    for source, s in summary.items():
        sizes = sorted({n for by_n in s["table"].values() for n in by_n})
        lines += [
            f"## {source}",
            "",
            f"Base: `{s['base']}`" + (f"; all-data model AUC {s['all_data']:.3f}" if s["all_data"] else ""),
            "",
        ]
        lines += ["| method | " + " | ".join(f"n={n}" for n in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
        for method, by_n in s["table"].items():
            cells = [
                f"{by_n[n]['mean']:.3f} ± {by_n[n]['sd']:.3f} ({by_n[n]['seeds']})" if n in by_n else ""
                for n in sizes
            ]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        for m in variants:
            secs = {n: v["adapt_seconds"] for n, v in s["table"].get(m, {}).items() if "adapt_seconds" in v}
            if secs:
                lines += [
                    "",
                    f"Adaptation wall time of `{m}` (s, mean over seeds): "
                    + ", ".join(f"n={n}: {t:.0f}" for n, t in sorted(secs.items())),
                ]
        if s["reach"]:
            lines += ["", "Labels to reach within 0.01 AUC of the all-data model: "
                      + ", ".join(f"{m}: {n if n else 'not within the curve'}" for m, n in s["reach"].items())]  # fmt: skip
        lines.append("")
    atomic_write_text(out / "report.md", "\n".join(lines))
    atomic_write_text(out / "report.json", json.dumps(summary, indent=2, default=str))
    plot(out / "adapt_curve.png", summary)


def plot(path: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(4.2 * len(summary), 3.6), squeeze=False)
    for ax, (source, s) in zip(axes[0], summary.items(), strict=True):
        for method, by_n in s["table"].items():
            ns = sorted(by_n)
            ax.errorbar(ns, [by_n[n]["mean"] for n in ns], yerr=[by_n[n]["sd"] for n in ns], marker="o",
                        capsize=3, label=method)  # fmt: skip
        if s["all_data"]:
            ax.axhline(s["all_data"], color="grey", linestyle="--", label="all data")
        ax.set_xscale("log")
        # the label counts themselves as ticks: log-scale minor ticks print as overlapping powers of ten
        ticks = sorted({n for by_n in s["table"].values() for n in by_n})
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.minorticks_off()
        ax.set_title(source)
        ax.set_xlabel("labels (n)")
        ax.set_ylabel("ROC AUC on the rest")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- main


def parse_pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"adapt_curve: error: {what} {item!r} must look like NAME=VALUE")
        out[key] = value
    return out


def parse_variants(items: Sequence[str]) -> dict[str, list[str]]:
    """``NAME=--key=value,--key=value`` -> {NAME: overrides}; a list value keeps its commas."""
    return {
        name: [x for x in re.split(r",(?=--)", spec) if x]
        for name, spec in parse_pairs(items, "--variant").items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", action="append", default=[], metavar="SOURCE=DIR",
                        help="base model per source ('default': the model classify() uses)")  # fmt: skip
    parser.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated, of {list(SOURCES)}")
    parser.add_argument("--n", default="25,50,100,200,400", help="label counts")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--max-eval", type=int, default=2000, help="seeded subsample of the rest to score (0: all)"
    )
    parser.add_argument("--all-data", action="append", default=[], metavar="SOURCE=AUC")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=--key=value,...",
                        help="another adaptation with these overrides")  # fmt: skip
    parser.add_argument(
        "--skip-default-variant", action="store_true", help="run only the --variant adaptations"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=Path("reports/adapt_curve"))
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the stored cells")
    parser.add_argument("--base-tag", action="append", default=[], metavar="SOURCE=TAG",
                        help="report the cells of this base fingerprint (a base folder replaced since its cells ran)")  # fmt: skip
    parser.add_argument("--merge-cells", action="append", default=[], type=Path, metavar="JSON",
                        help="also report the cells of another run's adapt_curve_cells.json (runs split by source)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO)

    from fakereview_nlp import default_model_path

    sources = [s for s in args.sources.split(",") if s]
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise SystemExit(f"adapt_curve: error: unknown source(s) {unknown}; expected some of {list(SOURCES)}")
    bases = {
        k: (str(default_model_path()) if v == "default" else v)
        for k, v in parse_pairs(args.base, "--base").items()
    }
    missing = [s for s in sources if s not in bases]
    if missing:
        raise SystemExit(
            f"adapt_curve: error: no --base for {missing}; give --base SOURCE=DIR (or SOURCE=default)"
        )
    variants: dict[str, list[str]] = {} if args.skip_default_variant else {"adapted": []}
    variants.update(parse_variants(args.variant))
    sizes = [int(x) for x in args.n.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    all_data = {k: float(v) for k, v in parse_pairs(args.all_data, "--all-data").items()}
    args.out.mkdir(parents=True, exist_ok=True)
    cells = Cells(args.out / CELLS_FILE)
    if not args.report_only:
        work = args.out / ".work"
        work.mkdir(exist_ok=True)
        for source in sources:
            corpus = load_source(SOURCES[source], args.data_dir)
            tag = base_tag(bases[source])
            for seed in seeds:
                draw = draw_labels(corpus, sizes, seed, args.max_eval)
                y_eval = corpus.labels[draw.evaluation]
                key0 = f"{source}|{tag}|no_adaptation"
                if any(cells.get(f"{key0}|{n}|{seed}") is None for n in sizes):
                    from fakereview_nlp.metrics import roc_auc

                    scores = base_scores(
                        corpus, draw.evaluation, bases[source], work / f"base_{source}_{tag}_{seed}.npz"
                    )
                    for n in sizes:
                        cells.put(
                            f"{key0}|{n}|{seed}", {"auc": roc_auc(y_eval, scores), "n_eval": len(y_eval)}
                        )
                for n in sizes:
                    rows = draw.labelled[n]
                    if cells.get(f"{source}|{tag}|tfidf_lr|{n}|{seed}") is None:
                        cells.put(
                            f"{source}|{tag}|tfidf_lr|{n}|{seed}", tfidf_cell(corpus, rows, draw.evaluation)
                        )
                    for name, overrides in variants.items():
                        key = f"{source}|{tag}|{name}|{n}|{seed}"
                        if cells.get(key) is not None:
                            continue
                        logger.info("adapting %s n=%d seed=%d variant %s", source, n, seed, name)
                        result = adapt_cell(
                            corpus, rows, draw.evaluation, bases[source], overrides, seed, work
                        )
                        cells.put(key, result)
                        logger.info(
                            "%s: AUC %.4f (adapting %.0f s)", key, result["auc"], result["adapt_seconds"]
                        )
    merged = dict(cells.data)
    for extra in args.merge_cells:
        merged.update(json.loads(extra.read_text()))
    tags = parse_pairs(args.base_tag, "--base-tag")
    summary = summarise(merged, sources, bases, list(variants), sizes, all_data, tags)
    for source, tag in tags.items():
        summary[source]["base"] += f" (cells of fingerprint {tag})"
    write_report(args.out, summary, args, variants)
    logger.info("wrote %s", args.out / "report.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
