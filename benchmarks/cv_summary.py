"""Print the headline figures of committed CV reports: mean ± sd over folds and pooled flag-rate metrics.

    python benchmarks/cv_summary.py reports/opspam_cv reports/fake_reviews_cg_cv

The README's results tables are made from this output (the reports hold every number).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


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
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="CV report folders (with report.json)")
    for folder in parser.parse_args().reports:
        print("\n".join(summarise(folder)))


if __name__ == "__main__":
    main()
