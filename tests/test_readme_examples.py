"""Issue 20 item 9: the README's Python example prints what the README shows (run with the shipped reference model)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d+\.\d+(?:e-?\d+)?(?:\.\.\.)?")


def _examples(markdown: str) -> list[tuple[str, str]]:
    """(code, shown output) of each ```python block that ends in ``# output`` comment lines."""
    examples = []
    for block in re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL):
        lines = block.rstrip("\n").splitlines()
        shown = []
        while lines and lines[-1].startswith("#"):
            shown.insert(0, lines.pop()[1:].strip())
        if shown:
            examples.append(("\n".join(lines), " ".join(shown)))
    return examples


def _run(code: str) -> object:
    """Execute ``code``; returns the value of its last expression (what the REPL would print)."""
    tree = ast.parse(code)
    last = tree.body.pop()
    assert isinstance(last, ast.Expr), "the example should end in the expression whose value it shows"
    namespace: dict[str, object] = {}
    exec(compile(tree, "<README>", "exec"), namespace)  # noqa: S102  (the README's own example)
    return eval(compile(ast.Expression(last.value), "<README>", "eval"), namespace)  # noqa: S307


def _matches(shown: str, printed: str) -> bool:
    """Same text (spacing aside), numbers compared to the digits shown (``0.9656...``: within 0.002, as
    bf16 and float32 CPUs differ in the last digits)."""
    text = [NUMBER.sub("#", re.sub(r"\s+", "", t)) for t in (shown, printed)]
    values = [[float(n.rstrip(".")) for n in NUMBER.findall(t)] for t in (shown, printed)]
    return text[0] == text[1] and all(abs(a - b) <= 2e-3 for a, b in zip(*values, strict=True))


def test_readme_example_prints_what_the_readme_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakereview_nlp import clear_cache, default_model_path

    monkeypatch.delenv("FAKEREVIEW_MODEL", raising=False)
    try:
        default_model_path()
    except FileNotFoundError:
        pytest.skip("the reference model is not installed (python3 -m pip install -e models/reference)")
    examples = _examples((REPO / "README.md").read_text(encoding="utf-8"))
    assert examples, "the README has no Python example with its output"
    for code, shown in examples:
        printed = repr(_run(code))
        assert _matches(shown, printed), f"README shows\n{shown}\nbut the code prints\n{printed}"
    clear_cache()


def test_the_comparison_catches_drift() -> None:
    shown = "[ReviewVerdict(label='fake', fake_score=0.9328..., flagged=False)]"
    assert _matches(shown, "[ReviewVerdict(label='fake', fake_score=0.93291, flagged=False)]")
    assert not _matches(shown, "[ReviewVerdict(label='genuine', fake_score=0.10599, flagged=False)]")
    assert not _matches(shown, "[ReviewVerdict(label='fake', fake_score=0.8, flagged=False)]")
