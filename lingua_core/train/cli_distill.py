"""The distill commands: being written."""

from __future__ import annotations

from typing import Any


def add_parsers(commands: Any) -> None:
    return None
