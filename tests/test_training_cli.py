"""The training commands treat user errors like `fakereview`: one line, exit code 2, traceback with -v."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import cv, train

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny_debug.yaml")


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    """The commands call logging.basicConfig; a handler left by another test writes to a closed capture."""
    import logging

    for handler in list(logging.root.handlers):
        logging.root.removeHandler(handler)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["--data.path=/no/such/reviews.csv"], r"train: error: review file '/no/such/reviews.csv' does not exist"),
        (["--data.label_map={a: genuine, b: fake}"], r"train: error: label values .* are not in label_map"),
        (["--training.learning_rat=1"], r"train: error: unknown config key 'training.learning_rat'; did you mean"),
    ],
)
def test_train_user_errors_are_one_line(
    overrides: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.main([TINY, *overrides]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert any(__import__("re").search(message, line) for line in err), err


def test_train_verbose_prints_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main([TINY, "--data.path=/no/such/reviews.csv", "-v"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "train: error: review file" in err


def test_cv_user_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cv.main([TINY, "--data.path=/no/such/reviews.csv", "--runs-dir", str(tmp_path / "r"),
                    "--report-dir", str(tmp_path / "rep")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "cv: error: review file '/no/such/reviews.csv' does not exist" in err and "Traceback" not in err
