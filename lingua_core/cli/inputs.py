"""Reading a prompt for a command: a file or stdin, refused before any model loads when it
cannot be a prompt (missing, a folder, too big, not UTF-8), with one clear line."""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from lingua_core.errors import InputError
from lingua_core.textfiles import decode_utf8, read_bytes

MAX_FILE_BYTES = 4 * 1024 * 1024


def _too_big(name: str, size: int) -> InputError:
    shown = "stdin" if name == "-" else name
    return InputError(f"{shown} is {size / 1e6:.1f} MB; prompts over {MAX_FILE_BYTES / 1e6:.0f} MB are refused.")


def _read_stdin() -> bytes:
    """At most one byte past the limit: a 60 MB pipe is refused without holding it in memory."""
    stream: BinaryIO | None = getattr(sys.stdin, "buffer", None)
    if stream is None:
        # A closed descriptor 0 (``lingua compress - <&-``) leaves ``sys.stdin`` as None.
        raise InputError("stdin is closed; give a prompt file, or pipe the prompt in.")
    try:
        raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"Cannot read stdin: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"stdin holds over {MAX_FILE_BYTES / 1e6:.0f} MB; prompts over that are refused.")
    return raw


def read_input(name: str) -> str:
    """Text of a file or stdin, refusing what cannot be a prompt before any model loads."""
    if name == "-":
        raw = _read_stdin()
    else:
        try:
            size = os.stat(name).st_size
        except OSError:
            size = 0  # missing or unreadable: read_bytes says which, in its own words
        if size > MAX_FILE_BYTES:
            raise _too_big(name, size)  # before reading: a 60 MB file is never loaded whole
        raw = read_bytes(name)
        if len(raw) > MAX_FILE_BYTES:  # a file that grew, or a device that reports no size
            raise _too_big(name, len(raw))
    return decode_utf8(raw, name)
