"""The layers hold: the pure core imports no I/O, and no module of `reconciler` imports itself
back through others (kopf's import-linter contract, checked here without a tool)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import reconciler

# The pure core (DESIGN.md's module map): spec -> model -> desired -> diff -> plan.
CORE = ("reconciler.nodes", "reconciler.compile", "reconciler.normalize", "reconciler.diff", "reconciler.plan",
        "reconciler.spec_terms", "reconciler.marker", "reconciler.layout", "reconciler.leafdiff",
        "reconciler.secret_paths", "reconciler.document", "reconciler.backend", "reconciler.spec.models",
        "reconciler.spec.graph", "reconciler.spec.checks", "reconciler.spec.ports", "reconciler.spec.schema",
        "reconciler.spec.module_models", "reconciler.sensitive")
# What the core must not load, even at import time: YAML, HTTP, SQLite, processes, and Loopform's
# own modules that read files, the environment or the terminal.
FORBIDDEN = ("yaml", "requests", "urllib3", "sqlite3", "_sqlite3", "subprocess",
             "reconciler.config", "reconciler.settings_file", "reconciler.interpolate", "reconciler.spec.loader",
             "reconciler.spec.source", "reconciler.spec.salvage", "reconciler.spec.messages",
             "reconciler.client", "reconciler.server", "reconciler.terminal", "reconciler.redact",
             "reconciler.planner", "reconciler.planfile", "reconciler.connection", "reconciler.cli")
PACKAGE = Path(reconciler.__file__).resolve().parent


def test_the_pure_core_imports_no_io() -> None:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in CORE)
            + f"print('\\n'.join(m for m in {FORBIDDEN!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == []


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The reconciler modules `path` imports anywhere (functions too), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` imports the submodule when there is one.
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def test_no_module_imports_itself_back() -> None:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, set(files)) - {name} for name, path in files.items()}
    # A package imports its parent package implicitly: edges to a module's own ancestors are not cycles.
    graph = {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert cycles == []
