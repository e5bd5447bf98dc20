"""The package's import structure, as a newcomer should be able to rely on it.

Every import counts: module-level, function-level, ``if TYPE_CHECKING:`` blocks and
``importlib.import_module("...")`` strings. Checked:

* no cycles (``if TYPE_CHECKING:`` imports never run, so they are left out of this one only);
* imports run one way, from the command line down to the leaves (:data:`LAYERS`);
* no private name (``_x``) is imported from another module;
* the package never imports ``training/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fakereview_nlp", "training")

#: Lowest first: a module may import its own layer and the layers below it, never one above.
#: A module takes the layer of the longest prefix that names it.
LAYERS: tuple[tuple[str, ...], ...] = (
    # leaves: no other module of the package
    (
        "fakereview_nlp.labels",
        "fakereview_nlp.text",
        "fakereview_nlp.files",
        "fakereview_nlp.errors",
        "fakereview_nlp.metrics",
        "fakereview_nlp.language",
    ),
    ("fakereview_nlp.data",),
    ("fakereview_nlp.model",),
    ("fakereview_nlp.runtime",),
    # occlusion needs only a scorer (a Protocol); the classifier offers explain() on top of it
    ("fakereview_nlp.explanations",),
    ("fakereview_nlp.inference",),
    # building an int8 model and timing the runtimes drive whole classifiers (float32 reference and candidates)
    ("fakereview_nlp.runtime.int8", "fakereview_nlp.runtime.measure"),
    ("fakereview_nlp.jobs",),
    ("fakereview_nlp.evaluation",),
    ("fakereview_nlp.cli",),
    ("fakereview_nlp",),  # the package's __init__: the public names, loaded lazily
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(tree: ast.AST) -> list[tuple[str, list[str], bool]]:
    """(module, names imported from it, under TYPE_CHECKING) for every import in ``tree``."""
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    found: list[tuple[str, list[str], bool]] = []
    for node in ast.walk(tree):
        checking = id(node) in typing_only
        if isinstance(node, ast.Import):
            found += [(alias.name, [], checking) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names], checking))
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, [], checking))
    return found


def import_graph(*, with_type_checking: bool = False) -> dict[str, set[str]]:
    """module -> the modules of this repository it imports anywhere in its body."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for module, names, checking in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if checking and not with_type_checking:
                continue
            for target in [module, *(f"{module}.{n}" for n in names)]:
                # a package's __init__ is not an edge worth following: importing a submodule runs it
                if target in modules and target != name and target not in PACKAGES:
                    graph[name].add(target)
    return graph


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for layer, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    return None if best is None else best[1]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(import_graph()) == []


def test_every_package_module_has_a_layer() -> None:
    assert [m for m in _modules() if m.startswith("fakereview_nlp") and layer_of(m) is None] == []


def test_imports_never_climb_a_layer() -> None:
    upward = {
        (module, target)
        for module, targets in import_graph(with_type_checking=True).items()
        if module.startswith("fakereview_nlp")
        for target in targets
        if target.startswith("fakereview_nlp") and layer_of(target) > layer_of(module)  # type: ignore[operator]
    }
    assert sorted(upward) == []


def test_no_private_name_imported_across_modules() -> None:
    offenders = []
    for name, path in _modules().items():
        for module, names, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not module.startswith(PACKAGES):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            private += [part for part in module.split(".") if part.startswith("_") and not part.startswith("__")]
            if private:
                offenders.append((name, module, private))
    assert offenders == []


def test_package_never_imports_training() -> None:
    graph = import_graph(with_type_checking=True)
    offenders = {m: sorted(t for t in ts if t.startswith("training")) for m, ts in graph.items()}
    assert {m: ts for m, ts in offenders.items() if m.startswith("fakereview_nlp") and ts} == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import importlib\nimportlib.import_module('fakereview_nlp.cli.main')", "fakereview_nlp.cli.main"),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fakereview_nlp import inference", "fakereview_nlp"),
        ("def f():\n    from fakereview_nlp.jobs.local import classify_file", "fakereview_nlp.jobs.local"),
    ],
)
def test_the_check_sees_strings_type_checking_and_function_level_imports(source: str, expected: str) -> None:
    assert expected in [module for module, _, _ in _imports(ast.parse(source))]


def test_layers_flag_an_upward_import() -> None:
    assert layer_of("fakereview_nlp.runtime.devices") < layer_of("fakereview_nlp.inference")  # type: ignore[operator]
    assert layer_of("fakereview_nlp.runtime.int8") > layer_of("fakereview_nlp.inference")  # type: ignore[operator]
    assert layer_of("fakereview_nlp.labels") == 0
