"""The frameworks stay optional: only each adapter's own module imports its framework, and an
adapter without its extra says what to install. Python processes of their own, with the
frameworks blocked (``sys.modules[name] = None`` makes any import of them fail)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("langchain", "langchain_core", "langchain_classic", "llama_index")
ALLOWED = {
    "lingua_core/integrations/langchain.py": {"langchain_core"},
    "lingua_core/integrations/llamaindex.py": {"llama_index"},
}


def run_without_frameworks(code: str) -> subprocess.CompletedProcess[str]:
    blocked = "".join(f"sys.modules[{name!r}] = None\n" for name in FRAMEWORKS)
    return subprocess.run(
        [sys.executable, "-c", f"import sys\n{blocked}{code}"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_lingua_and_the_shared_part_import_without_the_frameworks() -> None:
    done = run_without_frameworks(
        "import lingua_core, lingua_core.integrations, lingua_core.integrations.documents\n"
        f"loaded = [m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in {FRAMEWORKS!r}]\n"
        "print('loaded:', loaded)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded: []"


@pytest.mark.parametrize(("module", "extra"), [("langchain", "langchain"), ("llamaindex", "llamaindex")])
def test_an_adapter_without_its_extra_says_what_to_install(module: str, extra: str) -> None:
    done = run_without_frameworks(f"import lingua_core.integrations.{module}")
    assert done.returncode == 1
    assert f"ImportError: lingua_core.integrations.{module} needs" in done.stderr
    assert f"pip install lingua-prompt[{extra}]" in done.stderr


def _top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_adapters_import_a_framework() -> None:
    """Lazy imports count too: a framework imported inside a function of another module
    would break it for everyone without the extra."""
    wrong = []
    for path in sorted((ROOT / "lingua_core").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        extra = (_top_level_imports(path) & set(FRAMEWORKS)) - ALLOWED.get(relative, set())
        if extra:
            wrong.append(f"{relative} imports {sorted(extra)}")
    assert not wrong, "\n".join(wrong)
