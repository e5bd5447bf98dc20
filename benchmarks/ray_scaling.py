"""Rows/s of ``fakereview classify --engine ray`` with 1 and 2 replicas against the local engine, on one file.

Scores the same Parquet file three ways on this machine and reports rows/s and wall time:

* ``local``: :func:`fakereview_nlp.jobs.local.classify_file`, one process, all usable CPUs;
* ``ray x1``: :func:`fakereview_nlp.jobs.ray.classify_files`, one replica with all CPUs;
* ``ray x2``: two replicas with half the CPUs each;

and the fixed cost of a Ray job: starting the local Ray (``ray.init``), and a job on a file of one
short chunk (replicas start, import torch, load the model; what every job pays before its first
row). Every Ray job runs on one local Ray started once. The model is the installed reference model
unless ``--model`` is given; the texts are ``--data``'s text column (cycled to ``--rows``) or
fabricated. Figures depend on the machine's load: the script prints the load average with them.

    python benchmarks/ray_scaling.py --rows 2000 --data ../shared/data/op_spam/op_spam.csv --json-out /tmp/ray_scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

WORDS = [
    "room",
    "staff",
    "clean",
    "friendly",
    "breakfast",
    "view",
    "noisy",
    "lift",
    "bed",
    "price",
    "great",
    "never",
    "again",
    "amazing",
    "best",
    "stay",
]


def make_input(path: Path, rows: int, data: str | None, seed: int = 0) -> None:
    import pandas as pd

    if data:
        from fakereview_nlp.data.tables import read_table

        texts = [t for t in read_table(data)["text"].tolist() if isinstance(t, str) and t.strip()]
    else:
        rng = random.Random(seed)
        texts = [" ".join(rng.choices(WORDS, k=rng.randint(20, 120))) for _ in range(1000)]
    frame = pd.DataFrame(
        {"id": [f"r{i}" for i in range(rows)], "text": [texts[i % len(texts)] for i in range(rows)]}
    )
    frame.to_parquet(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows in the benchmark file (default: 2000)")
    parser.add_argument(
        "--data", default=None, help="a CSV/JSONL/Parquet file whose 'text' column supplies the texts"
    )
    parser.add_argument(
        "--model", default=None, help="model directory (default: the installed reference model)"
    )
    parser.add_argument(
        "--chunk-rows", type=int, default=256, help="rows per chunk / Ray work item (default: 256)"
    )
    parser.add_argument("--json-out", default=None, help="also write the figures here as JSON")
    args = parser.parse_args()

    import ray

    from fakereview_nlp.jobs.local import classify_file
    from fakereview_nlp.jobs.ray import classify_files
    from fakereview_nlp.model.default_model import resolve_model
    from fakereview_nlp.runtime.devices import available_cpus as usable_cpus

    model = str(Path(resolve_model(args.model)).resolve())
    cpus = usable_cpus()
    work = Path(tempfile.mkdtemp(prefix="ray_scaling_"))
    source, tiny = work / "in.parquet", work / "tiny.parquet"
    make_input(source, args.rows, args.data)
    make_input(tiny, 8, args.data)
    results: dict[str, object] = {"rows": args.rows, "chunk_rows": args.chunk_rows, "cpus": cpus, "model": model,
                                  "load_average_before": os.getloadavg()}  # fmt: skip
    try:
        # Warm-up: the first job in a process pays for importing torch and transformers; not counted.
        classify_file(model, str(tiny), str(work / "warm.parquet"), id_column="id", progress=False)
        start = time.perf_counter()
        classify_file(model, str(tiny), str(work / "tiny_local.parquet"), id_column="id", progress=False)
        results["local_job_overhead_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        classify_file(model, str(source), str(work / "local.parquet"), id_column="id", chunk_rows=args.chunk_rows,
                      progress=False)  # fmt: skip
        results["local"] = _figures(args.rows, time.perf_counter() - start)

        start = time.perf_counter()
        here = str(Path(__file__).resolve().parents[1])
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)}})  # fmt: skip
        results["ray_init_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        classify_files(
            str(tiny), str(work / "tiny_out"), model=model, id_column="id", replicas=1, progress=False
        )
        results["ray_job_overhead_s"] = round(time.perf_counter() - start, 2)
        for label, replicas in (("ray_x1", 1), ("ray_x2", 2)):
            out = work / label
            start = time.perf_counter()
            classify_files(str(source), str(out), model=model, id_column="id", chunk_rows=args.chunk_rows,
                           replicas=replicas, cpus_per_replica=max(1, cpus // replicas), progress=False)  # fmt: skip
            results[label] = _figures(args.rows, time.perf_counter() - start)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def _figures(rows: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 2), "rows_per_s": round(rows / seconds, 1)}


if __name__ == "__main__":
    main()
