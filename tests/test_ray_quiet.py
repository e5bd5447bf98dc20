"""Issue 20 item 9: a Ray run that succeeds prints no alarming lines (token-auth warning, core_worker E lines)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_reviews

pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[1]


def test_successful_ray_job_prints_only_its_summary(tmp_path: Path, tiny_model_dir: Path) -> None:
    pd.DataFrame(make_reviews(12)).to_csv(tmp_path / "in.csv", index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "fakereview_nlp.cli.main", "classify", str(tmp_path / "in.csv"), "-o",
            str(tmp_path / "out"), "--engine", "ray", "--model", str(tiny_model_dir), "--no-progress"]  # fmt: skip
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=540, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    alarming = [line for line in lines if re.search(r"Token authentication|core_worker|\bE\d{4}\b| E |WARNING|Error", line)]
    assert not alarming, run.stderr[-3000:]
    assert (tmp_path / "out" / "_SUCCESS").is_file()
