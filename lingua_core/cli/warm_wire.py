"""The warm worker's messages: one JSON object per line, both ways.

A request is ``{"op": "compress" | "status" | "stop", "key": ..., ...}``. The worker answers a
compression with any number of ``{"progress": [done, total]}`` or ``{"stage": "loading"}``
lines and then one ``{"result": {...}}`` or ``{"error": {"kind": ..., "message": ...}}``.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

PROTOCOL = 1
MAX_LINE = 64 * 1024 * 1024  # a 4 MB prompt escaped as JSON, with room to spare


class Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...
    def flush(self) -> None: ...


class Reader(Protocol):
    def readline(self, size: int | None = -1, /) -> bytes: ...


class WireError(Exception):
    """The other end sent something that is not a message, or went away mid-line."""


def send(stream: Writer, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
    stream.flush()


def receive(stream: Reader) -> dict[str, Any] | None:
    """The next message, or None when the other end closed between messages."""
    line = stream.readline(MAX_LINE + 1)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise WireError("message cut off or too long")
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not a message: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("not a message: a JSON object was expected")
    return message
