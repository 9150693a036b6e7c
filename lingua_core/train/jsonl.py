"""Reading the JSONL files the training commands append to.

Every training file is appended one flushed line at a time, so an interrupted writer leaves
at most one torn last line; readers that may meet such a file skip it rather than fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError


def iter_jsonl(
    path: Path, *, tolerate_torn_tail: bool = False, what: str = "file"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line; a torn last line is skipped if tolerated."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"No such {what}: {path}") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            lines = handle.readlines()
        except UnicodeDecodeError as exc:
            raise InputError(f"{path} is not valid UTF-8 (byte {exc.start}): is it a JSONL file?") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if tolerate_torn_tail and number == len(lines) and not line.endswith("\n"):
                return
            raise InputError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(record, dict):
            raise InputError(f"{path}:{number}: expected a JSON object")
        yield number, record
