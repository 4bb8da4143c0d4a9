"""The package's import graph: no cycles (imports inside functions counted), no import of
another package's private name, and no lower layer importing a higher one (issue 22)."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "ionraman").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every ``from ionraman... import name`` and ``import ionraman...``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ionraman"):
            found += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("ionraman")]
    return found


def _related(a: str, b: str) -> bool:
    """A package and its own submodules (a package's ``__init__`` re-exports them)."""
    return a == "ionraman" or b == "ionraman" or a.startswith(b + ".") or b.startswith(a + ".")


def test_no_import_cycles():
    mods = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in mods.items():
        for target, name in _imports(path):
            full = f"{target}.{name}"
            dest = full if full in mods else target
            if dest in mods and not _related(mod, dest):
                graph[mod].add(dest)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for mod in mods:
        if mod not in index:
            visit(mod)
    assert not cycles, f"import cycles: {cycles}"


def test_no_private_names_imported_across_packages():
    bad = []
    for mod, path in _modules().items():
        package = ".".join(mod.split(".")[:2])
        for target, name in _imports(path):
            private = name.startswith("_") and not name.startswith("__")
            if private and ".".join(target.split(".")[:2]) != package:
                bad.append(f"{mod} imports {target}.{name}")
    assert not bad, bad


LOWER = ("forcefields", "structures", "trajectory", "spectra", "transport", "polarizability",
         "screening")
"""Packages below MD in the layering structures → trajectory → spectra/transport/polarizability
→ forcefields → md → workflow/distillation → cli (screening is an analysis of spectra)."""
HIGHER = ("md", "workflow", "distillation", "cli")
"""What drives the lower packages and so must never be imported by them."""


def test_lower_layers_do_not_import_higher_ones():
    bad = []
    for mod, path in _modules().items():
        parts = mod.split(".")
        if len(parts) < 2 or parts[1] not in LOWER:
            continue
        for target, name in _imports(path):
            # ``from ionraman import md`` names the package in ``name``
            full = f"{target}.{name}" if target == "ionraman" and name else target
            dest = full.split(".")
            if len(dest) > 1 and dest[1] in HIGHER:
                bad.append(f"{mod} imports {full}")
    assert not bad, bad
