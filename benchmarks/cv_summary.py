"""Print the headline figures of committed CV reports: mean ± sd over folds and pooled flag-rate metrics.

From a report's ``oof_predictions.csv`` it adds errors at 0.5 per score column and where the
transformer and TF-IDF agree (both right, only one, neither), which bounds what their mean can reach.

    python benchmarks/cv_summary.py reports/opspam_cv reports/fake_reviews_cg_cv
    python benchmarks/cv_summary.py --paired reports/fake_reviews_cg_cv reports/fake_reviews_cg_cv_len256_ep2

The README's results tables are made from this output (the reports hold every number).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import pandas as pd


def summarise(report_dir: Path, flag_rate: str = "1%", prevalence: str = "5%") -> list[str]:
    report = json.loads((report_dir / "report.json").read_text())
    folds = report["folds"]["folds"]
    lines = [f"{report_dir} ({report['data'].get('n', '?')} reviews, {len(folds)} folds)"]
    for model in report["models"]:
        cells = []
        for metric in ("accuracy", "average_precision"):
            values = [f["models"][model][metric] for f in folds]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{metric} {statistics.mean(values):.3f} ± {sd:.3f}")
        pooled = report["results"][model]["metrics"]
        p = pooled[f"precision@{flag_rate}[π={prevalence}]"]
        r = pooled[f"recall@{flag_rate}[π={prevalence}]"]
        per_fold = " ".join(f"{f['models'][model]['accuracy']:.3f}" for f in folds)
        lines.append(
            f"  {model:22s} {'; '.join(cells)}; pooled P/R@{flag_rate} (π={prevalence}) {p:.3f} / {r:.3f};"
            f" fold accuracies {per_fold}"
        )
    oof_path = report_dir / "oof_predictions.csv"
    if oof_path.is_file():
        lines += _oof_lines(pd.read_csv(oof_path, dtype={"id": str, "fold": str}), report["models"])
    return lines


def _oof_lines(oof: pd.DataFrame, models: list[str]) -> list[str]:
    """Score columns the report does not show (extra seed members), and errors at 0.5 of each."""
    reported = {f"{m}_score" for m in models} | {"combined_score"}
    lines = []
    for column in [c for c in oof.columns if c.endswith("_score")]:
        flagged = oof[column] >= 0.5
        fp = int((flagged & (oof["label"] == 0)).sum())
        fn = int((~flagged & (oof["label"] == 1)).sum())
        # the best single cut chosen on these same test scores: an optimistic ceiling, not a result
        cuts = np.unique(oof[column])
        oracle = max(float(((oof[column] >= t) == (oof["label"] == 1)).mean()) for t in cuts)
        extra = ""
        if column not in reported:
            per_fold = oof.groupby("fold").apply(
                lambda g, c=column: float(((g[c] >= 0.5) == (g["label"] == 1)).mean()), include_groups=False
            )
            extra = f"; accuracy {per_fold.mean():.3f} ± {per_fold.std(ddof=1):.3f} over folds"
        lines.append(f"  oof {column:26s} at 0.5: {fp} FP, {fn} FN; oracle-cut accuracy {oracle:.3f}{extra}")
    if {"transformer_score", "tfidf_score"} <= set(oof.columns):
        lines.append("  " + agreement(oof))
    return lines


def agreement(oof: pd.DataFrame, a: str = "transformer_score", b: str = "tfidf_score") -> str:
    """Who is right at 0.5 where: both, only one, neither; and what that allows a combiner.

    A rule that follows one of the two decisions per review can only be right where at least one of
    them is, so 1 − "both wrong" bounds its accuracy. The mean of the two scores cut at 0.5 is such a
    rule (where both scores fall on the wrong side of 0.5, so does their mean): a ceiling to set
    against an accuracy goal for the combination.
    """
    truth = oof["label"] == 1
    right_a = (oof[a] >= 0.5) == truth
    right_b = (oof[b] >= 0.5) == truth
    shares = {
        "both right": (right_a & right_b).mean(),
        f"only {a}": (right_a & ~right_b).mean(),
        f"only {b}": (~right_a & right_b).mean(),
        "both wrong": (~right_a & ~right_b).mean(),
    }
    cells = "; ".join(f"{name} {share:.3f}" for name, share in shares.items())
    return f"agreement at 0.5: {cells}; ceiling for following one of the two per review {1 - shares['both wrong']:.3f}"


def paired(before_dir: Path, after_dir: Path) -> list[str]:
    """Per-fold change from one CV setting to another, on the folds both reports hold.

    Both runs must use the same folds (same config seed and data), so fold k is the same test rows.
    """
    reports = [json.loads((d / "report.json").read_text()) for d in (before_dir, after_dir)]
    folds = [{f["fold"]: f for f in r["folds"]["folds"]} for r in reports]
    shared = sorted(set(folds[0]) & set(folds[1]), key=lambda k: (len(k), k))
    for k in shared:
        if folds[0][k]["n"] != folds[1][k]["n"]:
            raise ValueError(
                f"fold {k} has {folds[0][k]['n']} vs {folds[1][k]['n']} reviews: not the same folds"
            )
    lines = [f"{after_dir} vs {before_dir} on folds {', '.join(shared)}"]
    for model in [m for m in reports[1]["models"] if m in reports[0]["models"]]:
        for metric in ("accuracy", "average_precision"):
            a = [folds[0][k]["models"][model][metric] for k in shared]
            b = [folds[1][k]["models"][model][metric] for k in shared]
            diff = [y - x for x, y in zip(a, b, strict=True)]
            won = sum(d > 0 for d in diff)
            lost = sum(d < 0 for d in diff)
            lines.append(
                f"  {model:22s} {metric:17s} {statistics.mean(a):.3f} -> {statistics.mean(b):.3f} "
                f"(per fold {' '.join(f'{d:+.3f}' for d in diff)}; better on {won}, worse on {lost})"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="CV report folders (with report.json)")
    parser.add_argument(
        "--paired",
        action="store_true",
        help="with two reports of the same folds: the per-fold change from the first to the second",
    )
    args = parser.parse_args()
    if args.paired:
        if len(args.reports) != 2:
            parser.error(f"--paired compares two reports, got {len(args.reports)}")
        print("\n".join(paired(*args.reports)))
        return
    for folder in args.reports:
        print("\n".join(summarise(folder)))


if __name__ == "__main__":
    main()
