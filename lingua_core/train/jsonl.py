"""Reading the JSONL files the training commands append to.

Every training file is appended one flushed line at a time, so an interrupted writer leaves
at most one torn last line; readers that may meet such a file skip it rather than fail.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError
from lingua_core.textfiles import read_text


def iter_jsonl(
    path: Path, *, tolerate_torn_tail: bool = False, what: str = "file"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line; a torn last line is skipped if tolerated."""
    # Cut at "\n" only: str.splitlines would also cut at the U+2028 that JSON written with
    # ensure_ascii=False keeps raw inside a string.
    lines = io.StringIO(read_text(path, what)).readlines()
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


def iter_text_records(path: Path, field: str, option: str) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line number, object, text) of each record of an input file whose texts sit in ``field``;
    a record without one names ``option``, the command-line flag that picks another field."""
    for number, record in iter_jsonl(path):
        text = record.get(field)
        if not isinstance(text, str):
            raise InputError(f"{path}:{number}: no string field {field!r} (pick one with {option})")
        yield number, record, text
