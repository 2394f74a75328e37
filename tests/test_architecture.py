"""The layers' import rules (ARCHITECTURE.md), read from the source with ast: the domain
imports no edge, no framework and no Alembic, and no project module imports itself back."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "bot", "migrations")
# What core/ never imports: the edges, their frameworks, and the schema's migrations.
NOT_IN_CORE = ("bot", "migrations", "alembic", "slack_sdk", "slack_bolt", "starlette", "uvicorn")
NOT_IN_CORE += ("click",)
# Names a distribution is imported by, when they differ.
IMPORTED_AS = {"pyyaml": "yaml", "python-dateutil": "dateutil"}


def _modules() -> dict[str, Path]:
    modules = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = _modules()


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:` (never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    lines.add(getattr(inner, "lineno", -1))
    return lines


def _imports(name: str, path: Path, only_line: int | None = None) -> Iterator[str]:
    """Every module `name` imports (at any depth of the file), as dotted names."""
    tree = _tree(path)
    skipped = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if line in skipped or (only_line is not None and line != only_line):
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield child if child in MODULES else base


def _in_functions(path: Path) -> set[int]:
    """Line numbers of imports made inside a function (when it runs, not on import)."""
    tree = _tree(path)
    return {
        inner.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    }


def _project_imports(name: str) -> set[str]:
    """The project modules `name` imports. A package that loads its own submodules when
    asked (the command line registering its commands, the heartbeat choosing a backend)
    does not import them: they may import the package."""
    found = set()
    path = MODULES[name]
    lazy = _in_functions(path) if path.name == "__init__.py" else set()
    tree = _tree(path)
    lines = {n.lineno for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)}
    for line in lines:
        for imported in _imports_at(name, path, line):
            while imported and imported not in MODULES:
                imported = imported.rpartition(".")[0]
            if not imported or imported == name:
                continue
            if line in lazy and imported.startswith(name + "."):
                continue
            found.add(imported)
    return found


def _imports_at(name: str, path: Path, line: int) -> Iterator[str]:
    return _imports(name, path, only_line=line)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] == "core"))
def test_the_domain_imports_no_edge_framework_or_migrations(name: str) -> None:
    forbidden = [
        imported
        for imported in _imports(name, MODULES[name])
        if imported.split(".")[0] in NOT_IN_CORE
    ]
    assert forbidden == [], f"{name} imports {forbidden}"


def _session_imports(tree: ast.Module) -> list[str]:
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy.orm")
        for alias in node.names
        if alias.name in ("Session", "sessionmaker", "scoped_session")
    ]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.split(".")[0] == "bot"))
def test_the_edges_never_import_the_session(name: str) -> None:
    # An edge calls a use case with a unit of work (core/db.py); the session is the domain's.
    assert _session_imports(_tree(MODULES[name])) == [], f"{name} imports the Session"


def test_no_project_module_imports_itself_back_through_others() -> None:
    graph = {name: _project_imports(name) for name in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for imported in sorted(graph[name]):
            if state.get(imported) == 1:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert cycles == [], "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_every_package_imported_directly_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        IMPORTED_AS.get(name, name).replace("-", "_")
        for requirement in project["dependencies"]
        for name in [_distribution(requirement)]
    }
    standard = set(sys.stdlib_module_names)
    imported = {
        top
        for name, path in MODULES.items()
        for module in _imports(name, path)
        for top in [module.split(".")[0]]
        if top and top not in LAYERS and top not in standard
    }
    assert imported - declared == set()


def _distribution(requirement: str) -> str:
    name = requirement
    for stop in "<>=!~[; ":
        name = name.split(stop)[0]
    return name.strip().lower()


def test_the_schemas_metadata_names_every_table_the_edges_own_too() -> None:
    # A fresh interpreter: in this one, other tests have imported the modules already.
    code = "from migrations.schema import metadata; print(' '.join(sorted(metadata().tables)))"
    tables = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"slack_bots", "slack_installations", "slack_oauth_states"} <= set(tables)
    assert {"memory_blocks", "event_deliveries", "report_messages", "cycles"} <= set(tables)


# Full-text search still branches inside core/context (its own rework moves it into
# core/dialect.py); migrations already applied stay as they ran.
DIALECT_BRANCHES_ALLOWED = ("core.dialect", "core.context.", "migrations.versions.")
DATABASES = ("sqlite", "postgresql", "postgres")


def _asks_which_database(node: ast.AST) -> bool:
    """`x.dialect.name == ...` or `url.startswith("sqlite")`."""
    if isinstance(node, ast.Compare):
        return ast.unparse(node.left).endswith("dialect.name")
    if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("startswith"):
        return any(isinstance(a, ast.Constant) and a.value in DATABASES for a in node.args)
    return False


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_dialect_module_branches_on_the_database(name: str) -> None:
    if name.startswith(DIALECT_BRANCHES_ALLOWED):
        return
    tree = _tree(MODULES[name])
    branches = [ast.unparse(node) for node in ast.walk(tree) if _asks_which_database(node)]
    assert branches == [], f"{name} branches on the database: {branches}"


def test_no_file_keeps_a_merge_conflict_marker() -> None:
    """A conflict resolved by hand leaves nothing of git's markers behind (a merge once
    committed them into two documents)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    markers = (b"<<<<<<< ", b">>>>>>> ")
    found = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if not path.is_file() or path.suffix in (".png", ".db", ".lock"):
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if line.startswith(markers):
                found.append(f"{name.decode()}:{number}")
    assert found == []
