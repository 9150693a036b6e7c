"""A second, independent LSP client: headless Neovim starts the server, hovers, lists and applies
a compress action on a real prompt file. Neovim's own LSP code does the position encoding,
resolving and edit application, so this checks the server against an editor, not against
our own test client."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import PROMPTS, ROOT, hover_rows, lingua_count

NVIM = shutil.which("nvim")
SCRIPT = Path(__file__).with_name("neovim_client.lua")

pytestmark = pytest.mark.skipif(
    NVIM is None, reason="nvim is not installed (apt-get install -y neovim; scripts/setup.sh does it)"
)


def test_neovim_hovers_lists_and_applies_a_compress_action(tmp_path: Path) -> None:
    source = PROMPTS / "prompty" / "basic.prompty"
    assert source.exists(), f"the shared evaluation data is expected beside the repo: {source}"
    workspace = tmp_path / "workspace"
    (workspace / "prompts").mkdir(parents=True)
    path = workspace / "prompts" / source.name
    shutil.copyfile(source, path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    hover_line = next(i for i, line in enumerate(lines) if "{{firstName}} to find" in line) + 1
    first = lines.index("system:") + 2  # the paragraph under the role marker
    last = first + 2
    out = tmp_path / "nvim-result.json"
    env = {
        **os.environ,
        "LINGUA_PYTHON": sys.executable,
        "LINGUA_ROOT": str(ROOT),
        "LINGUA_WORKSPACE": str(workspace),
        "LINGUA_NVIM_OUT": str(out),
        "LINGUA_HOVER_LINE": str(hover_line),
        "LINGUA_SELECT_FIRST": str(first),
        "LINGUA_SELECT_LAST": str(last),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")),  # the prepared model
    }
    command = [str(NVIM), "--headless", "-n", "-i", "NONE", "-u", str(SCRIPT), str(path)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.exists(), f"nvim wrote nothing (exit {run.returncode}): {run.stderr[-2000:]}"
    result = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, result
    assert run.returncode == 0
    assert result["steps"] == ["initialized", "hover", "actions", "applied"]

    rows = hover_rows(result["hover"])
    assert rows["File"][0] == lingua_count(text, tmp_path)["tokens"]
    system_block = text[text.index("system:") : text.index("user:")]
    assert rows["Role `system:`"][0] == lingua_count(system_block, tmp_path)["tokens"]

    assert result["titles"][:3] == ["Compress selection 2x", "Compress selection 3x", "Compress selection 5x"]
    selection = "\n".join(lines[first - 1 : last])
    new_text = result["text"]
    before, after = "\n".join(lines[: first - 1]), "\n".join(lines[last:])
    assert new_text.startswith(before) and new_text.rstrip("\n").endswith(after.rstrip("\n"))
    compressed = new_text[len(before) : len(new_text) - len(after)].strip()
    assert 0 < len(compressed) < 0.8 * len(selection)
    assert re.findall(r"\{\{\w+\}\}", new_text) == re.findall(r"\{\{\w+\}\}", text)
