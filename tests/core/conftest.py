"""The `lingua` command run inside the test process, on the session's embedded model.

A CLI test in its own process pays 4-5 s of imports and model loading before it compresses
a word; most CLI tests are about what the command does with its arguments, not about
process start-up. They call ``lingua_core.cli.main`` here instead, with the real model the
session already loaded. A few tests in ``test_cli.py`` still run the real process (exit
codes, stdin, the entry point, loading by the CLI itself).
"""

from __future__ import annotations

import importlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lingua_core import Compressor
from lingua_core.models import EMBEDDED
from lingua_core.result import CompressionResult
from tests.conftest import SHARED_DATA


@dataclass
class CliRun:
    """What a run of the command left behind, shaped like a finished process."""

    returncode: int
    stdout: bytes
    stderr: bytes


InlineCli = Callable[..., CliRun]
FILE_RATE = 0.33  # the rate real prompt files are compressed at by ``compressed_file``
PROMPT_DIRS = ["graphrag", "awesome-copilot", "prompty", "promptflow"]


def prompt_files() -> list[Path]:
    """The real prompt templates of ``shared/data/prompts`` (placeholders, front matter, JSON)."""
    root = SHARED_DATA / "prompts"
    assert root.is_dir(), f"the shared evaluation data is expected beside the repo: {root}"
    return [f for d in PROMPT_DIRS for f in sorted((root / d).glob("*")) if f.is_file() and "LICENSE" not in f.name]


def file_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.fixture
def inline_cli(
    compressor: Compressor, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> InlineCli:
    """Run ``lingua ARGS`` in this process; the embedded model is the session's, any other loads for real."""
    from lingua_core import cli

    real_load = Compressor.load.__func__  # type: ignore[attr-defined]

    def load(cls: type[Compressor], model: str = EMBEDDED, **kwargs: Any) -> Compressor:
        if model == EMBEDDED and kwargs.get("device", "auto") == "auto" and kwargs.get("dtype", "auto") == "auto":
            return compressor
        return real_load(cls, model, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Compressor, "load", classmethod(load))
    # What the command sets for its whole process (library bars and warnings off, through the
    # environment and the warnings filters) would outlive the call here and reach later tests
    # and the processes they start; the real-process tests cover it.
    monkeypatch.setattr(importlib.import_module("lingua_core.cli.main"), "configure_output", lambda **_: None)

    def run(*args: str, stdin: bytes = b"") -> CliRun:
        capsysbinary.readouterr()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        code = 0
        try:
            cli.main([*args, "--no-progress"] if args and args[0] == "compress" else list(args))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        out, err = capsysbinary.readouterr()
        return CliRun(code, out, err)

    return run


@pytest.fixture(scope="session")
def compressed_file(compressor: Compressor) -> Callable[[Path], CompressionResult]:
    """A real prompt file compressed at 0.33 on the embedded model, once per session.

    Several tests read the same compression of the same file (its placeholders, its
    integrity); compressing each file once keeps the real-prompt checks affordable.
    """
    done: dict[Path, CompressionResult] = {}

    def compress(path: Path) -> CompressionResult:
        if path not in done:
            done[path] = compressor.compress(path.read_text(encoding="utf-8"), rate=FILE_RATE)
        return done[path]

    return compress
