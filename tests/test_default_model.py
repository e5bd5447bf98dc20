"""Which model runs when none is named: argument -> $FAKEREVIEW_MODEL -> installed reference -> error."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from fakereview_nlp.model import default_model
from fakereview_nlp.model.default_model import (
    MODEL_ENV_VAR,
    REFERENCE_PACKAGE,
    default_model_path,
    resolve_model,
)


@pytest.fixture()
def fake_reference(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> Path:
    """An installed reference package whose folder is the tiny test model."""
    module = types.ModuleType(REFERENCE_PACKAGE)
    module.get_model_path = lambda: tiny_model_dir  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, REFERENCE_PACKAGE, module)
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    return tiny_model_dir


@pytest.fixture()
def no_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import` raise ImportError, as when the distribution is absent.
    monkeypatch.setitem(sys.modules, REFERENCE_PACKAGE, None)  # type: ignore[arg-type]
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)


def test_the_argument_wins_over_env_and_reference(
    fake_reference: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(MODEL_ENV_VAR, str(tmp_path / "from_env"))
    assert resolve_model(tmp_path / "given") == str(tmp_path / "given")


def test_env_var_wins_over_the_reference(fake_reference: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV_VAR, "/models/from_env")
    assert resolve_model(None) == "/models/from_env"
    assert default_model_path() == Path("/models/from_env")


def test_installed_reference_is_the_default(fake_reference: Path) -> None:
    assert default_model_path() == fake_reference
    assert resolve_model(None) == str(fake_reference)


def test_blank_env_var_is_unset(fake_reference: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV_VAR, "  ")
    assert default_model_path() == fake_reference


def test_missing_reference_package_says_how_to_get_one(no_reference: None) -> None:
    with pytest.raises(FileNotFoundError, match=r"no model named and no default model installed.*pip install -e models/reference"):
        default_model_path()


def test_reference_without_weights_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module = types.ModuleType(REFERENCE_PACKAGE)
    module.get_model_path = lambda: tmp_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, REFERENCE_PACKAGE, module)
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=r"holds no config.json; reinstall it"):
        default_model_path()


def test_empty_model_argument_is_refused() -> None:
    with pytest.raises(ValueError, match="model is an empty string"):
        resolve_model("")


def test_classify_without_a_model_uses_the_reference(fake_reference: Path) -> None:
    from fakereview_nlp import FakeReviewClassifier, classify

    texts = ["Best hotel ever!!! Amazing staff!!!", "Room was fine, parking pricey."]
    verdicts = classify(texts, device="cpu", dtype="float32")
    expected = FakeReviewClassifier.from_pretrained(fake_reference, device="cpu", dtype="float32").classify(texts)
    assert verdicts == expected


def test_classify_without_any_model_raises_before_loading(no_reference: None) -> None:
    from fakereview_nlp import classify

    with pytest.raises(FileNotFoundError, match="no default model installed"):
        classify(["a review"])


def test_cli_classify_without_model_uses_the_default(fake_reference: Path, tmp_path: Path) -> None:
    from fakereview_nlp.cli.main import main

    source = tmp_path / "in.csv"
    source.write_text("id,text\na,Lovely stay.\nb,Best ever!!!\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["classify", str(source), "-o", str(out), "--no-progress", "--device", "cpu"]) == 0
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("id,text,fake_score,label,flagged")


def test_the_shipped_reference_package_points_at_its_model_folder() -> None:
    """The distribution under models/reference, as the README's set-up installs it."""
    root = Path(__file__).resolve().parents[1] / "models" / "reference"
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import fakereview_reference_model as m; "
        "print(m.get_model_path())"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == root / "fakereview_reference_model" / "model"


def test_default_model_module_imports_no_torch() -> None:
    # `fakereview --help` and default_model_path() must stay cheap.
    code = "import sys, fakereview_nlp.model.default_model; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert default_model.__all__
