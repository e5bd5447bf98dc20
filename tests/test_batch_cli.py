"""`fakereview classify` batch jobs: every format, stdin/stdout, atomic output, two processes."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews

from fakereview_nlp.cli.classify import add_classify_parser
from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.jobs.local import classify_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> FakeReviewClassifier:
    return FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")


@pytest.fixture()
def frame() -> pd.DataFrame:
    rows = make_reviews(23)
    rows[4]["text"] = ""  # kept, not scored
    rows[7]["text"] = "NA"  # a review, scored
    return pd.DataFrame(rows)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str, "text": str}, keep_default_na=False)
    if path.suffix == ".tsv":
        return pd.read_csv(path, sep="\t", dtype={"id": str, "text": str}, keep_default_na=False)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_parquet(path)


def _cli(argv: list[str]) -> int:
    """Run `fakereview classify ...` through the parser that cli.py builds from add_classify_parser."""
    parser = argparse.ArgumentParser(prog="fakereview")
    add_classify_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["classify", *argv])
    return args.handler(args)


def _kept(frame: pd.DataFrame) -> list[str]:
    """The input columns as the output carries them: a gold ``label`` becomes ``input_label``."""
    return ["input_label" if c == "label" else c for c in frame.columns]


def _check_scored(
    out: pd.DataFrame, frame: pd.DataFrame, clf: FakeReviewClassifier, columns: list[str]
) -> None:
    """Every input row once, in order; texts scored as the classifier scores them; empty texts unscored."""
    assert list(out.columns) == [*columns, "fake_score", "label", "flagged", "language", "in_scope", "model_version"]
    assert out["id"].astype(str).tolist() == frame["id"].tolist()  # input order kept across chunks
    empty = frame["text"].fillna("").str.strip() == ""
    expected = pd.Series(np.nan, index=frame.index)
    verdicts = clf.classify(frame["text"][~empty].tolist())
    expected[~empty] = [np.nan if v.fake_score is None else v.fake_score for v in verdicts]
    # a text the model cannot read gets no verdict, like an empty one (and in_scope false)
    empty = empty | expected.isna()
    scores = pd.to_numeric(out["fake_score"].replace("", np.nan))
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-12)  # NaN where the text is empty
    blank = out["label"].isna() | (out["label"] == "")
    assert (
        blank.tolist() == empty.tolist()
        and (out["flagged"].isna() | (out["flagged"] == "")).tolist() == empty.tolist()
    )
    assert out["label"][~empty].tolist() == ["fake" if s >= 0.5 else "genuine" for s in expected[~empty]]
    assert [str(v).lower() == "true" for v in out["flagged"][~empty]] == [
        bool(s >= clf.threshold) for s in expected[~empty]
    ]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_round_trip_each_format(
    suffix: str, tmp_path: Path, frame: pd.DataFrame, tiny_model_dir: Path, clf: FakeReviewClassifier
) -> None:
    source = _write(frame, tmp_path / f"in{suffix}")
    output = tmp_path / f"out{suffix}"
    argv = [
        str(tiny_model_dir),
        str(source),
        "-o",
        str(output),
        "--chunk-rows",
        "5",
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert _cli([*argv, "--dtype", "float32"]) == 0
    out = _read(output)
    _check_scored(out, frame, clf, _kept(frame))
    assert out["input_label"].tolist() == frame["label"].tolist()  # the gold label is kept, renamed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, output.name])  # no temp left


def test_cross_format_with_id_column(tmp_path: Path, frame: pd.DataFrame, clf: FakeReviewClassifier) -> None:
    source = _write(frame.rename(columns={"text": "body"}), tmp_path / "in.csv")
    output = tmp_path / "out.parquet"
    n = classify_file(
        clf, str(source), str(output), text_column="body", id_column="id", chunk_rows=4, progress=False
    )
    assert n == len(frame)
    _check_scored(_read(output), frame, clf, ["id"])


def test_stdin_to_stdout_jsonl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], frame: pd.DataFrame, tiny_model_dir: Path,
    clf: FakeReviewClassifier,
) -> None:  # fmt: skip
    lines = "".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert (
        _cli(
            [str(tiny_model_dir), "-", "-o", "-", "--chunk-rows", "6", "--no-progress", "--dtype", "float32"]
        )
        == 0
    )
    out = pd.read_json(io.StringIO(capsys.readouterr().out), lines=True, dtype=False)
    _check_scored(out, frame, clf, _kept(frame))


def test_missing_or_empty_text_is_kept_unscored_and_counted(
    tmp_path: Path, clf: FakeReviewClassifier, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "text": null}\n{"id": 2, "text": ""}\n\n{"id": 3, "text": "fine"}\n{"id": 4}\n'
        '{"id": 5, "text": "   "}\n{"id": 6, "text": "NA"}\n{"id": 7, "text": "None"}\n{"id": 8, "text": "null"}\n'
    )
    with caplog.at_level("WARNING", logger="fakereview_nlp.jobs.local"):
        # out_of_scope="score": 'NA' and 'fine' are too short to identify; this is about missing text
        assert classify_file(
            clf, str(source), str(tmp_path / "out.jsonl"), chunk_rows=3, progress=False, out_of_scope="score"
        ) == 8
    out = _read(tmp_path / "out.jsonl")
    assert out["id"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    unscored = [1, 2, 4, 5]
    assert out.set_index("id")["fake_score"].isna().loc[unscored].all()
    assert out.set_index("id")[["label", "flagged"]].loc[unscored].isna().all().all()
    assert (
        out.set_index("id")["fake_score"].notna().loc[[3, 6, 7, 8]].all()
    )  # 'NA', 'None', 'null' are reviews
    warnings = [r.getMessage() for r in caplog.records if "unscored" in r.getMessage()]
    assert warnings == [
        "4 of 8 rows have a missing or empty 'text' and were kept unscored (empty fake_score, label, flagged)"
    ]


def test_na_strings_in_csv_are_reviews(tmp_path: Path, clf: FakeReviewClassifier) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,NA\n2,None\n3,null\n4,\n5,N/A\n")
    # out_of_scope="score": such short texts are out of scope; this is about reading them as reviews
    classify_file(clf, str(source), str(tmp_path / "out.csv"), progress=False, out_of_scope="score")
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert out["text"].tolist() == ["NA", "None", "null", "", "N/A"]
    assert [v != "" for v in out["fake_score"]] == [True, True, True, False, True]
    expected = clf.predict_proba(["NA", "None", "null", "N/A"])
    np.testing.assert_allclose(out["fake_score"][out["fake_score"] != ""].astype(float), expected, atol=1e-12)


def test_failure_leaves_no_output(tmp_path: Path, frame: pd.DataFrame, clf: FakeReviewClassifier) -> None:
    source = _write(frame, tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    output.write_text("previous results\n")
    with pytest.raises(
        ValueError, match=r"--text-column 'body' is not a column of .*in\.csv.*; its columns are \['id'"
    ):
        classify_file(clf, str(source), str(output), text_column="body", progress=False)
    assert output.read_text() == "previous results\n"  # untouched: the new file never replaced it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_input_errors_are_named(tmp_path: Path, clf: FakeReviewClassifier) -> None:
    with pytest.raises(FileNotFoundError, match=r"input file .*missing\.csv.* does not exist"):
        classify_file(clf, str(tmp_path / "missing.csv"), str(tmp_path / "o.csv"), progress=False)
    (tmp_path / "in.txt.gz").write_text("x")
    with pytest.raises(ValueError, match=r"cannot tell the format of .*in\.txt\.gz.*or pass --input-format"):
        classify_file(clf, str(tmp_path / "in.txt.gz"), str(tmp_path / "o.csv"), progress=False)
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl' line 2 is a JSON list; expected one object per line"):
        classify_file(clf, str(tmp_path / "bad.jsonl"), str(tmp_path / "o.csv"), progress=False)
    with pytest.raises(ValueError, match=r"Parquet cannot be written to stdout"):
        classify_file(clf, str(tmp_path / "bad.jsonl"), "-", output_format="parquet", progress=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="the accelerate CLI is not installed")
def test_two_processes_under_accelerate_launch(
    tmp_path: Path, frame: pd.DataFrame, tiny_model_dir: Path, clf: FakeReviewClassifier
) -> None:
    """`accelerate launch --multi_gpu --num_processes 2` on CPU: two gloo processes, one merged file."""
    source = _write(pd.concat([frame] * 3, ignore_index=True).assign(id=lambda f: [f"r{i}" for i in range(len(f))]),
                    tmp_path / "in.csv")  # fmt: skip
    output = tmp_path / "out.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("WORLD_SIZE", None)
    cmd = [
        "accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "fakereview_nlp.cli.classify", str(tiny_model_dir), str(source), "-o", str(output),
        "--chunk-rows", "10", "--no-progress", "--dtype", "float32",
    ]  # fmt: skip
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rank 0 of world size 2" in run.stderr and "rank 1 of world size 2" in run.stderr, run.stderr[
        -3000:
    ]
    assert "merged 7 part files from 2 processes" in run.stderr
    scored = _read(output)
    expected_frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    _check_scored(scored, expected_frame, clf, _kept(expected_frame))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # parts removed


def test_registered_on_the_fakereview_command() -> None:
    from fakereview_nlp.cli import classify as classify_cli
    from fakereview_nlp.cli import main as cli

    parser = cli.build_parser()  # the real registry: every subcommand module must import
    args = parser.parse_args(
        ["classify", "in.csv", "-o", "out.csv", "--model", "model_dir", "--id-column", "id"]
    )
    assert args.handler is classify_cli._run
    assert (args.model, args.input, args.output, args.id_column) == ("model_dir", "in.csv", "out.csv", "id")
    # the older positional form names the same job
    legacy = parser.parse_args(["classify", "model_dir", "in.csv", "-o", "out.csv", "--id-column", "id"])
    classify_cli._normalize_positionals(legacy)
    assert (legacy.model, legacy.input, legacy.legacy_input) == ("model_dir", "in.csv", None)


def test_model_given_twice_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    from fakereview_nlp.cli import main as cli

    assert cli.main(["classify", "model_dir", "in.csv", "-o", "out.csv", "--model", "other"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fakereview: error: the model is given twice") and "\n" not in err


def test_a_model_with_a_tfidf_part_scores_the_mean(
    tmp_path: Path, frame: pd.DataFrame, tiny_model_dir: Path, clf: FakeReviewClassifier
) -> None:
    from fakereview_nlp.model.baseline import TfidfBaseline

    model_dir = tmp_path / "combined"
    shutil.copytree(tiny_model_dir, model_dir)
    train = pd.DataFrame(make_reviews(40, seed=1))
    tfidf = TfidfBaseline().fit(train["text"].tolist(), (train["label"] == "fake").astype(int).to_numpy())
    tfidf.save(model_dir)
    source = _write(frame, tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    argv = [str(source), "-o", str(output), "--model", str(model_dir), "--chunk-rows", "7", "--no-progress"]
    assert _cli([*argv, "--device", "cpu", "--dtype", "float32", "--out-of-scope", "score"]) == 0
    out = _read(output)
    texts = [t for t in frame["text"] if t.strip()]
    expected = (clf.predict_proba(texts) + tfidf.predict_proba(texts)) / 2
    scored = pd.to_numeric(out["fake_score"].replace("", np.nan)).dropna()
    np.testing.assert_allclose(scored, expected, rtol=0, atol=1e-12)


def test_jsonl_keys_in_another_order_stay_in_their_columns(tmp_path: Path, tiny_model_dir: Path) -> None:
    """#15: with --chunk-rows 1 each record is a chunk; a record with its keys in another order
    must be aligned to the header fixed by the first, not written in its own order."""
    source = tmp_path / "mixed.jsonl"
    source.write_text('{"id": "a1", "text": "first review"}\n{"text": "second review", "id": "a2"}\n')
    output = tmp_path / "out.csv"
    argv = [
        str(source),
        "-o",
        str(output),
        "--model",
        str(tiny_model_dir),
        "--chunk-rows",
        "1",
        "--no-progress",
        "--out-of-scope",
        "score",  # two-word texts are too short to identify; this is about column order
    ]
    assert _cli(argv) == 0
    out = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "text", "fake_score", "label", "flagged", "language", "in_scope", "model_version"]
    assert out["id"].tolist() == ["a1", "a2"] and out["text"].tolist() == ["first review", "second review"]
    assert out["label"].isin(["fake", "genuine"]).all() and out["flagged"].isin(["True", "False"]).all()


def test_jsonl_record_with_a_new_key_is_an_error_naming_its_line(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text(
        '{"id": "a1", "text": "first"}\n{"text": "second", "id": "a2"}\n{"id": "a3", "text": "third", "stars": 5}\n'
    )
    output = tmp_path / "out.csv"
    argv = [
        str(source),
        "-o",
        str(output),
        "--model",
        str(tiny_model_dir),
        "--chunk-rows",
        "1",
        "--no-progress",
    ]
    with pytest.raises(
        ValueError, match=r"mixed\.jsonl' line 3 has key\(s\) \['stars'\] that the first record"
    ):
        _cli(argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.jsonl"]  # no output, no temporary file


def _launch_by_hand(
    argv: list[str], cwds: list[Path], timeout: float
) -> list[subprocess.CompletedProcess[str]]:
    """Start one process per folder in ``cwds`` as a launcher without a watchdog would (srun, mpirun, ssh).

    Unlike torchrun, nothing here kills the other processes when one exits, so a process that
    waits for a peer that gave up waits until its timeout; ``timeout`` turns that into a failure.
    """
    port, world = str(_free_port()), len(cwds)
    base = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = []
    for rank, cwd in enumerate(cwds):
        env = {**base, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
               "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-m", "fakereview_nlp.cli.classify", *argv], env=env, cwd=cwd,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    except subprocess.TimeoutExpired:
        pytest.fail(f"a process still waits after {timeout} s: one process's failure left another hanging")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


@pytest.mark.parametrize("failure", ["input missing on one node", "bad line in one process's chunk"])
def test_a_failing_process_stops_the_others(tmp_path: Path, tiny_model_dir: Path, failure: str) -> None:
    """#15: when one process fails, every other one learns of it, says so in one line, and exits non-zero.

    Before the fix, a process that could not read the input gave up before joining the group and
    the other waited in the rendezvous (30 minutes); a failure on a chunk ended the other with
    a gloo traceback. The second case also shows that a process decodes only its own chunks:
    rank 0 never parses the bad line in rank 1's chunk.
    """
    lines = [json.dumps({"id": f"r{i}", "text": f"review number {i}"}) for i in range(30)]
    node0, node1 = tmp_path / "node0", tmp_path / "node1"
    node0.mkdir()
    node1.mkdir()
    if failure == "bad line in one process's chunk":
        lines[14] = '{"id": "r14", "text": '  # chunk 1 (rows 10-19) goes to rank 1
        cwds = [node0, node0]
        expected = "'in.jsonl' line 15 is not valid JSON"
    else:  # node1 has no in.jsonl, as when the input is on a disk only the first machine mounts
        expected = "input file 'in.jsonl' does not exist"
        cwds = [node0, node1]
    (node0 / "in.jsonl").write_text("\n".join(lines) + "\n")
    argv = [
        "in.jsonl",
        "-o",
        "out.csv",
        "--model",
        str(tiny_model_dir),
        "--chunk-rows",
        "10",
        "--no-progress",
    ]
    rank0, rank1 = _launch_by_hand(argv, cwds, timeout=120)
    assert rank1.returncode == 2, rank1.stderr[-3000:]
    assert f"fakereview classify [rank 1]: error: {expected}" in rank1.stderr, rank1.stderr[-3000:]
    assert rank0.returncode == 2, rank0.stderr[-3000:]
    assert (
        f"[rank 0]: error: process 1 of 2 failed ({'ValueError' if 'JSON' in expected else 'FileNotFoundError'}: {expected}"
        in rank0.stderr
    ), rank0.stderr[-3000:]
    assert "Traceback" not in rank0.stderr + rank1.stderr
    assert not (node0 / "out.csv").exists()


def _bad_input_table() -> dict[str, tuple[str, int]]:
    """case -> (message pattern, exit code), from the "Bad input" table of docs/batch-jobs.md."""
    text = (REPO / "docs" / "batch-jobs.md").read_text(encoding="utf-8")
    section = text[text.index("### Bad input") : text.index("### On a Ray cluster")]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `") or line.startswith("| ---"):
            continue
        case, _, message, code = (c.strip() for c in line.strip().strip("|").split(" | "))
        spans = re.findall(r"``(.+?)``|`(.+?)`", message.replace("\\|", "|"))
        message = max((a or b for a, b in spans), key=len).strip()  # the message is the longest code span
        pattern = ".*".join(re.escape(part) for part in message.split("…"))
        rows[case.strip("`")] = (pattern, int(code))
    return rows


BAD_INPUT_CASES = _bad_input_table()


def _bad_input_case(case: str, tmp: Path, model: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the files of one bad-input table row in ``tmp`` (the working folder); returns the classify arguments."""
    csv_in = tmp / "in.csv"
    csv_in.write_text("id,text\n1,fine\n2,also fine\n")
    common = ["-o", "out.csv", "--model", str(model), "--no-progress"]
    if case == "missing-file":
        return ["nope.csv", *common]
    if case == "unknown-extension":
        (tmp / "reviews.xlsx").write_bytes(b"PK")
        return ["reviews.xlsx", *common]
    if case in ("unclosed-quote", "too-many-fields", "not-utf8"):
        body = {"unclosed-quote": b'2,"never closed\n', "too-many-fields": b"2,a,b\n", "not-utf8": b""}[case]
        csv_in.write_bytes((b"id,text\n1,caf\xe9\n" if case == "not-utf8" else b"id,text\n1,fine\n") + body)
        return ["in.csv", *common]
    if case == "utf16-no-bom":
        csv_in.write_bytes("id,text\n1,fine\n".encode("utf-16-le"))
        return ["in.csv", *common]
    if case in ("bad-json", "new-key"):
        lines = [
            '{"id": "1", "text": "a"}',
            '{"text": ' if case == "bad-json" else '{"text": "b", "id": "2"}',
        ]
        lines += ['{"id": "3", "text": "c", "stars": 5}'] if case == "new-key" else []
        (tmp / "in.jsonl").write_text("\n".join(lines) + "\n")
        return ["in.jsonl", *common, "--chunk-rows", "1"]
    if case == "non-string-text":
        (tmp / "in.jsonl").write_text('{"id": "1", "text": "fine"}\n{"id": "2", "text": 101}\n')
        return ["in.jsonl", *common]
    if case == "not-parquet":
        (tmp / "in.parquet").write_bytes(b"not parquet at all")
        return ["in.parquet", *common]
    if case == "missing-column":
        return ["in.csv", *common, "--text-column", "body"]
    if case == "model-is-file":
        shutil.copytree(model, tmp / "model")
        return ["in.csv", "-o", "out.csv", "--model", "model/model.safetensors", "--no-progress"]
    if case in ("no-model-dir", "no-weights", "corrupt-weights"):
        folder = tmp / "model"
        shutil.copytree(model, folder)
        if case == "no-weights":
            (folder / "model.safetensors").unlink()
        else:
            data = (folder / "model.safetensors").read_bytes()
            (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
        name = "./nope" if case == "no-model-dir" else "model"
        return ["in.csv", "-o", "out.csv", "--model", name, "--no-progress"]
    if case == "resume-other-job":
        from fakereview_nlp.jobs import local as batch

        real, calls = batch.score_chunk, []

        def dies_on_the_second_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("killed")
            return real(*args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(batch, "score_chunk", dies_on_the_second_chunk)
            with pytest.raises(RuntimeError, match="killed"):
                classify_file(model, "in.csv", "out.csv", chunk_rows=1, progress=False)
        csv_in.write_text("id,text\n1,fine\n2,also fine\n3,new row\n")  # the input changed
        return ["in.csv", *common, "--chunk-rows", "1", "--resume"]
    if case == "output-is-input":
        (tmp / "link.csv").symlink_to(csv_in)
        return ["in.csv", "-o", "link.csv", "--model", str(model), "--no-progress"]
    if case == "disk-full":
        import errno

        from fakereview_nlp.jobs import local as batch

        real, calls = batch.TableWriter.write, []

        def fills(self, frame):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(self, frame)

        monkeypatch.setattr(batch.TableWriter, "write", fills)
        return ["in.csv", *common, "--chunk-rows", "1"]
    if case == "empty-text":
        csv_in.write_text("id,text\n1,fine\n2,\n3,   \n")
        return ["in.csv", *common]
    raise AssertionError(f"bad-input table case {case!r} has no test")


@pytest.mark.parametrize("case", sorted(BAD_INPUT_CASES))
def test_readme_bad_input_table(
    case: str, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from fakereview_nlp.cli import main as cli

    pattern, code = BAD_INPUT_CASES[case]
    monkeypatch.chdir(tmp_path)
    argv = _bad_input_case(case, tmp_path, tiny_model_dir, monkeypatch)
    with caplog.at_level("WARNING"):
        assert cli.main(["classify", *argv]) == code
    err = capsys.readouterr().err.strip().splitlines()
    if code == 0:
        assert re.search(pattern, caplog.text), caplog.text
        return
    assert len(err) == 1 and re.fullmatch(pattern, err[0]), err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "model", "nope.csv", "-o", "report"],
        ["model-card", "nope", "-o", "card.md"],
        ["prepare", "op_spam", "-o", "out.csv", "--source", "nope.zip"],
    ],
)
def test_every_subcommand_reports_a_missing_file_in_one_line(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakereview_nlp.cli import main as cli

    monkeypatch.chdir(tmp_path)
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "nope" in err and err.startswith("fakereview"), err
    if argv[0] != "prepare":  # prepare reports its own errors, without a traceback under -v
        assert cli.main(["-v", *argv]) == 2  # -v: the traceback too
        assert "Traceback" in capsys.readouterr().err


def test_killed_local_job_resumes_without_redoing_or_duplicating(
    tmp_path: Path, frame: pd.DataFrame, clf: FakeReviewClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakereview_nlp.jobs import local as batch

    source = _write(frame, tmp_path / "in.csv")  # 23 rows: 5 chunks of 5
    output = tmp_path / "out.csv"
    real, calls = batch.score_chunk, []

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during chunk 2
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "score_chunk", counting)
    with pytest.raises(KeyboardInterrupt):
        classify_file(clf, str(source), str(output), chunk_rows=5, progress=False)
    parts = tmp_path / ".out.csv.parts"
    assert len(list(parts.glob("part-*"))) == 2 and not output.exists()
    # what a kill -9 leaves as well: a part being written, and an older version's temporary file
    (parts / "part-00000-000000002-n5-u0.csv.tmp").write_text("half a chunk")
    (tmp_path / ".out.csv.999999999.tmp").write_text("dead")
    calls.clear()
    monkeypatch.setattr(batch, "score_chunk", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    assert classify_file(clf, str(source), str(output), chunk_rows=5, resume=True, progress=False) == 23
    assert len(calls) == 3  # chunks 2, 3, 4 only
    _check_scored(_read(output), frame, clf, _kept(frame))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # parts and stale files gone


def test_resume_refuses_another_jobs_parts_and_a_fresh_run_starts_over(
    tmp_path: Path, frame: pd.DataFrame, clf: FakeReviewClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakereview_nlp.jobs import local as batch

    source = _write(frame, tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    real = batch.score_chunk
    calls: list[int] = []

    def dies_on_the_second_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("node lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "score_chunk", dies_on_the_second_chunk)
    with pytest.raises(RuntimeError, match="node lost"):
        classify_file(clf, str(source), str(output), chunk_rows=5, progress=False)
    monkeypatch.setattr(batch, "score_chunk", real)
    with pytest.raises(
        ValueError,
        match=r"cannot --resume into .*: its 1 finished parts .* come from a different job \(chunk_rows: 5 then, 6 now\)",
    ):
        classify_file(clf, str(source), str(output), chunk_rows=6, resume=True, progress=False)
    assert (tmp_path / ".out.csv.parts").is_dir()  # refused: the other job's parts are untouched
    assert classify_file(clf, str(source), str(output), chunk_rows=6, progress=False) == 23  # starts over
    _check_scored(_read(output), frame, clf, _kept(frame))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_a_second_job_on_the_same_output_is_refused(
    tmp_path: Path, frame: pd.DataFrame, clf: FakeReviewClassifier
) -> None:
    import fcntl

    source = _write(frame, tmp_path / "in.csv")
    parts = tmp_path / ".out.csv.parts"
    parts.mkdir()
    with open(parts / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another live job holds the lock
        held.write("4242")
        held.flush()
        with pytest.raises(ValueError, match=r"another job \(pid 4242\) is writing .*out\.csv"):
            classify_file(clf, str(source), str(tmp_path / "out.csv"), progress=False)
    assert (parts / "lock").is_file()  # its folder is left alone
