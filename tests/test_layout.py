"""The shape of the code: no circle of imports among the project's modules, and dependencies point one way
(scripts and tests import the library, never the reverse; the stage sub-packages import only earlier stages)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ie_env", "agents", "offline_cache", "experiments")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(path: Path, name: str, modules: dict) -> set[str]:
    """Project modules imported anywhere in the file (top level or inside functions)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_no_import_cycles(graph):
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_library_never_imports_scripts_or_tests(graph):
    bad = {(m, d) for m, deps in graph.items() if not m.startswith("experiments")
           for d in deps if d.startswith(("experiments", "tests"))}
    assert bad == set()


ORDER = ["ie_env.data", "ie_env.web", "ie_env.learning", "offline_cache", "ie_env.envs", "agents", "ie_env.run"]
"""Layers from the bottom up: a module may import its own layer and the layers before it (and the shared
top-level modules ``ie_env.types``, ``paths``, ``atomic``, ``failpoints``)."""


def _layer(module: str) -> int | None:
    for i, prefix in enumerate(ORDER):
        if module == prefix or module.startswith(prefix + "."):
            return i
    return None


def test_stages_import_only_earlier_stages(graph):
    against = sorted((m, d) for m, deps in graph.items() for d in deps
                     if _layer(m) is not None and _layer(d) is not None and _layer(d) > _layer(m))
    assert against == []
