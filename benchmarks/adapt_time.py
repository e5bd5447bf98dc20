"""Wall time of ``python -m training.adapt`` as a user runs it: the shipped reference, N labels, defaults.

The issue's goal is "adaptation of the reference on 200 labels takes <= 10 minutes on a 2-core CPU".
This draws ``--n`` labels of one source (stratified, seeded) into a temporary CSV outside the
repository (review texts stay in ../shared), runs the command in a fresh process with no options
but ``-o``, and records the wall time of the whole command (start-up, reading, adapting, the
held-out report) with the CPU and the load average beside it::

    python benchmarks/adapt_time.py --source maide_up --n 200 --out reports/adapt_time
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.adapt_curve import DATA, SOURCES, load_source  # noqa: E402
from fakereview_nlp.labels import LABELS  # noqa: E402


def draw(source: str, n: int, seed: int, data_dir: Path) -> pd.DataFrame:
    """``n`` rows of ``source`` read as the curve reads it, half of each class, as ``text,label``."""
    corpus = load_source(SOURCES[source], data_dir)
    frame = pd.DataFrame({"text": corpus.texts, "label": [LABELS[int(y)] for y in corpus.labels]})
    parts = [g.sample(n // 2, random_state=seed) for _, g in frame.groupby("label")]
    return pd.concat(parts).sample(frac=1.0, random_state=seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=sorted(SOURCES), default="maide_up")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=Path("reports/adapt_time"))
    args = parser.parse_args()
    from fakereview_nlp.runtime.choice import machine_signature

    with tempfile.TemporaryDirectory(prefix="adapt-time-") as tmp:
        labels = Path(tmp) / "labels.csv"
        draw(args.source, args.n, args.seed, args.data_dir).to_csv(labels, index=False)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "training.adapt", str(labels), "-o", str(Path(tmp) / "adapted")],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"adapt_time: error: training.adapt failed:\n{proc.stderr[-2000:]}")
        report = json.loads((Path(tmp) / "adapted" / "report.json").read_text())
    sig = machine_signature()
    result = {
        "source": args.source,
        "n": args.n,
        "seed": args.seed,
        "command_wall_seconds": round(wall, 1),
        "fit_seconds": round(report["fit_seconds"], 1),
        "estimate": None if report["estimate"] is None else report["estimate"]["mode"],
        "auc_before": None if report["estimate"] is None else round(report["estimate"]["base"]["roc_auc"], 4),
        "auc_after": None
        if report["estimate"] is None
        else round(report["estimate"]["adapted"]["roc_auc"], 4),
        "cpu": sig["cpu"],
        "cpu_flags": sig["flags"],
        "threads": sig["threads"],
        "load_average_at_start": round(load_before, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "adapt_time.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
