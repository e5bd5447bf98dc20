"""Issue 20 item 7: model errors say where the path came from, and "is a file, not a model folder"."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakereview_nlp import classify


def test_api_errors_name_the_model_argument_and_the_environment(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAKEREVIEW_MODEL", raising=False)
    with pytest.raises(FileNotFoundError, match=r"model directory '.*nope' \(from the model= argument\) does not exist"):
        classify(["a review"], model=str(tmp_path / "nope"))
    monkeypatch.setenv("FAKEREVIEW_MODEL", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match=r"model directory '.*gone' \(from \$FAKEREVIEW_MODEL\) does not exist"):
        classify(["a review"])
    weights = tiny_model_dir / "model.safetensors"
    monkeypatch.setenv("FAKEREVIEW_MODEL", str(weights))
    with pytest.raises(
        FileNotFoundError,
        match=r"model '.*model.safetensors' \(from \$FAKEREVIEW_MODEL\) is a file, not a model folder; pass the "
        r"folder that holds config.json and model.safetensors \(this file's folder is '.*'\)",
    ):
        classify(["a review"])
    with pytest.raises(FileNotFoundError, match=r"\(from the model= argument\) is a file, not a model folder"):
        classify(["x"], model=str(weights))


def test_default_model_origin_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fakereview_nlp.model import default_model

    monkeypatch.delenv("FAKEREVIEW_MODEL", raising=False)
    monkeypatch.setattr(default_model, "reference_model_path", lambda: tmp_path / "reference" / "model")
    with pytest.raises(FileNotFoundError, match=r"\(from the installed default model, fakereview-reference-model\)"):
        classify(["a review"])


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_cli_errors_name_model_option_and_environment(
    engine: str, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    if engine == "ray":
        pytest.importorskip("ray")
    from fakereview_nlp.cli import main as cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("id,text\n1,fine\n")
    weights = str(tiny_model_dir / "model.safetensors")
    common = ["classify", "in.csv", "-o", "out" if engine == "ray" else "out.csv", "--engine", engine, "--no-progress"]
    assert cli.main([*common, "--model", weights]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(from --model) is a file, not a model folder" in err[0], err
    monkeypatch.setenv("FAKEREVIEW_MODEL", str(tmp_path / "gone"))
    assert cli.main(common) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"fakereview: error: model directory '{tmp_path / 'gone'}' (from $FAKEREVIEW_MODEL) does not exist"]
    assert cli.main(["explain", "in.csv", "-o", "page.html"]) == 2
    assert "(from $FAKEREVIEW_MODEL) does not exist" in capsys.readouterr().err
