"""The floors of the code base, and the imports that break them.

Every import runs downward or sideways: a module may import from its own floor and the floors
below it, never from one above. From the bottom:

    floor  name         packages and modules
    -----  -----------  ---------------------------------------------------------------------
    0      core         rivergen's foundations: settings, errors, db, cache, events, clients,
                        objectstore, idempotency, ... (every rivergen module not listed above
                        floor 0)
    1      areas        rivergen's areas and capability services: accounts, billing,
                        connectors, datasets, engine, jobs, notifications, quality, realtime,
                        semantic, storage, services, core (Backend Core)
    2      agents       rivergen.agents and rivergen.domain (the agents over the areas)
    3      api          rivergen.api, rivergen.web, rivergen.cli, rivergen.demo, rivergen.sdk
    4      compute      compute/: Ray adapters and kernels, above the whole library
    5      deployments  deployments/ (and ray.serve): the Serve applications, on top

``scripts/layers`` counts the imports that run from a lower floor to a higher one (each
importing module and imported module once, imports inside functions and ``TYPE_CHECKING``
blocks included), lists them, and lists the import circles among rivergen's modules (of every
import; marked: of the imports at module level, the ones that run when a module loads).
``tests/unit/test_layers.py`` holds the rules that must stay true.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rivergen", "compute", "deployments")

# (module prefix, floor): the longest matching prefix decides; a rivergen module that matches
# none of these is on floor 0 (core).
FLOORS: tuple[tuple[str, int], ...] = (
    ("rivergen", 0),
    ("rivergen.accounts", 1),
    ("rivergen.billing", 1),
    ("rivergen.connectors", 1),
    ("rivergen.core", 1),
    ("rivergen.datasets", 1),
    ("rivergen.engine", 1),
    ("rivergen.jobs", 1),
    ("rivergen.notifications", 1),
    ("rivergen.quality", 1),
    ("rivergen.realtime", 1),
    ("rivergen.semantic", 1),
    ("rivergen.services", 1),
    ("rivergen.storage", 1),
    ("rivergen.agents", 2),
    ("rivergen.domain", 2),
    ("rivergen.api", 3),
    ("rivergen.cli", 3),
    ("rivergen.demo", 3),
    ("rivergen.sdk", 3),
    ("rivergen.web", 3),
    ("rivergen.__main__", 3),
    ("compute", 4),
    ("deployments", 5),
    ("ray.serve", 5),
)
FLOOR_NAMES = ("core", "areas", "agents", "api", "compute", "deployments")


def floor_of(module: str) -> int | None:
    """The floor of ``module``, or None for a module outside the code base (a library)."""
    best: tuple[int, int] | None = None
    for prefix, floor in FLOORS:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > best[0]
        ):
            best = (len(prefix), floor)
    return None if best is None else best[1]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (the most specific one that exists)
    line: int
    module_level: bool  # runs when the source loads (not in a function, not TYPE_CHECKING)


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the code base by its dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, module_level: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield statement, False
                yield from _walk(statement, False)
            for statement in child.orelse:
                yield statement, module_level
                yield from _walk(statement, module_level)
        else:
            yield child, module_level
            yield from _walk(child, module_level)


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """The imports in the module ``name`` at ``path``; a ``from p import x`` names ``p.x``
    when that is a module of the code base."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node, module_level in _walk(tree, True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, module_level)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                # `from ray import serve` imports ray.serve, whose floor is not ray's.
                deeper = base not in known and floor_of(candidate) != floor_of(base)
                target = candidate if candidate in known or deeper else base
                yield Import(name, target, node.lineno, module_level)


def all_imports(root: Path = ROOT) -> list[Import]:
    files = module_files(root)
    known = set(files)
    return [found for name, path in files.items() for found in imports_of(name, path, known)]


def upward(imports: list[Import]) -> list[Import]:
    """The imports from a lower floor to a higher one, each pair of modules once."""
    seen: set[tuple[str, str]] = set()
    found: list[Import] = []
    for item in imports:
        low, high = floor_of(item.source), floor_of(item.target)
        if low is None or high is None or high <= low or (item.source, item.target) in seen:
            continue
        seen.add((item.source, item.target))
        found.append(item)
    return found


def cycles(
    imports: list[Import], *, at_load: bool = False, package: str = "rivergen"
) -> list[list[str]]:
    """The import circles among ``package``'s modules: each strongly connected component of
    more than one module, sorted. ``at_load``: of the imports that run when a module loads
    (module level) only; else of every import, in functions and ``TYPE_CHECKING`` too."""
    graph: dict[str, set[str]] = {}
    for item in imports:
        inside = (item.source, item.target)
        if at_load and not item.module_level:
            continue
        if all(m == package or m.startswith(package + ".") for m in inside):
            graph.setdefault(item.source, set()).add(item.target)
            graph.setdefault(item.target, set())
    return [sorted(c) for c in _components(graph) if len(c) > 1]


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for succ in graph[todo.pop()] - seen:
            seen.add(succ)
            todo.append(succ)
    return seen


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    # A module's circle: the modules it reaches that reach it back (a few hundred modules).
    reach = {node: _reachable(graph, node) for node in graph}
    found: set[tuple[str, ...]] = set()
    for node in graph:
        if node in reach[node]:
            found.add(tuple(sorted(m for m in reach[node] if node in reach[m])))
    return sorted(list(c) for c in found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/layers",
        description=(
            "Count the imports that run from a lower floor of the code base to a higher one "
            "(core < areas < agents < api < compute < deployments; scripts/layers.py has the "
            "table), list them, and list the import circles among rivergen's modules."
        ),
    )
    parser.add_argument("--quiet", action="store_true", help="print the counts only")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when there is any upward import or circle"
    )
    args = parser.parse_args(argv)
    imports = all_imports()
    up = upward(imports)
    circles = cycles(imports)
    at_load = cycles(imports, at_load=True)
    print(f"upward imports: {len(up)}")
    if not args.quiet:
        for item in sorted(up, key=lambda i: (i.source, i.target)):
            source, target = (
                FLOOR_NAMES[floor_of(item.source) or 0],
                FLOOR_NAMES[floor_of(item.target) or 0],
            )
            print(f"  {item.source}:{item.line} ({source}) -> {item.target} ({target})")
    print(f"import circles: {len(circles)} ({len(at_load)} of imports at module level)")
    if not args.quiet:
        for circle in circles:
            print("  " + " <-> ".join(circle) + ("  (at load)" if circle in at_load else ""))
    return 1 if args.check and (up or circles) else 0


if __name__ == "__main__":
    sys.exit(main())
