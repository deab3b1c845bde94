"""The package's layers: every module imports, no import cycle, and dependencies point down.

The import graph is read from the source (every ``import`` statement, those inside functions
included), module by module, through the package-dir mapping of pyproject.toml. The rules:

* ``schemas`` is the bottom floor: it imports nothing of the package but itself and the foundation;
* ``producer``, ``projector`` and ``query`` stand on ``schemas`` and the foundation (errors, settings,
  ids, urls, output, delegate, transaction), never on the root's composition (store, CLI, servers, demo);
* the projector imports neither the query nor the producer; the query (reads) imports neither the
  producer nor the projector (writes);
* the foundation imports only the foundation.
"""

from __future__ import annotations

import ast
import importlib
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mlmd_log"
#: Root modules any layer may stand on: they import nothing above themselves.
FOUNDATION = frozenset(
    f"{PACKAGE}{suffix}" for suffix in ("", ".errors", ".settings", ".ids", ".urls", ".output", ".delegate", ".transaction")
)
#: Root subpackages that are foundation too: the Kafka client (the writer and the reader stand on it).
FOUNDATION_PACKAGES = (f"{PACKAGE}.kafka",)
LAYERS = ("schemas", "producer", "projector", "query")


def _package_dirs() -> dict[str, Path]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {name: ROOT / path for name, path in pyproject["tool"]["setuptools"]["package-dir"].items()}


def _modules() -> dict[str, Path]:
    """Every module of the package (name -> file), ``__main__`` scripts aside."""
    dirs = _package_dirs()
    found: dict[str, Path] = {}
    for package, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__main__" or "build" in parts:
                continue
            name = ".".join((package, *parts[:-1], *([] if parts[-1] == "__init__" else [parts[-1]])))
            # A folder mapped on its own (mlmd_log.query -> query/) is not also a part of its parent's folder.
            owner = max((p for p in dirs if name == p or name.startswith(f"{p}.")), key=len)
            if owner == package:
                found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The package's modules that ``name`` imports (a ``from X import Y`` names X.Y when Y is a module)."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for named in targets:
            target = named
            while target and target not in MODULES:  # `import a.b.c` names module a.b.c, or a.b when c is not one
                target = target.rpartition(".")[0]
            if target.startswith(PACKAGE) and target != name:
                yield target


GRAPH = {name: sorted(set(_imports(name, path))) for name, path in MODULES.items()}


def _layer(module: str) -> str:
    """``schemas``, ``producer``, ``projector``, ``query``, ``foundation`` or ``composition``."""
    for layer in LAYERS:
        if module == f"{PACKAGE}.{layer}" or module.startswith(f"{PACKAGE}.{layer}."):
            return layer
    if module in FOUNDATION or any(module == p or module.startswith(p + ".") for p in FOUNDATION_PACKAGES):
        return "foundation"
    return "composition"


def test_the_graph_covers_the_package() -> None:
    assert {"mlmd_log.store", "mlmd_log.query.reader", "mlmd_log.projector.engine", "mlmd_log.schemas.rows",
            "mlmd_log.grpc.server", "mlmd_log.query.filter.parser"} <= MODULES.keys()
    assert "mlmd_log.query.reader" in GRAPH["mlmd_log.store"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components: a component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert cycles == []


def _violations(rule: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for every import from a layer into a layer its rule forbids."""
    out = []
    for module, imported in GRAPH.items():
        forbidden = rule.get(_layer(module), set())
        out += [f"{module} -> {target}" for target in imported if _layer(target) in forbidden]
    return out


def test_dependencies_point_down() -> None:
    others = {"producer", "projector", "query", "composition"}
    assert _violations({
        "schemas": others,
        "producer": {"projector", "query", "composition"},
        "projector": {"producer", "query", "composition"},
        "query": {"producer", "projector", "composition"},
        "foundation": {"schemas", *others},
    }) == []


def test_the_rule_sees_a_violation() -> None:
    """The checker itself: the store (composition) imports the query, which the query may not do back."""
    assert any(v.startswith("mlmd_log.store -> mlmd_log.query") for v in _violations({"composition": {"query"}}))
