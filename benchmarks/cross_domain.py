"""Per-domain and cross-domain evaluation: the reference model against single-corpus models and TF-IDF.

How far does a detector carry to data it was not trained on? Every model is scored, as served
(``FakeReviewClassifier.from_pretrained(DIR).predict_proba``), on the held-out rows of each domain
of a multi-source config (for ``configs/reference.yaml``: op_spam fold 5 and fake_reviews_cg's
grouped 10 %), and on out-of-domain files scored whole (amazon_labeled). TF-IDF baselines are
fitted on each domain's training rows of the same config and on their union. For each domain the
package's evaluation report (bootstrap CIs over groups, flag-rate tables at 5 % prevalence) is
written to ``OUT/<domain>/``, and the matrix of accuracy and average precision to
``OUT/cross_domain.md`` and ``OUT/cross_domain.json``. No review text is written.

Usage (from a checkout; each model directory as written by ``python -m training.train``)::

    python benchmarks/cross_domain.py configs/reference.yaml \\
        --model reference=models/reference/fakereview_reference_model/model \\
        --model op_spam_only=runs/single_opspam --model cg_only=runs/single_cg \\
        --ood amazon_labeled=../shared/data/amazon_labeled/amazon_labeled.csv --ood-group amazon_labeled=product_id \\
        --out reports/reference
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ is not installed

from fakereview_nlp.data.reviews import group_keys, load_reviews  # noqa: E402
from fakereview_nlp.evaluation.report import build_report, write_report  # noqa: E402
from fakereview_nlp.files import atomic_write_text  # noqa: E402
from fakereview_nlp.inference import FakeReviewClassifier  # noqa: E402
from fakereview_nlp.model.baseline import TfidfBaseline  # noqa: E402
from training.config import load_config  # noqa: E402
from training.train import load_splits  # noqa: E402

logger = logging.getLogger("cross_domain")

FLAG_RATES = (0.005, 0.01, 0.02, 0.05)
MATRIX_METRICS = ("accuracy", "average_precision", "roc_auc", "precision@1%[π=5%]", "recall@1%[π=5%]")


ROOT = Path(__file__).resolve().parents[1]


def _shown(path: str) -> str:
    """A path as committed reports show it: relative to the checkout when inside it (no machine paths)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else path


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise SystemExit(f"cross_domain: error: {flag} {item!r} must look like NAME=PATH")
        out[name] = value
    return out


def domain_sets(
    config: str, ood: dict[str, str], ood_groups: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Held-out (test) and training rows per domain of ``config``, plus whole out-of-domain files."""
    cfg = load_config(config)
    if not cfg.data.sources:
        raise SystemExit(f"cross_domain: error: {config} has no data.sources; pass a multi-source config")
    train, val = load_splits(cfg)
    prefix = {s.name: s.near_duplicate_prefix_chars for s in cfg.data.sources}
    tests: dict[str, Any] = {}
    trains: dict[str, Any] = {}
    for source in cfg.data.sources:
        test = val.filter(lambda r, n=source.name: r["domain"] == n)
        # oversampled rows repeat: a baseline is fitted on each training row once
        part = train.filter(lambda r, n=source.name: r["domain"] == n)
        _, first = np.unique(np.asarray(part["id"]), return_index=True)
        trains[source.name] = part.select(sorted(first.tolist()))
        tests[source.name] = {"ds": test, "groups": group_keys(test, prefix_chars=prefix[source.name])}
    for name, path in ood.items():
        ds = load_reviews(path, id_column="id", group_column=(ood_groups or {}).get(name))
        tests[name] = {"ds": ds, "groups": group_keys(ds, prefix_chars=80)}
    return tests, trains


def fit_baselines(trains: dict[str, Any]) -> dict[str, TfidfBaseline]:
    out: dict[str, TfidfBaseline] = {}
    for name, ds in trains.items():
        out[f"tfidf_{name}"] = TfidfBaseline().fit(ds["text"], np.asarray(ds["label"]))
    texts = [t for ds in trains.values() for t in ds["text"]]
    labels = np.concatenate([np.asarray(ds["label"]) for ds in trains.values()])
    out["tfidf_all"] = TfidfBaseline().fit(texts, labels)
    return out


def score_all(
    models: dict[str, str], baselines: dict[str, TfidfBaseline], tests: dict[str, Any], device: str | None
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, float]]]:
    """domain -> model -> scores; and model -> seconds and reviews scored."""
    scores: dict[str, dict[str, np.ndarray]] = {d: {} for d in tests}
    timing: dict[str, dict[str, float]] = {}
    for name, path in models.items():
        clf = FakeReviewClassifier.from_pretrained(path, device=device)
        started, n = time.perf_counter(), 0
        for domain, test in tests.items():
            texts = test["ds"]["text"]
            scores[domain][name] = clf.predict_proba(texts)
            n += len(texts)
            if clf.tfidf is not None:  # the transformer part alone, to show what the TF-IDF part adds
                tfidf, clf.tfidf = clf.tfidf, None
                scores[domain][f"{name}_transformer"] = clf.predict_proba(texts)
                clf.tfidf = tfidf
        timing[name] = {"seconds": time.perf_counter() - started, "reviews": n, "repr": repr(clf)}
        logger.info("scored %s: %s", name, timing[name])
    for name, baseline in baselines.items():
        for domain, test in tests.items():
            scores[domain][name] = baseline.predict_proba(test["ds"]["text"])
    return scores, timing


def matrix_markdown(summary: dict[str, Any]) -> str:
    domains = list(summary["domains"])
    lines = [
        "# Cross-domain evaluation",
        "",
        f"Config `{summary['config']}`; models {', '.join(f'`{k}` = `{v}`' for k, v in summary['models'].items())}.",
        "Every model is scored as served on each domain's held-out rows (out-of-domain files whole);",
        "TF-IDF baselines are fitted on each domain's training rows (`tfidf_all`: their union).",
        "95 % bootstrap intervals resample whole groups (hotels; near-duplicate openings; products).",
        "",
        "| domain | reviews | fakes |",
        "|---|---|---|",
    ]
    for d in domains:
        lines.append(f"| {d} | {summary['domains'][d]['n']} | {summary['domains'][d]['fakes']} |")
    for metric in MATRIX_METRICS:
        lines += ["", f"## {metric}", "", "| model | " + " | ".join(domains) + " |", "|---|" + "---|" * len(domains)]
        for model in summary["model_order"]:
            cells = []
            for d in domains:
                cell = summary["matrix"][d].get(model, {}).get(metric)
                if cell is None:
                    cells.append("")
                    continue
                lo, hi = cell["ci"] if cell["ci"] else (None, None)
                ci = f" ({lo:.3f}–{hi:.3f})" if lo is not None else ""
                cells.append(f"{cell['value']:.3f}{ci}")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", "Per-domain reports (all flag rates, calibration, slices): `" + "/`, `".join(domains) + "/`.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a multi-source training config (its held-out rows are the test sets)")
    parser.add_argument("--model", action="append", default=[], help="NAME=MODEL_DIR (repeatable)")
    parser.add_argument("--ood", action="append", default=[], help="NAME=FILE scored whole (repeatable)")
    parser.add_argument(
        "--ood-group", action="append", default=[],
        help="NAME=COLUMN: the column whose values the bootstrap resamples whole for out-of-domain file NAME "
        "(e.g. amazon_labeled=product_id); without it rows group by near-duplicate openings only",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--device", default=None)
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    models = _pairs(args.model, "--model")
    tests, trains = domain_sets(args.config, _pairs(args.ood, "--ood"), _pairs(args.ood_group, "--ood-group"))
    baselines = fit_baselines(trains)
    scores, timing = score_all(models, baselines, tests, args.device)
    out = Path(args.out)
    summary: dict[str, Any] = {
        "config": args.config,
        "models": {k: _shown(v) for k, v in models.items()},
        "timing": {k: {**v, "repr": v["repr"].replace(models[k], _shown(models[k]))} for k, v in timing.items()},
        "domains": {},
        "matrix": {},
    }
    for domain, test in tests.items():
        ds = test["ds"]
        labels = np.asarray(ds["label"])
        report = build_report(
            labels,
            scores[domain],
            groups=test["groups"],
            lengths=[len(t.split()) for t in ds["text"]],
            prevalences=(0.05,),
            flag_rates=FLAG_RATES,
            baseline=f"tfidf_{domain}" if f"tfidf_{domain}" in scores[domain] else "tfidf_all",
            n_boot=args.n_boot,
            config={"config": args.config, "models": {k: _shown(v) for k, v in models.items()}},
            data={"domain": domain, "rows": len(ds)},
        )
        # the PR/ROC curves (a third of the JSON) feed only the plots, which this benchmark skips:
        # the repository's size budget is tight
        report.pop("curves", None)
        write_report(report, out / domain, plots=False)
        summary["domains"][domain] = {"n": len(ds), "fakes": int(labels.sum())}
        summary["matrix"][domain] = {
            model: {
                m: {"value": res["metrics"].get(m), "ci": res.get("ci", {}).get(m)}
                for m in MATRIX_METRICS
                if res["metrics"].get(m) is not None
            }
            for model, res in report["results"].items()
        }
    summary["model_order"] = list(next(iter(scores.values())))
    atomic_write_text(out / "cross_domain.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "cross_domain.md", matrix_markdown(summary))
    print(matrix_markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
