"""Per-domain and cross-domain evaluation: the reference model against single-corpus models and TF-IDF.

How far does a detector carry to data it was not trained on? Every model is scored, as served
(``FakeReviewClassifier.from_pretrained(DIR).predict_proba``), on the held-out rows of each domain
of a multi-source config (for ``configs/reference.yaml``: op_spam fold 5 and fake_reviews_cg's
grouped 10 %), and on out-of-domain files scored whole (amazon_labeled). TF-IDF baselines are
fitted on each domain's training rows of the same config and on their union. For each domain the
package's evaluation report (bootstrap CIs over groups, flag-rate tables at 5 % prevalence) is
written to ``OUT/<domain>/``, and the matrix of accuracy and average precision to
``OUT/cross_domain.md`` and ``OUT/cross_domain.json``. No review text is written.

Beside the matrix:

* **Length.** Per domain, the AUC of character length alone (direction-free) beside each model's
  AUC and its mean AUC within length quartiles (a quartile counts with at least 50 reviews of each
  class): a detector that wins by length shows a within-quartile AUC well below its overall AUC.
* **Leave one source out** (``--loo NAME=MODEL_DIR``): the model trained on the config minus source
  NAME (``python -m training.train CONFIG --data.leave_out=[NAME]``) scores *every* row of NAME (its
  filters applied, no split): a generator or writer it has never seen. A TF-IDF baseline fitted on
  the other sources' training rows scores the same rows.
* **Robustness** (``--perturb-model NAME``): that model's AUC on a seeded sample of each domain's
  held-out rows after typos, lower/upper case and shuffled sentence order.
* **Recall at the operating threshold**: the share of fakes each model flags at the threshold saved
  with it (``operating_points.json``), the ``flagged`` of ``classify()``.

Usage (from a checkout; each model directory as written by ``python -m training.train``)::

    python benchmarks/cross_domain.py configs/reference.yaml \\
        --model reference=models/reference/fakereview_reference_model/model \\
        --model op_spam_only=runs/single_opspam --model cg_only=runs/single_cg \\
        --ood amazon_labeled=../shared/data/amazon_labeled/amazon_labeled.csv --ood-group amazon_labeled=product_id \\
        --loo maide_up=runs/loo_maide_up --loo combat_ai=runs/loo_combat_ai \
        --loo fake_reviews_cg=runs/loo_fake_reviews_cg --perturb-model reference \
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
from fakereview_nlp.evaluation.format import ci_text, number_text  # noqa: E402
from fakereview_nlp.evaluation.length import LengthReport, length_report  # noqa: E402
from fakereview_nlp.evaluation.perturb import PERTURBATIONS, perturb_all  # noqa: E402
from fakereview_nlp.evaluation.report import build_report, write_report  # noqa: E402
from fakereview_nlp.files import atomic_write_text  # noqa: E402
from fakereview_nlp.inference import FakeReviewClassifier  # noqa: E402
from fakereview_nlp.metrics import roc_auc  # noqa: E402
from fakereview_nlp.model.baseline import TfidfBaseline  # noqa: E402
from training.config import load_config  # noqa: E402
from training.train import load_source, load_splits  # noqa: E402

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
    """Held-out (test) and training rows per domain of ``config``, plus whole out-of-domain files.

    Training rows are each source's own, once (no oversampling, no length balancing), for the
    TF-IDF baselines.
    """
    cfg = load_config(config)
    if not cfg.data.sources:
        raise SystemExit(f"cross_domain: error: {config} has no data.sources; pass a multi-source config")
    train, val = load_splits(cfg)
    prefix = {s.name: s.near_duplicate_prefix_chars for s in cfg.data.sources}
    tests: dict[str, Any] = {}
    trains: dict[str, Any] = {}
    for source in cfg.data.sources:
        test = val.filter(lambda r, n=source.name: r["domain"] == n)
        # oversampled and length-balanced rows repeat: a baseline is fitted on each training row once
        part = train.filter(lambda r, n=source.name: r["domain"] == n)
        _, first = np.unique(np.asarray(part["id"]), return_index=True)
        trains[source.name] = part.select(sorted(first.tolist()))
        tests[source.name] = {"ds": test, "groups": group_keys(test, prefix_chars=prefix[source.name])}
    for name, path in ood.items():
        ds = load_reviews(path, id_column="id", group_column=(ood_groups or {}).get(name))
        tests[name] = {"ds": ds, "groups": group_keys(ds, prefix_chars=80)}
    return tests, trains


def loo_sets(config: str, names: Sequence[str]) -> dict[str, Any]:
    """Every row of each named source (its filters applied, no split): what a leave-out model scores."""
    cfg = load_config(config)
    by_name = {s.name: s for s in cfg.data.sources}
    out: dict[str, Any] = {}
    for name in names:
        if name not in by_name:
            raise SystemExit(f"cross_domain: error: --loo {name}=... names no source of {config}: {sorted(by_name)}")
        source = by_name[name]
        ds = load_source(source, cfg)
        out[name] = {"ds": ds, "groups": group_keys(ds, prefix_chars=source.near_duplicate_prefix_chars)}
    return out


def _fit_union(trains: dict[str, Any], names: Sequence[str]) -> TfidfBaseline:
    texts = [t for n in names for t in trains[n]["text"]]
    labels = np.concatenate([np.asarray(trains[n]["label"]) for n in names])
    return TfidfBaseline().fit(texts, labels)


def fit_baselines(trains: dict[str, Any], leave_out: Sequence[str] = ()) -> dict[str, TfidfBaseline]:
    """TF-IDF per domain, on all domains (``tfidf_all``), and on all but each left-out source."""
    out: dict[str, TfidfBaseline] = {}
    for name, ds in trains.items():
        out[f"tfidf_{name}"] = TfidfBaseline().fit(ds["text"], np.asarray(ds["label"]))
    out["tfidf_all"] = _fit_union(trains, list(trains))
    for name in leave_out:
        out[f"tfidf_without_{name}"] = _fit_union(trains, [n for n in trains if n != name])
    return out


def score_all(
    models: dict[str, str], baselines: dict[str, TfidfBaseline], tests: dict[str, Any], device: str | None
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, float]]]:
    """domain -> model -> scores; and model -> seconds, reviews scored and operating threshold."""
    scores: dict[str, dict[str, np.ndarray]] = {d: {} for d in tests}
    timing: dict[str, dict[str, Any]] = {}
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
        timing[name] = {
            "seconds": time.perf_counter() - started,
            "reviews": n,
            "repr": repr(clf),
            "threshold": clf.threshold,
        }
        logger.info("scored %s: %s", name, timing[name])
    for name, baseline in baselines.items():
        for domain, test in tests.items():
            scores[domain][name] = baseline.predict_proba(test["ds"]["text"])
    return scores, timing


def _cell(cell: dict[str, Any] | None) -> str:
    return "" if cell is None or cell.get("value") is None else ci_text(cell["value"], cell.get("ci"))


def _num(x: float | None) -> str:
    return "" if x is None else number_text(x)


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
            cells = [_cell(summary["matrix"][d].get(model, {}).get(metric)) for d in domains]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Recall at the operating threshold",
        "",
        "Share of each domain's fakes (and of its genuine reviews) that a model flags at the threshold saved",
        "with it (`flagged` in `classify()`: the threshold that flags the configured share of reviews at the",
        "configured prevalence, chosen on the validation rows of all sources).",
        "",
        "| model | threshold | " + " | ".join(domains) + " |",
        "|---|---|" + "---|" * len(domains),
    ]
    for model, row in summary["operating"].items():
        cells = [
            f"{row[d]['recall']:.3f} / {row[d]['genuine_flagged']:.3f}" if d in row else "" for d in domains
        ]
        lines.append(f"| {model} | {row['threshold']:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "(fakes flagged / genuine reviews flagged)"]
    lines += [
        "",
        "## Length: does a model win by length?",
        "",
        "AUC of review length alone (direction-free, with the side the fakes are on), each model's AUC, and",
        "its mean AUC within length quartiles of the same rows (a bin with fewer than 50 reviews of a class",
        "is left out; where fewer than two quartiles qualify, thirds, then halves; `bins`: used of cut).",
        "A model that learned length loses most of its AUC within the bins.",
        "",
        "| domain | length-only AUC | model | AUC | within quartiles | bins |",
        "|---|---|---|---|---|---|",
    ]
    for d in domains:
        for model, rep in summary["length"][d].items():
            lines.append(
                f"| {d} | {rep['length_only_auc']:.3f} (fakes {rep['fakes_are']}) | {model} | {rep['roc_auc']:.3f} "
                f"| {_num(rep['within_bins_auc'])} | {rep['bins_used']} of {rep['bins_cut']} |"
            )
    if summary.get("loo"):
        lines += [
            "",
            "## Leave one source out: a generator (or writer) never seen in training",
            "",
            "Each model was trained on the config minus one source (`--data.leave_out=[NAME]`), with nothing",
            "chosen on that source's rows, and scores every row of it; `tfidf_without_NAME` is TF-IDF fitted on",
            "the other sources' training rows. AUC with 95 % group-bootstrap intervals; accuracy at 0.5; recall",
            "at the model's own operating threshold; mean AUC within length quartiles.",
            "",
            "| left out | reviews | model | AUC | accuracy | recall at operating threshold | within quartiles | length-only AUC |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, entry in summary["loo"].items():
            for model, res in entry["results"].items():
                lines.append(
                    f"| {name} | {entry['n']} | {model} | {_cell(res['roc_auc'])} | {_num(res['accuracy'])} "
                    f"| {_num(res.get('recall_at_operating'))} | {_num(res['within_bins_auc'])} "
                    f"| {entry['length_only_auc']:.3f} |"
                )
    if summary.get("robustness"):
        names = list(PERTURBATIONS)
        lines += [
            "",
            f"## Robustness: `{summary['robustness_model']}` after simple perturbations",
            "",
            "AUC on a seeded sample of each domain's held-out rows, as written and after each perturbation",
            "(`fakereview_nlp.evaluation.perturb`: typos swap two letters in one word of ten; upper/lower case; sentences",
            "shuffled).",
            "",
            "| domain | reviews | as written | " + " | ".join(names) + " |",
            "|---|---|---|" + "---|" * len(names),
        ]
        for d, row in summary["robustness"].items():
            lines.append(
                f"| {d} | {row['n']} | {row['original']:.3f} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |"
            )
    lines += ["", "Per-domain reports (all flag rates, calibration, slices): `" + "/`, `".join(domains) + "/`.", ""]
    return "\n".join(lines)


def length_summary(labels: np.ndarray, scores: dict[str, np.ndarray], texts: Sequence[str]) -> dict[str, Any]:
    lengths = [len(t) for t in texts]
    out: dict[str, Any] = {}
    for model, s in scores.items():
        rep: LengthReport = length_report(labels, s, lengths)
        out[model] = {
            "roc_auc": rep.roc_auc,
            "length_only_auc": rep.length_only_auc,
            "fakes_are": rep.fakes_are,
            "within_bins_auc": rep.within_bins_auc,
            "bins_used": rep.bins_used,
            "bins_cut": len(rep.bins),
            "bins": [b.__dict__ for b in rep.bins],
        }
    return out


def operating_recall(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    flagged = scores >= threshold
    return {"recall": float(flagged[labels == 1].mean()), "genuine_flagged": float(flagged[labels == 0].mean())}


def robustness(
    path: str, tests: dict[str, Any], device: str | None, n_rows: int, seed: int = 0
) -> dict[str, dict[str, float]]:
    """AUC of one model on a seeded sample of each domain's rows, as written and perturbed."""
    clf = FakeReviewClassifier.from_pretrained(path, device=device)
    out: dict[str, dict[str, float]] = {}
    rng = np.random.default_rng(seed)
    for domain, test in tests.items():
        ds = test["ds"]
        labels = np.asarray(ds["label"])
        pick = np.sort(rng.choice(len(ds), size=min(n_rows, len(ds)), replace=False))
        texts = [ds["text"][int(i)] for i in pick]
        y = labels[pick]
        if y.min() == y.max():
            continue
        row: dict[str, float] = {"n": len(pick), "original": roc_auc(y, clf.predict_proba(texts))}
        for name in PERTURBATIONS:
            row[name] = roc_auc(y, clf.predict_proba(perturb_all(texts, name, seed=seed)))
        out[domain] = row
        logger.info("robustness %s: %s", domain, row)
    return out


def _report(
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    test: dict[str, Any],
    baseline: str,
    thresholds: dict[str, float],
    args: argparse.Namespace,
    meta: dict[str, Any],
) -> dict[str, Any]:
    report = build_report(
        labels,
        scores,
        groups=test["groups"],
        lengths=[len(t.split()) for t in test["ds"]["text"]],
        prevalences=(0.05,),
        flag_rates=FLAG_RATES,
        baseline=baseline,
        operating_thresholds=thresholds,
        n_boot=args.n_boot,
        config={"config": args.config, **meta},
        data={"rows": len(labels)},
    )
    # the PR/ROC curves (a third of the JSON) feed only the plots, which this benchmark skips:
    # the repository's size budget is tight
    report.pop("curves", None)
    return report


def _matrix_cells(report: dict[str, Any]) -> dict[str, Any]:
    return {
        model: {
            m: {"value": res["metrics"].get(m), "ci": res.get("ci", {}).get(m)}
            for m in MATRIX_METRICS
            if res["metrics"].get(m) is not None
        }
        for model, res in report["results"].items()
    }


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
    parser.add_argument(
        "--loo", action="append", default=[],
        help="SOURCE=MODEL_DIR: a model trained with --data.leave_out=[SOURCE]; it scores every row of SOURCE",
    )  # fmt: skip
    parser.add_argument("--perturb-model", default=None, help="NAME of a --model to score after perturbations")
    parser.add_argument("--perturb-rows", type=int, default=400, help="held-out rows per domain for robustness")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--device", default=None)
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    models = _pairs(args.model, "--model")
    loo_models = _pairs(args.loo, "--loo")
    if args.perturb_model is not None and args.perturb_model not in models:
        raise SystemExit(f"cross_domain: error: --perturb-model {args.perturb_model!r} is not a --model ({sorted(models)})")
    tests, trains = domain_sets(args.config, _pairs(args.ood, "--ood"), _pairs(args.ood_group, "--ood-group"))
    baselines = fit_baselines(trains, leave_out=list(loo_models))
    loo_baselines = {k: v for k, v in baselines.items() if k.startswith("tfidf_without_")}
    baselines = {k: v for k, v in baselines.items() if not k.startswith("tfidf_without_")}
    scores, timing = score_all(models, baselines, tests, args.device)
    out = Path(args.out)
    shown = {k: _shown(v) for k, v in {**models, **loo_models}.items()}
    summary: dict[str, Any] = {
        "config": args.config,
        "models": {k: _shown(v) for k, v in models.items()},
        "loo_models": {k: _shown(v) for k, v in loo_models.items()},
        "timing": {k: {**v, "repr": v["repr"].replace(models[k], shown[k])} for k, v in timing.items()},
        "domains": {},
        "matrix": {},
        "length": {},
        "operating": {m: {"threshold": timing[m]["threshold"]} for m in models},
    }
    thresholds = {m: timing[m]["threshold"] for m in models}
    for domain, test in tests.items():
        labels = np.asarray(test["ds"]["label"])
        baseline = f"tfidf_{domain}" if f"tfidf_{domain}" in scores[domain] else "tfidf_all"
        report = _report(labels, scores[domain], test, baseline, thresholds, args, {"models": summary["models"]})
        write_report(report, out / domain, plots=False)
        summary["domains"][domain] = {"n": len(labels), "fakes": int(labels.sum())}
        summary["matrix"][domain] = _matrix_cells(report)
        summary["length"][domain] = length_summary(labels, scores[domain], test["ds"]["text"])
        for m in models:
            summary["operating"][m][domain] = operating_recall(labels, scores[domain][m], thresholds[m])
    summary["model_order"] = list(next(iter(scores.values())))
    if loo_models:
        summary["loo"] = {}
        loo_tests = loo_sets(args.config, list(loo_models))
        for name, path in loo_models.items():
            test = loo_tests[name]
            labels = np.asarray(test["ds"]["label"])
            s, t = score_all({f"without_{name}": path}, {}, {name: test}, args.device)
            s[name][f"tfidf_without_{name}"] = loo_baselines[f"tfidf_without_{name}"].predict_proba(test["ds"]["text"])
            thr = {f"without_{name}": t[f"without_{name}"]["threshold"]}
            report = _report(labels, s[name], test, f"tfidf_without_{name}", thr, args, {"loo": {name: shown[name]}})
            write_report(report, out / f"loo_{name}", plots=False)
            lengths = length_summary(labels, s[name], test["ds"]["text"])
            cells = _matrix_cells(report)
            results = {}
            for model in s[name]:
                results[model] = {
                    "roc_auc": cells[model].get("roc_auc"),
                    "accuracy": cells[model].get("accuracy", {}).get("value"),
                    "within_bins_auc": lengths[model]["within_bins_auc"],
                    "bins_used": lengths[model]["bins_used"],
                }
                if model in thr:
                    results[model]["recall_at_operating"] = operating_recall(labels, s[name][model], thr[model])["recall"]
            summary["loo"][name] = {
                "model": shown[name],
                "n": len(labels),
                "fakes": int(labels.sum()),
                "length_only_auc": next(iter(lengths.values()))["length_only_auc"],
                "results": results,
            }
    if args.perturb_model is not None:
        summary["robustness_model"] = args.perturb_model
        summary["robustness"] = robustness(models[args.perturb_model], tests, args.device, args.perturb_rows)
    atomic_write_text(out / "cross_domain.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "cross_domain.md", matrix_markdown(summary))
    print(matrix_markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
