"""The house's layers, read from the code's imports: one-way, no circles.

Engine (``lingua_core`` minus ``cli`` and ``train``) < training tools (``lingua_core.train``)
< command line (``lingua_core.cli``); the language server (``server``) uses the engine only.
Imports inside functions and under ``if TYPE_CHECKING:`` count as much as those at the top:
a lazy import or a type-only one still ties the two modules together, it only hides the tie
from Python's loader.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lingua_core", "server")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports: ``from pkg import mod`` names the module ``pkg.mod``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def layer(module: str) -> str:
    if module.startswith("server"):
        return "server"
    for sub in ("cli", "train"):
        if module == f"lingua_core.{sub}" or module.startswith(f"lingua_core.{sub}."):
            return sub
    return "engine" if module != "lingua_core" else "face"


# What each layer may import besides itself. The package face (``lingua_core/__init__.py``)
# hands the engine's names on and belongs to the engine.
ALLOWED = {
    "engine": {"engine", "face"},
    "face": {"engine"},
    "train": {"engine", "face"},
    "cli": {"engine", "face", "train"},
    "server": {"engine", "face"},
}


def test_each_layer_imports_only_the_layers_below_it() -> None:
    graph = import_graph()
    wrong = sorted(
        f"{source} ({layer(source)}) imports {target} ({layer(target)})"
        for source, targets in graph.items()
        for target in targets
        if layer(target) != layer(source) and layer(target) not in ALLOWED[layer(source)]
    )
    assert not wrong, "\n".join(wrong)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module: the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_import_circles() -> None:
    graph = import_graph()
    # A package's face re-exports its modules; a module importing a name from its own face
    # is a circle in the graph but not in the design, so the faces' own edges are left out.
    faces = {name for name, path in project_modules().items() if path.name == "__init__.py"}
    without_faces = {source: targets - faces for source, targets in graph.items() if source not in faces}
    circles = strongly_connected(without_faces)
    assert not circles, "\n".join(" <-> ".join(c) for c in circles)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_the_circle_finder_finds_circles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert strongly_connected(graph) == expected


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    # cli/main.py imports the training commands at the top; engine_commands imports the
    # Compressor inside its handler, which must count.
    assert "lingua_core.cli.train_commands" in graph["lingua_core.cli.main"]
    assert "lingua_core.api" in graph["lingua_core.cli.engine_commands"]


HEAVY = ("torch", "transformers")


def _loaded_after(code: str) -> list[str]:
    """The heavy modules loaded once ``code`` ran in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return done.stdout.splitlines()[-1].split()[1:]


def test_counting_and_catching_errors_load_no_torch() -> None:
    loaded = _loaded_after(
        "from lingua_core import CompressionCancelled, LinguaError, count_tokens\n"
        "assert count_tokens('Count me, please.') > 0"
    )
    assert loaded == []


def test_lingua_count_loads_no_torch(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Summarize the report in three bullet points.\n", encoding="utf-8")
    loaded = _loaded_after(f"from lingua_core.cli import main\nmain(['count', {str(prompt)!r}, '--json'])")
    assert loaded == []


def test_the_probe_sees_torch_when_it_loads() -> None:
    assert "torch" in _loaded_after("import lingua_core.methods.iterative")


LONG_MODULE = 500


def test_a_long_module_says_why_it_is_one_file() -> None:
    """Past about 500 lines a module must say at its top why it is one file (the house rule);
    otherwise it is two modules waiting to be split."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    silent = []
    for name in tracked:
        text = (ROOT / name).read_text(encoding="utf-8")
        if text.count("\n") > LONG_MODULE and "one file" not in (ast.get_docstring(ast.parse(text)) or "").lower():
            silent.append(name)
    assert not silent, f"over {LONG_MODULE} lines with no word at the top on why they are one file: {silent}"
