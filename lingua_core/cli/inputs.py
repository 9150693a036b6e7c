"""Reading a prompt for a command: a file or stdin, refused before any model loads when it
cannot be a prompt (missing, a folder, too big, not UTF-8), with one clear line."""

from __future__ import annotations

import sys

from lingua_core.errors import InputError
from lingua_core.textfiles import decode_utf8, read_bytes

MAX_FILE_BYTES = 4 * 1024 * 1024


def read_input(name: str) -> str:
    """Text of a file or stdin, refusing what cannot be a prompt before any model loads."""
    if name == "-":
        try:
            raw = sys.stdin.buffer.read()
        except OSError as exc:
            raise InputError(f"Cannot read {name}: {exc.strerror}") from None
    else:
        raw = read_bytes(name)
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{name} is {len(raw) / 1e6:.1f} MB; prompts over {MAX_FILE_BYTES / 1e6:.0f} MB are refused.")
    return decode_utf8(raw, name)
