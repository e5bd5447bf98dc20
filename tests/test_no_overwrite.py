"""Issue 20 item 1: no command writes over one of its inputs (any spelling, symlink or hard link)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakereview_nlp.files import refuse_overwriting_inputs, same_file

CSV = "id,text\n1,Great stay. Lovely staff.\n2,Room was fine.\n"


def _spellings(tmp: Path) -> dict[str, str]:
    source = tmp / "r.csv"
    source.write_text(CSV)
    (tmp / "link.csv").symlink_to(source)
    os.link(source, tmp / "hard.csv")
    (tmp / "sub").mkdir()
    return {"same": "r.csv", "dotted": "./sub/../r.csv", "absolute": str(source), "symlink": "link.csv",
            "hardlink": "hard.csv"}  # fmt: skip


@pytest.mark.parametrize("spelling", ["same", "dotted", "absolute", "symlink", "hardlink"])
def test_classify_refuses_to_write_over_its_input(
    spelling: str, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from fakereview_nlp.cli import main as cli

    monkeypatch.chdir(tmp_path)
    output = _spellings(tmp_path)[spelling]
    argv = ["classify", "r.csv", "-o", output, "--id-column", "id", "--model", str(tiny_model_dir), "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fakereview: error: output ") and "the input 'r.csv'; writing it would destroy the input" in err[0], err
    assert (tmp_path / "r.csv").read_text() == CSV
    assert not list(tmp_path.glob(".*parts"))


def test_explain_evaluate_model_card_refuse_to_write_over_their_inputs(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakereview_nlp.cli import main as cli

    monkeypatch.chdir(tmp_path)
    _spellings(tmp_path)
    assert cli.main(["explain", "r.csv", "-o", "link.csv", "--model", str(tiny_model_dir)]) == 2
    assert "the input 'r.csv'" in capsys.readouterr().err
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "report.md").write_text("id,text,label\n1,a,fake\n")
    assert cli.main(["evaluate", str(tiny_model_dir), "rep/report.md", "-o", "rep", "--no-plots"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the input 'rep/report.md'" in err[0], err
    assert (tmp_path / "rep" / "report.md").read_text() == "id,text,label\n1,a,fake\n"
    (tmp_path / "rep" / "report.json").write_text("{}")
    assert cli.main(["model-card", "rep", "-o", "rep/./report.json"]) == 2
    assert "the input" in capsys.readouterr().err
    assert (tmp_path / "rep" / "report.json").read_text() == "{}"
    assert (tmp_path / "r.csv").read_text() == CSV


def test_same_file_compares_inodes_and_resolved_paths(tmp_path: Path) -> None:
    _spellings(tmp_path)
    assert same_file(tmp_path / "hard.csv", tmp_path / "r.csv")
    assert same_file(tmp_path / "link.csv", tmp_path / "sub" / ".." / "r.csv")
    assert not same_file(tmp_path / "new.csv", tmp_path / "r.csv")  # does not exist yet: paths compared
    with pytest.raises(ValueError, match=r"output '.*hard.csv' is the same file as the input '.*r.csv'; writing it would destroy the input\. Choose another -o path"):
        refuse_overwriting_inputs([tmp_path / "hard.csv"], [tmp_path / "r.csv"])
    refuse_overwriting_inputs(["-", None, tmp_path / "new.csv"], ["-", tmp_path / "r.csv", None])
