"""`fakereview classify --engine ray` and `classify_dataset` on one local Ray (2 CPUs, no cluster).

Few and small on purpose: a local Ray takes seconds to start and each replica loads the model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews
from ray_faults import FAULT_ENV, SETUP_HOOK

from fakereview_nlp.cli import main as cli
from fakereview_nlp.jobs.local import classify_file

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
from fakereview_nlp.jobs.ray import classify_dataset, classify_files  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Ray workers import the package from this checkout and the fault hook (ray_faults.py) from tests/.
WORKER_PATH = [str(REPO), str(REPO / "tests")]


@pytest.fixture(scope="session")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One local Ray for the whole session; its replicas can be told to crash once (see ray_faults.py)."""
    crash_request = tmp_path_factory.mktemp("ray_faults") / "crash-request"
    saved = os.environ.get("PYTHONPATH")
    # Every worker of this Ray, for any job (the killed CLI's too), imports this checkout.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (*WORKER_PATH, saved) if p)
    ray.init(
        num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
        runtime_env={"env_vars": {FAULT_ENV: f"crash-once:{crash_request}"}, "worker_process_setup_hook": SETUP_HOOK},
    )  # fmt: skip
    yield crash_request
    ray.shutdown()
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    rows = make_reviews(40)
    rows[5]["text"] = ""  # kept, unscored
    rows[6]["text"] = "NA"  # a review
    frame = pd.DataFrame(rows)
    path = tmp_path_factory.mktemp("ray_in") / "in.parquet"
    frame.to_parquet(path, index=False, row_group_size=16)
    return frame, path


@pytest.fixture()
def idle_ray(local_ray: Path) -> Path:
    """The session's Ray once the replicas of the previous job have given their CPUs back (that is asynchronous)."""
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    return local_ray


def _local_scores(tmp_path: Path, source: Path, model: Path) -> pd.DataFrame:
    out = tmp_path / "local.parquet"
    classify_file(model, str(source), str(out), id_column="id", chunk_rows=8, progress=False)
    return pd.read_parquet(out).set_index("id")


def _read_parts(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))], ignore_index=True)


def test_ray_engine_matches_local_and_survives_a_replica_crash(
    idle_ray: Path, tmp_path: Path, reviews: tuple[pd.DataFrame, Path], tiny_model_dir: Path
) -> None:
    frame, source = reviews
    idle_ray.write_text("crash")  # the first replica to take a chunk dies; Ray retries its work elsewhere
    out = tmp_path / "scored"
    argv = ["classify", str(source), "-o", str(out), "--engine", "ray", "--model", str(tiny_model_dir),
            "--id-column", "id", "--chunk-rows", "7", "--replicas", "2", "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    assert not idle_ray.exists(), "no replica crashed"
    ray_out = _read_parts(out)
    assert sorted(ray_out["id"]) == sorted(frame["id"])  # every id exactly once
    assert (out / "_SUCCESS").is_file() and not list(out.glob(".*"))
    local = _local_scores(tmp_path, source, tiny_model_dir)
    joined = ray_out.set_index("id").loc[local.index]
    np.testing.assert_allclose(
        joined["fake_score"], local["fake_score"], rtol=0, atol=1e-9
    )  # NaN where unscored
    texts = frame.set_index("id").loc[local.index, "text"]
    # no verdict: the empty text (unscored) and "NA" (too short to identify its language: out of scope)
    assert joined["label"].isna().tolist() == texts.isin(["", "NA"]).tolist()
    assert joined["label"].equals(local["label"]) and joined["flagged"].equals(local["flagged"])
    # the scope columns in the Parquet parts: English rows in scope, the empty one without a value
    assert joined["in_scope"].tolist() == [{"": None, "NA": False}.get(t, True) for t in texts]


def test_classify_dataset_adds_scores(
    idle_ray: Path, reviews: tuple[pd.DataFrame, Path], tiny_model_dir: Path
) -> None:
    frame, _ = reviews
    ds = classify_dataset(ray.data.from_pandas(frame), tiny_model_dir, replicas=1, rows_per_call=16)
    out = ds.to_pandas().set_index("id").loc[frame["id"]]
    assert list(out.columns) == [
        "text", "input_label", "group", "fold", "fake_score", "label", "flagged", "language", "in_scope", "model_version"
    ]  # fmt: skip
    # no score: r5 (empty, unscored) and r6 ("NA": too short to identify its language, out of scope)
    assert out["fake_score"].isna().sum() == 2 and out["fake_score"].notna().sum() == len(frame) - 2
    assert out.loc["r6", "in_scope"] == False and out.loc["r0", "in_scope"] == True  # noqa: E712
    with pytest.raises(
        ValueError, match=r"text_column 'body' is not a column of the dataset; its columns are \['id'"
    ):
        classify_dataset(ray.data.from_pandas(frame), tiny_model_dir, text_column="body")


def test_ray_job_killed_midway_resumes_exactly_once(
    idle_ray: Path, tmp_path: Path, reviews: tuple[pd.DataFrame, Path], tiny_model_dir: Path
) -> None:
    frame, _ = reviews
    source = tmp_path / "in.jsonl"  # JSONL: chunks are found by byte offset
    frame.to_json(source, orient="records", lines=True)
    out = tmp_path / "scored"
    # `fakereview classify` reuses a Ray that is already started: this driver starts one whose
    # workers sleep before each chunk, so the job can be killed midway.
    driver = (
        "import sys, ray, ray_faults\n"
        "ray.init(num_cpus=2, include_dashboard=False, runtime_env={'worker_process_setup_hook': ray_faults.SETUP_HOOK,"
        f" 'env_vars': {{'PYTHONPATH': {os.pathsep.join(WORKER_PATH)!r}, ray_faults.FAULT_ENV: 'delay:0.4'}}}})\n"
        "from fakereview_nlp.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = [sys.executable, "-c", driver, "classify", str(source), "-o", str(out), "--engine", "ray",
            "--model", str(tiny_model_dir), "--chunk-rows", "2", "--replicas", "1", "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*WORKER_PATH, os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        while len(list(out.glob("part-*"))) < 3 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the driver and its local Ray, mid-job
        job.wait()
    killed_after = len(list(out.glob("part-*")))
    assert 3 <= killed_after < 20 and not (out / "_SUCCESS").exists(), job.stderr.read().decode()[-2000:]
    summary = classify_files(
        str(source), str(out), model=tiny_model_dir, chunk_rows=2, resume=True, progress=False
    )
    assert summary.n_parts_resumed >= killed_after and summary.n_parts == 20 and summary.n_rows == len(frame)
    scored = _read_parts(out)
    assert sorted(scored["row_number"]) == list(range(len(frame)))  # every row exactly once
    assert scored.sort_values("row_number")["id"].tolist() == frame["id"].tolist()
    assert not list(out.glob(".*"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad.csv",
            b'id,text\n1,ok\n2,"never closed\n',
            r"'.*bad\.csv' line 3: a quoted field starting on this line is never closed",
        ),
        (
            "latin.tsv",
            b"id\ttext\n1,caf\xe9\n",
            r"'.*latin\.tsv' is not valid utf-8: byte 13 \(line 2.*--encoding",
        ),
        (
            "mixed.jsonl",
            b'{"id": 1, "text": "a"}\n{"id": 2, "text": "b", "stars": 5}\n',
            r"line 2 has key\(s\) \['stars'\]",
        ),
        (
            "nocol.parquet",
            None,
            r"--text-column 'text' is not a column of '.*nocol\.parquet'; its columns are \['id', 'body'\]",
        ),
    ],
)
def test_ray_engine_bad_input_is_one_line(
    tmp_path: Path,
    tiny_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    """Checked on the driver before Ray starts: the local engine's messages, exit code 2."""
    path = tmp_path / name
    if content is None:
        pd.DataFrame({"id": ["a"], "body": ["x"]}).to_parquet(path)
    else:
        path.write_bytes(content)
    argv = [
        "classify",
        str(path),
        "-o",
        str(tmp_path / "out"),
        "--engine",
        "ray",
        "--model",
        str(tiny_model_dir),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fakereview: error: ") and "\n" not in err
    assert __import__("re").search(message, err), err
