"""Compare training runs on their inner validation rows (``data.inner_validation``), per source.

A lever (epochs, learning rate, max_length, ...) is chosen on these rows, never on the reported
held-out rows of ``configs/reference.yaml``. For each run folder: per source, ROC AUC, accuracy at
0.5 of the served (calibrated) score, the mean AUC within length quartiles and the length-only AUC::

    python -m training.train configs/reference.yaml --data.inner_validation=true \\
        --data.sources.op_spam.inner_eval_splits=[4] --output.dir=runs/inner_e1
    python -m training.train configs/reference.yaml --data.inner_validation=true \\
        --data.sources.op_spam.inner_eval_splits=[4] --training.epochs=2 --output.dir=runs/inner_e2
    python benchmarks/inner_levers.py runs/inner_e1 runs/inner_e2 --out reports/inner_levers

``--merge JSON`` keeps the rows of an earlier report (runs trained on another machine, whose folders
are gone) beside the new ones; every row names the CPU its run trained on, since ``train s`` depends
on it and the AUCs barely do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cpu_label() -> str:
    from fakereview_nlp.runtime.choice import machine_signature

    sig = machine_signature()
    fast = [f for f in sig["flags"] if "bf16" in f]
    return f"{sig['cpu']} ({', '.join(fast) or 'no bf16'})"


def run_rows(run: Path, cpu: str) -> list[dict[str, Any]]:
    from sklearn.metrics import roc_auc_score

    from fakereview_nlp.evaluation.length import length_report
    from training.config import load_config
    from training.train import load_splits

    cfg = load_config(str(run / "training_config.yaml"))
    if not cfg.data.inner_validation:
        raise SystemExit(
            f"inner_levers: error: {run} was not trained with data.inner_validation; its rows are the reported ones"
        )
    _, val = load_splits(cfg)
    texts = dict(zip(val["id"], val["text"], strict=True))
    pred = pd.read_csv(run / "val_predictions.csv", dtype={"id": str})
    rows = []
    for domain, part in pred.groupby("domain"):
        y = part["label"].to_numpy()
        s = part["fake_score"].to_numpy()
        rep = length_report(y, s, [len(texts[i]) for i in part["id"]])
        rows.append({
            "run": run.name, "source": domain, "rows": len(part), "roc_auc": round(float(roc_auc_score(y, s)), 4),
            "accuracy": round(float(((s >= 0.5) == (y == 1)).mean()), 4),
            "within_length_auc": None if rep.within_bins_auc is None else round(float(rep.within_bins_auc), 4),
            "length_only_auc": round(float(rep.length_only_auc), 4),
            "train_wall_s": round(json.loads((run / "metrics.json").read_text())["train_wall_seconds"]),
            "cpu": cpu,
        })  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=Path("reports/inner_levers"))
    parser.add_argument(
        "--merge", type=Path, action="append", default=[], help="an earlier inner_levers.json"
    )
    parser.add_argument(
        "--merge-cpu",
        default="unknown CPU",
        help="the CPU of merged rows that do not name one (older reports)",
    )
    args = parser.parse_args()
    rows = [{**r, "cpu": r.get("cpu", args.merge_cpu)} for m in args.merge for r in json.loads(m.read_text())]
    cpu = cpu_label()
    rows += [r for run in args.runs for r in run_rows(run, cpu)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "inner_levers.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Levers on inner validation rows",
        "",
        "Command: `python benchmarks/inner_levers.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "| run | source | rows | AUC | accuracy at 0.5 | AUC within length quartiles | length-only AUC | train s | CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r['run']} | {r['source']} | {r['rows']} | {r['roc_auc']:.3f} | {r['accuracy']:.3f} | "
        f"{'-' if r['within_length_auc'] is None else format(r['within_length_auc'], '.3f')} | "
        f"{r['length_only_auc']:.3f} | {r['train_wall_s']} | {r['cpu']} |"
        for r in rows
    ]
    (args.out / "inner_levers.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
