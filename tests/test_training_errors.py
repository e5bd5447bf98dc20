"""Issue 20 item 6: python -m training.combine / package / reference_card report user errors in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["combine", "nope"], r"combine: error: nope has no training_config.yaml, so it is not a finished training run"),
        (["package", "nope", "out"], r"package: error: nope has no training_config.yaml"),
        (["package", "run", "run"], r"package: error: target 'run' would replace the run 'run' it is packaged from"),
        (["reference_card", "nope", "reports"], r"reference_card: error: model folder 'nope' does not exist"),
        (["reference_card", "model", "nope"], r"reference_card: error: report folder 'nope' does not exist"),
        (["reference_card", "model", "reports", "--out", "reports/x.json"],
         r"reference_card: error: output 'reports/x.json' is the input '.*x.json'"),
    ],
)  # fmt: skip
def test_training_commands_report_user_errors_in_one_line(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib
    import re

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "training_config.yaml").write_text("{}\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "x.json").write_text("{}")
    main = importlib.import_module(f"training.{argv[0]}").main
    if argv[:3] == ["package", "run", "run"]:
        from training.output import COMPLETE_MARKER

        (tmp_path / "run" / COMPLETE_MARKER).write_text("")
    assert main(argv[1:]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(message, err[0]), err
    assert main([*argv[1:], "-v"]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert (tmp_path / "reports" / "x.json").read_text() == "{}"


def test_combine_as_a_module_prints_no_traceback(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "training.combine", str(tmp_path / "nope")], cwd=REPO,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("combine: error: ")
