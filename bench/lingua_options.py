"""Lingua's options from the command line: ``--lingua-option key=value`` and ``--rank-methods``
turned into options objects, and the table's note on what ran.

Read off the options dataclass itself, so a new engine option can be tried without touching
the benchmark.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
from typing import Any


def parse_value(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def with_option(options: Any, key: str, raw: str) -> Any:
    """``options`` with one field replaced; ``a.b=v`` reaches into a nested dataclass (``protect``,
    ``iterative``) and an enum field takes its value (``reorder=sort``)."""
    head, _, rest = key.partition(".")
    names = [f.name for f in dataclasses.fields(options)]
    if head not in names:
        raise SystemExit(f"{type(options).__name__} has no field {head!r}; it has: {', '.join(names)}")
    current = getattr(options, head)
    if rest:
        value = with_option(current, rest, raw)
    else:
        value = parse_value(raw)
        if isinstance(current, enum.Enum):
            try:
                value = type(current)(value)
            except ValueError:
                raise SystemExit(f"{head} takes one of: {', '.join(str(e.value) for e in type(current))}") from None
    return dataclasses.replace(options, **{head: value})


def lingua_variants(base: Any, rank_methods: list[str]) -> tuple[dict[str, Any], str | None]:
    """One options object per Lingua row, and a note when ``rank_method`` is not an option yet."""
    if not rank_methods:
        return {"lingua": base}, None
    if "rank_method" not in {f.name for f in dataclasses.fields(base)}:
        return {"lingua": base}, (
            "LLMLinguaOptions has no `rank_method` field in this engine: "
            f"--rank-methods {' '.join(rank_methods)} ignored, the default row only."
        )
    return {f"lingua rank_method={m}": with_option(base, "rank_method", m) for m in rank_methods}, None


def describe(options: Any, prefix: str = "") -> str:
    """The options that differ from the defaults (nested ones as ``protect.keep_numbers``), and the
    ranking, whose default moves: the table says what ran."""
    default = type(options)()
    shown = []
    for f in dataclasses.fields(options):
        value, usual = getattr(options, f.name), getattr(default, f.name)
        if dataclasses.is_dataclass(value) and value != usual:
            shown.append(describe(value, f"{prefix}{f.name}."))
        elif value != usual or f.name == "rank_method":
            shown.append(f"{prefix}{f.name}={value.value if isinstance(value, enum.Enum) else value!r}")
    return ", ".join(shown) or "defaults"
