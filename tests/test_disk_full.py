"""Issue 20 item 2: a write error mid-job (disk full) keeps every finished part; --resume scores only the rest."""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_reviews

from fakereview_nlp.errors import OutputWriteError
from fakereview_nlp.inference import FakeReviewClassifier
from fakereview_nlp.jobs import local as batch
from fakereview_nlp.jobs.local import classify_file


@pytest.fixture(scope="module")
def clf(tiny_model_dir: Path) -> FakeReviewClassifier:
    return FakeReviewClassifier.from_pretrained(tiny_model_dir, device="cpu")


def _disk_fills_on(call: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The part writer raises ENOSPC on its ``call``-th write (the disk fills at that chunk)."""
    real, calls = batch.TableWriter.write, []

    def write(self, frame):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == call:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, frame)

    monkeypatch.setattr(batch.TableWriter, "write", write)
    return calls


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_disk_full_keeps_finished_parts_and_resume_scores_only_the_rest(
    fmt: str, tmp_path: Path, clf: FakeReviewClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    pd.DataFrame(make_reviews(23)).to_csv(source, index=False)  # 5 chunks of 5 (the last of 3)
    output = tmp_path / f"out.{fmt}"
    with monkeypatch.context() as patch:
        _disk_fills_on(5, patch)  # 90 %: the last chunk
        with pytest.raises(OutputWriteError, match=(
            r"writing chunk 4 of '.*out\.\w+' failed \(No space left on device\); 20 scored rows in 4 finished "
            r"parts are kept in '.*\.out\.\w+\.parts'\. Free space \(or fix the cause\) and rerun the same command "
            r"with --resume to score only the rest")) as caught:  # fmt: skip
            classify_file(clf, str(source), str(output), chunk_rows=5, progress=False)
    assert caught.value.errno == errno.ENOSPC
    parts = tmp_path / f".out.{fmt}.parts"
    assert len(list(parts.glob("part-*"))) == 4 and not list(parts.glob("*.tmp")) and not output.exists()
    scored = []
    real = batch.score_chunk
    monkeypatch.setattr(
        batch, "score_chunk", lambda c, frame, **kw: scored.append(len(frame)) or real(c, frame, **kw)
    )
    assert classify_file(clf, str(source), str(output), chunk_rows=5, progress=False, resume=True) == 23
    assert scored == [3]  # only the chunk that was not written
    out = pd.read_csv(output) if fmt == "csv" else pd.read_parquet(output)
    assert len(out) == 23 and not parts.exists()


def test_disk_full_while_joining_keeps_every_part(
    tmp_path: Path, clf: FakeReviewClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    pd.DataFrame(make_reviews(12)).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    with monkeypatch.context() as patch:
        patch.setattr(
            batch.shutil,
            "copyfileobj",
            lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")),
        )
        with pytest.raises(
            OutputWriteError, match=r"joining the parts of .* 12 scored rows in 3 finished parts"
        ):
            classify_file(clf, str(source), str(output), chunk_rows=5, progress=False)
    assert len(list((tmp_path / ".out.csv.parts").glob("part-*"))) == 3
    assert classify_file(clf, str(source), str(output), chunk_rows=5, progress=False, resume=True) == 12


def test_disk_full_is_one_line_at_the_cli(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakereview_nlp.cli import main as cli

    pd.DataFrame(make_reviews(10)).to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.chdir(tmp_path)
    _disk_fills_on(2, monkeypatch)
    argv = [
        "classify",
        "in.csv",
        "-o",
        "out.csv",
        "--model",
        str(tiny_model_dir),
        "--chunk-rows",
        "5",
        "--no-progress",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "5 scored rows in 1 finished parts are kept" in err[0] and "--resume" in err[0]
    ), err
