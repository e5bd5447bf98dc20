"""Issue 20 item 4: a non-string text in a JSONL/Parquet text column is the API's TypeError, not a score of "101"."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.jobs.local import classify_file


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> FakeReviewClassifier:
    return FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu")


@pytest.mark.parametrize(("value", "type_name"), [(101, "int"), (True, "bool"), (1.5, "float"), (["a", "b"], "list")])
def test_jsonl_non_string_text_is_a_type_error_naming_row_column_type(
    value: object, type_name: str, tmp_path: Path, clf: FakeReviewClassifier
) -> None:
    records = [{"id": "1", "text": "Lovely room."}, {"id": "2", "text": None}, {"id": "3", "text": value}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(TypeError, match=rf"in.jsonl' row 3 \(1-based, header not counted\): 'text' is {type_name} "):
        classify_file(clf, str(tmp_path / "in.jsonl"), str(tmp_path / "out.csv"), chunk_rows=2, progress=False)
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(TypeError, match=r"texts\[0\] is " + type_name):  # the API says the same
        clf.classify([value])  # type: ignore[list-item]


def test_parquet_int_text_column_is_a_type_error_at_the_cli(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakereview_nlp.cli import main as cli

    pd.DataFrame({"id": ["a", "b"], "text": [7, 101]}).to_parquet(tmp_path / "in.parquet")
    monkeypatch.chdir(tmp_path)
    argv = ["classify", "in.parquet", "-o", "out.csv", "--model", str(tiny_model_dir), "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "fakereview: error: 'in.parquet' row 1 (1-based, header not counted): 'text' is int '7', not str; write the "
        "column as text (quoted in JSON, a string column in Parquet), or null to leave the row unscored"
    ], err


def test_missing_and_empty_text_keep_their_policy(tmp_path: Path, clf: FakeReviewClassifier) -> None:
    records = [{"id": "1", "text": "Lovely room."}, {"id": "2", "text": None}, {"id": "3", "text": "  "}, {"id": "4"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert classify_file(clf, str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), progress=False) == 4
    out = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert out["fake_score"].isna().tolist() == [False, True, True, True]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ray_driver_refuses_a_non_string_text_column_before_starting_ray(
    fmt: str, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    from fakereview_nlp.jobs import ray as ray_engine

    source = tmp_path / f"in.{fmt}"
    if fmt == "parquet":
        pd.DataFrame({"id": ["a", "b"], "text": [7, 101]}).to_parquet(source)
    else:
        source.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": false}\n')
    monkeypatch.setattr(ray_engine, "ray_session", lambda *a, **k: pytest.fail("Ray started"))
    kind = "int64" if fmt == "parquet" else "bool"
    with pytest.raises(TypeError, match=rf"in.{fmt}': 'text' holds {kind} values, not str; write the column as text"):
        ray_engine.classify_files(str(source), str(tmp_path / "out"), model=str(tiny_model_dir), progress=False)


@pytest.mark.parametrize("command", ["explain", "evaluate"])
def test_explain_and_evaluate_follow_the_same_text_policy(
    command: str, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from fakereview_nlp.cli import main as cli

    (tmp_path / "in.jsonl").write_text(
        '{"id": "1", "text": "Lovely room.", "label": "fake"}\n{"id": "2", "text": 101, "label": "genuine"}\n'
    )
    monkeypatch.chdir(tmp_path)
    if command == "explain":
        argv = ["explain", "in.jsonl", "-o", "page.html", "--model", str(tiny_model_dir)]
    else:
        argv = ["evaluate", str(tiny_model_dir), "in.jsonl", "-o", "report", "--no-plots", "--n-boot", "0"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'in.jsonl' row 2 (1-based, header not counted): 'text' is int '101', not str" in err[0], err
