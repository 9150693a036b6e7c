"""Reading a prompt for a command: a file or stdin, refused before any model loads when it
cannot be a prompt (missing, a folder, too big, not UTF-8), with one clear line."""

from __future__ import annotations

import sys
from pathlib import Path

from lingua_core.errors import InputError

MAX_FILE_BYTES = 4 * 1024 * 1024


def read_input(name: str) -> str:
    """Text of a file or stdin, refusing what cannot be a prompt before any model loads."""
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise InputError(f"No such file: {name}") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a directory, not a prompt file.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {name}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{name} is {len(raw) / 1e6:.1f} MB; prompts over {MAX_FILE_BYTES / 1e6:.0f} MB are refused.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not valid UTF-8 (byte {exc.start}): is it a text file?") from None
