"""The package's shape, checked statically (``ast``; nothing is imported): no import circles,
the layering rules of docs/architecture.md, files and functions small enough to read.

Import edges follow import-linter's convention: ``from diffmesh.a.b import X`` is an edge to
module ``diffmesh.a.b`` (or to ``diffmesh.a.b.X`` when that is a module), not to the packages
above it. Two graphs are checked:

* module-level imports (those that run when the module is imported; ``if TYPE_CHECKING:``
  blocks excluded): a circle here is an import-order bug waiting to happen;
* every import, function-level (lazy) ones included: a lazy import is still a dependency, and a
  circle through one is a tangle the lazy import only hides. Forbidden edges count lazy imports too.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "diffmesh"

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 150
#: (importer, imported): no module of the first subpackage may import the second.
FORBIDDEN = [
    ("diffmesh.models", "diffmesh.convert"),  # networks do not know checkpoint formats
    ("diffmesh.metrics", "diffmesh.data"),  # metrics are maths on arrays, not on datasets
    ("diffmesh.body", "diffmesh.models"),  # the body model sits below the networks
    ("diffmesh.geometry", "diffmesh.data"),  # conventions sit below the datasets
    ("diffmesh.models", "diffmesh.accel"),  # the reference maths do not know their acceleration
    ("diffmesh.body", "diffmesh.accel"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The diffmesh modules an import statement of ``module`` names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:  # relative: resolved against the importing module's package
            package = module.split(".") if _modules()[module].name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    for name in names:
        if name.split(".")[0] != "diffmesh":
            continue
        while name and name not in _modules():  # diffmesh.a.b.X (a name, not a module) → diffmesh.a.b
            name = name.rpartition(".")[0]
        if name and name != module:
            yield name


def _imports(body: list[ast.stmt], module_level: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Import statements under ``body`` with whether each runs at import time."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt, module_level
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _imports(stmt.body, False)
        elif isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            yield from _imports(stmt.body, False)
            yield from _imports(stmt.orelse, module_level)
        else:  # class bodies, try/except, with, if ... run when their parent runs
            for field in ("body", "orelse", "finalbody", "handlers"):
                yield from _imports(getattr(stmt, field, None) or [], module_level)


@cache
def _graph(lazy: bool) -> dict[str, dict[str, int]]:
    """module → {imported module: line of the first such import}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in _modules().items():
        edges = graph.setdefault(module, {})
        for node, at_import in _imports(_tree(path).body, True):
            if at_import or lazy:
                for target in _targets(module, node):
                    edges.setdefault(target, node.lineno)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as one circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    edges = [
        f"{_modules()[a].relative_to(ROOT)}:{line} imports {b}"
        for a in component
        for b, line in graph[a].items()
        if b in members
    ]
    return "circle " + " <-> ".join(component) + " (" + "; ".join(edges) + ")"


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_sees_the_package() -> None:
    """The checks below are only as good as the graph: it has the known edges, lazy ones apart."""
    eager, lazy = _graph(lazy=False), _graph(lazy=True)
    assert len(eager) > 50 and "diffmesh.models.build" in eager["diffmesh.registry"]
    assert "diffmesh.body" not in eager["diffmesh.registry"] and "diffmesh.body" in lazy["diffmesh.registry"]
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("lazy", [False, True], ids=["module-level", "with-lazy"])
def test_no_import_circles(lazy: bool) -> None:
    graph = _graph(lazy)
    cycles = [_describe(c, graph) for c in _cycles(graph)]
    assert not cycles, "import circles in src/diffmesh:\n" + "\n".join(cycles)


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN, ids=[f"{a}-{b}" for a, b in FORBIDDEN])
def test_forbidden_imports(importer: str, imported: str) -> None:
    graph = _graph(lazy=True)
    offenders = [
        f"{_modules()[m].relative_to(ROOT)}:{line} imports {target}"
        for m, targets in graph.items()
        if _inside(m, importer)
        for target, line in targets.items()
        if _inside(target, imported)
    ]
    assert not offenders, f"{importer} must not import {imported}:\n" + "\n".join(offenders)


def test_modules_are_short() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _modules().values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them):\n" + "\n".join(long)


def test_functions_are_short() -> None:
    long = [
        f"{p.relative_to(ROOT)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
        for p in _modules().values()
        for node in ast.walk(_tree(p))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them):\n" + "\n".join(long)


def test_test_modules_import_no_other_test_module() -> None:
    """Shared test code lives in helper modules (``tests/_*.py``) or conftest fixtures."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node, _ in _imports(_tree(path).body, True):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "tests":
                names = [f"tests.{a.name}" for a in node.names]
            bad = [n for n in names if n.split(".")[:2][-1].startswith("test_") and n.startswith("tests.")]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in bad]
    assert not offenders, "test modules import other test modules:\n" + "\n".join(offenders)


def test_the_library_does_not_import_the_tests() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{node.lineno}"
        for p in _modules().values()
        for node, _ in _imports(_tree(p).body, True)
        if any(
            n.split(".")[0] == "tests"
            for n in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
        )
        and not (isinstance(node, ast.ImportFrom) and node.level)
    ]
    assert not offenders, "src/diffmesh imports the test suite: " + ", ".join(offenders)


# ------------------------------------------------------------------ the test suite itself


def _test_sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests").glob("*.py"))}


def test_markers_are_declared_and_used() -> None:
    """Every declared marker marks some test (``--strict-markers`` already refuses undeclared ones)."""
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    declared = {m.split(":")[0].strip() for m in config["markers"]}
    builtin = {"parametrize", "skipif", "skip", "xfail", "usefixtures", "filterwarnings"}
    used = {m for text in _test_sources().values() for m in re.findall(r"pytest\.mark\.(\w+)", text)} - builtin
    assert used <= declared, f"markers used but not declared in pyproject.toml: {sorted(used - declared)}"
    assert declared <= used, f"markers declared in pyproject.toml but used by no test: {sorted(declared - used)}"


def test_ci_runs_every_test() -> None:
    """The README test command (what ``.ci/run`` runs) deselects nothing, and no test turns a
    missing dependency into a silent skip: everything a test needs ships in the dev install."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = readme.split("<!-- test-command -->", 1)[1].split("```", 2)[1]
    pytest_args = command.split("pytest", 1)[1]
    for flag in (" -m ", " -k ", "--ignore", "--deselect"):
        assert flag not in f" {pytest_args} ", f"the README test command deselects tests ({flag.strip()}): {pytest_args.strip()}"
    offenders = [
        f"{p.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
        for p, text in _test_sources().items()
        if p.name != Path(__file__).name
        for m in re.finditer(r"importorskip\(", text)
    ]
    assert not offenders, "pytest.importorskip hides a broken install; import the module plainly: " + ", ".join(offenders)
