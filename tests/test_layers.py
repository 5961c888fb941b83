"""The package's architecture as a test: no import cycles, and imports only go down the layers
(docs/architecture.md). Every import statement counts, inside functions and TYPE_CHECKING too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src"

# top to bottom; a module may import its own layer's modules and any layer below it
LAYERS = (
    ("siege.cli", "siege.__main__"),
    ("siege.output",),
    ("siege.analysis",),
    ("siege.run",),
    ("siege.engines",),
    ("siege.results",),
    ("siege.scenario",),
    ("siege.model",),
    ("siege.rng", "siege.files", "siege.jsonsafe", "siege.errors", "siege._version", "siege"),
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "siege").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts).removesuffix(".__init__")
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of siege that ``name`` imports (any statement, anywhere in the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def _layer(name: str) -> int:
    for i, members in enumerate(LAYERS):
        if any(name == m or name.startswith(m + ".") for m in members if m != "siege"):
            return i
    assert name == "siege", f"{name} is in no layer of LAYERS; add it"
    return len(LAYERS) - 1


def test_no_module_imports_a_layer_above_its_own() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        if name == "siege":  # the lazy package root names the public API (PEP 562)
            continue
        for target in _imports(name, path, modules):
            if _layer(target) < _layer(name):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports going up the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    graph["siege"] = set()  # lazy root: loads nothing until an attribute is asked for
    cycles = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_importing_the_package_loads_none_of_its_layers() -> None:
    code = ("import sys, siege; print(sorted(m for m in sys.modules "
            "if m.startswith('siege.') and m != 'siege._version'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
