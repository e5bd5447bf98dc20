"""`fakereview classify` batch jobs: every format, stdin/stdout, atomic output, two processes."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews

from fakereview_nlp.batch import add_classify_parser, classify_file
from fakereview_nlp.inference import FakeReviewClassifier

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> FakeReviewClassifier:
    return FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu", dtype="float32")


@pytest.fixture()
def frame() -> pd.DataFrame:
    rows = make_reviews(23)
    rows[4]["text"] = ""  # an empty review gets a score, not a crash
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
    assert list(out.columns) == [*columns, "fake_score", "label", "flagged"]
    assert out["id"].astype(str).tolist() == frame["id"].tolist()  # input order kept across chunks
    expected = clf.predict_proba(frame["text"].tolist())
    np.testing.assert_allclose(out["fake_score"].astype(float), expected, rtol=0, atol=1e-12)
    assert out["label"].tolist() == ["fake" if s >= 0.5 else "genuine" for s in expected]
    assert [str(v).lower() == "true" for v in out["flagged"]] == [bool(s >= clf.threshold) for s in expected]


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


def test_null_text_scores_like_an_empty_review(tmp_path: Path, clf: FakeReviewClassifier) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": null}\n{"id": 2, "text": ""}\n\n{"id": 3, "text": "fine"}\n')
    classify_file(clf, str(source), str(tmp_path / "out.jsonl"), progress=False)
    out = _read(tmp_path / "out.jsonl")
    assert out["id"].tolist() == [1, 2, 3]
    assert out["fake_score"][0] == out["fake_score"][1]


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
        "-m", "fakereview_nlp.batch", str(tiny_model_dir), str(source), "-o", str(output),
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
    from fakereview_nlp import batch, cli

    parser = cli.build_parser()  # the real registry: every subcommand module must import
    args = parser.parse_args(["classify", "in.csv", "-o", "out.csv", "--model", "model_dir", "--id-column", "id"])
    assert args.handler is batch._run
    assert (args.model, args.input, args.output, args.id_column) == ("model_dir", "in.csv", "out.csv", "id")
    # the older positional form names the same job
    legacy = parser.parse_args(["classify", "model_dir", "in.csv", "-o", "out.csv", "--id-column", "id"])
    batch._normalize_positionals(legacy)
    assert (legacy.model, legacy.input, legacy.legacy_input) == ("model_dir", "in.csv", None)


def test_model_given_twice_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["model_dir", "in.csv", "-o", "out.csv", "--model", "other"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fakereview: error: the model is given twice") and "\n" not in err


def test_a_model_with_a_tfidf_part_scores_the_mean(
    tmp_path: Path, frame: pd.DataFrame, tiny_model_dir: Path, clf: FakeReviewClassifier
) -> None:
    from fakereview_nlp.baseline import TfidfBaseline

    model_dir = tmp_path / "combined"
    shutil.copytree(tiny_model_dir, model_dir)
    train = pd.DataFrame(make_reviews(40, seed=1))
    tfidf = TfidfBaseline().fit(train["text"].tolist(), (train["label"] == "fake").astype(int).to_numpy())
    tfidf.save(model_dir)
    source = _write(frame, tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    argv = [str(source), "-o", str(output), "--model", str(model_dir), "--chunk-rows", "7", "--no-progress"]
    assert _cli([*argv, "--device", "cpu", "--dtype", "float32"]) == 0
    out = _read(output)
    texts = frame["text"].tolist()
    expected = (clf.predict_proba(texts) + tfidf.predict_proba(texts)) / 2
    np.testing.assert_allclose(out["fake_score"].astype(float), expected, rtol=0, atol=1e-12)


def test_jsonl_keys_in_another_order_stay_in_their_columns(tmp_path: Path, tiny_model_dir: Path) -> None:
    """#15: with --chunk-rows 1 each record is a chunk; a record with its keys in another order
    must be aligned to the header fixed by the first, not written in its own order."""
    source = tmp_path / "mixed.jsonl"
    source.write_text('{"id": "a1", "text": "first review"}\n{"text": "second review", "id": "a2"}\n')
    output = tmp_path / "out.csv"
    argv = [str(source), "-o", str(output), "--model", str(tiny_model_dir), "--chunk-rows", "1", "--no-progress"]
    assert _cli(argv) == 0
    out = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "text", "fake_score", "label", "flagged"]
    assert out["id"].tolist() == ["a1", "a2"] and out["text"].tolist() == ["first review", "second review"]
    assert out["label"].isin(["fake", "genuine"]).all() and out["flagged"].isin(["True", "False"]).all()


def test_jsonl_record_with_a_new_key_is_an_error_naming_its_line(tmp_path: Path, tiny_model_dir: Path) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text(
        '{"id": "a1", "text": "first"}\n{"text": "second", "id": "a2"}\n{"id": "a3", "text": "third", "stars": 5}\n'
    )
    output = tmp_path / "out.csv"
    argv = [str(source), "-o", str(output), "--model", str(tiny_model_dir), "--chunk-rows", "1", "--no-progress"]
    with pytest.raises(ValueError, match=r"mixed\.jsonl' line 3 has key\(s\) \['stars'\] that the first record"):
        _cli(argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.jsonl"]  # no output, no temporary file
