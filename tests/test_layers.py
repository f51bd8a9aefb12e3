"""The package's floors: a module imports only from its own package and from floors below it
(shared/DESIGN.md's layout), and no two modules import each other, even through others.

An import inside a function counts as much as one at the top: it is the same dependency, only
later. Imports under ``if TYPE_CHECKING:`` count for the floors too (a type names a dependency)
but not for cycles, which only module-level imports can make."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "advrl"

FLOORS: list[set[str]] = [
    {"checks"},  # the ground: validation helpers and the config error
    {"files", "yamlio", "periodic", "progress", "plugins"},
    {"envs"},
    {"agents", "logging"},
    {"episodes"},
    {"pair", "gail", "eval"},
    {"config"},
    {"runs"},
    {"runners"},
    {"sweeps"},
    {"reports"},
    {"cli"},
]
"""Lowest first. Packages on one floor are siblings: neither imports the other."""


def floor_of(part: str) -> int:
    return next(i for i, floor in enumerate(FLOORS) if part in floor)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The advrl modules ``path`` imports (``from advrl import progress`` names
    ``advrl.progress``); with ``top_level_only``, those a module runs when it is imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    known = modules()
    found: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                if top_level_only:
                    continue
            if top_level_only and nested:
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("advrl"))
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith("advrl"):
                module = str(child.module)
                for alias in child.names:  # `from advrl import progress` names a module
                    sub = f"{module}.{alias.name}"
                    found.add(sub if sub in known else module)
            visit(child, nested)

    visit(tree, False)
    return found


def package_of(module: str) -> str | None:
    """``advrl.pair.teachers`` -> ``pair``; ``advrl.config`` -> ``config``; ``advrl`` -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_package_and_module_has_a_floor() -> None:
    placed = {p for floor in FLOORS for p in floor}
    tops = {package_of(m) for m in modules()} - {None}
    assert tops <= placed, f"not on any floor (add to FLOORS and DESIGN.md): {tops - placed}"


def test_no_module_imports_from_a_floor_above_it_or_a_sibling() -> None:
    wrong = []
    for name, path in modules().items():
        own = package_of(name)
        if own is None:  # advrl/__init__.py registers the envs: the package's own entry
            continue
        for target in imports(path, top_level_only=False):
            other = package_of(target)
            if other is None or other == own:
                continue
            if floor_of(other) >= floor_of(own):
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports against the floors:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle() -> None:
    graph = {name: imports(path, top_level_only=True) for name, path in modules().items()}
    done: set[str] = set()
    stack: list[str] = []

    def walk(node: str) -> None:
        if node in stack:
            cycle = [*stack[stack.index(node) :], node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done or node not in graph:
            return
        stack.append(node)
        for target in sorted(graph[node]):
            if target != node and not node.startswith(target + "."):  # (a package's own init)
                walk(target)
        stack.pop()
        done.add(node)

    for name in graph:
        walk(name)


def test_the_check_catches_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    """The scanner itself: an upward import and a mutual import are found."""
    (tmp_path / "a.py").write_text("from advrl.cli import main\n")
    assert "advrl.cli" in imports(tmp_path / "a.py", top_level_only=False)
    (tmp_path / "b.py").write_text(
        "def f():\n    from advrl import progress\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from advrl.runs import x\n"
    )
    assert imports(tmp_path / "b.py", top_level_only=False) == {"advrl.progress", "advrl.runs"}
    assert imports(tmp_path / "b.py", top_level_only=True) == set()
    assert floor_of("cli") > floor_of("envs") and floor_of("pair") == floor_of("gail")


def test_the_core_loops_report_progress_through_a_callback() -> None:
    """UED's students and imitation's learners take an ``on_step`` hook from the runner; they do
    not call the terminal display (``advrl.progress``) themselves. (Recording demos is a
    command's loop and counts its episodes there.)"""
    callers = {
        name
        for name, path in modules().items()
        if package_of(name) in ("pair", "gail")
        and "advrl.progress" in imports(path, top_level_only=False)
    }
    assert callers == {"advrl.gail.record"}
