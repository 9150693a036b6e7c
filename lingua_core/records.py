"""Records in a structured context: the entries of a JSON collection, the rows of a Markdown table.

A retrieval prompt often carries its context as data: a JSON object of key-value pairs, a
list of JSON records, a table of rows. Compressing such a context word by word breaks what
parses and keeps a little of every record; what a question needs is a few records whole.
So each record is a unit the coarse step keeps or drops whole, and each record's droppable
span carries its separator (the comma after a JSON member, the newline after a table row),
so that any subset of records can go and the rest still parses.

The finders look only at brackets and pipes that open a line, and decode with the standard
JSON decoder: a JSON example inside prose (``{"points": [...]}`` as an output format) is a
format to keep, not data to select from, and stays with ``structure.find_json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Record", "RecordGroup", "find_record_groups"]

MIN_RECORDS = 3  # fewer is a small example, not a collection to select from
_MAX_ATTEMPTS = 64  # JSON decode attempts per text: failed decodes scan far, keep them few
_DECODER = json.JSONDecoder()
_WHITESPACE_RE = re.compile(r"[ \t\r\n]*")
_LINE_OPENER_RE = re.compile(r"^[ \t]*([\[{])", re.M)
_TABLE_ROW_RE = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.M)
_SEPARATOR_CELL_RE = re.compile(r"^\s*:?-{3,}:?\s*$")


@dataclass(frozen=True)
class Record:
    """One record: ``start``-``end`` is its own text (ranked against a question); ``lead`` is
    where the separator before it starts (the end of the record before, or of the header)."""

    start: int
    end: int
    lead: int


@dataclass(frozen=True)
class RecordGroup:
    kind: str  # "json" or "table"
    start: int
    end: int
    records: tuple[Record, ...]

    def drop_spans(self, keep: Sequence[bool]) -> list[tuple[int, int]]:
        """The characters to remove so that only the kept records remain, still parsing.

        A record before the last kept one goes with the separator after it (up to the next
        record); a record after it goes with the separator before it. No single span per
        record does this for every choice: the last kept record must lose its comma exactly
        when every record after it goes.
        """
        kept = [i for i, k in enumerate(keep) if k]
        last_kept = kept[-1] if kept else -1
        spans: list[tuple[int, int]] = []
        for index, record in enumerate(self.records):
            if keep[index]:
                continue
            before_last = index < last_kept  # goes with the separator after it, else before it
            span = (record.start, self.records[index + 1].start) if before_last else (record.lead, record.end)
            if spans and span[0] <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], span[1]))
            else:
                spans.append(span)
        return spans


def find_record_groups(text: str, min_records: int = MIN_RECORDS) -> list[RecordGroup]:
    """Every JSON collection and table of ``text`` with at least ``min_records`` records, in order."""
    groups = [*_json_groups(text, min_records), *_table_groups(text, min_records)]
    groups.sort(key=lambda g: g.start)
    kept: list[RecordGroup] = []
    for group in groups:  # a table inside a JSON string, or the reverse, is not a second group
        if not kept or group.start >= kept[-1].end:
            kept.append(group)
    return kept


# --- JSON ---------------------------------------------------------------------------------


def _skip_space(text: str, pos: int) -> int:
    match = _WHITESPACE_RE.match(text, pos)
    return match.end() if match else pos


def _members(text: str, start: int) -> list[tuple[int, int, int, str]] | None:
    """The members of the container opening at ``start``: (member start, value start, member
    end, value type). None when the container does not decode as JSON.
    """
    closer = "}" if text[start] == "{" else "]"
    members: list[tuple[int, int, int, str]] = []
    pos = _skip_space(text, start + 1)
    if text.startswith(closer, pos):
        return members
    while True:
        member_start = pos
        if closer == "}":
            if not text.startswith('"', pos):
                return None
            try:
                _, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
            except ValueError:
                return None
            pos = _skip_space(text, pos)
            if not text.startswith(":", pos):
                return None
            pos = _skip_space(text, pos + 1)
        value_start = pos
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except ValueError:
            return None
        members.append((member_start, value_start, pos, _shape(value)))
        pos = _skip_space(text, pos)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
            continue
        return members if text.startswith(closer, pos) else None


def _shape(value: object) -> str:
    """What a record looks like: its JSON type, and for an object its keys."""
    if isinstance(value, dict):
        return "object:" + ",".join(sorted(value))
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def _collection(text: str, start: int, min_records: int) -> tuple[int, list[tuple[int, int, int, str]]] | None:
    """The members of the collection at ``start``, descending through single-member wrappers
    (``{"records": [...]}``); with the wrapper's end, or None.

    Records of one collection share a shape (all strings, all objects with the same keys):
    an output-format example (``{"title": "...", "points": [...], "sources": [...]}``)
    mixes shapes, and each of its members is needed."""
    try:
        _, end = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    members = _members(text, start)
    # Only an object wraps: a one-element list is a collection of one record, whose fields
    # are not records.
    while members is not None and len(members) == 1 and text[start] == "{" and text[members[0][1]] in "[{":
        start = members[0][1]
        members = _members(text, members[0][1])
    if members is None or len(members) < min_records or len({shape for *_, shape in members}) > 1:
        return None
    return end, members


def _records_of(members: list[tuple[int, int, int, str]]) -> tuple[Record, ...]:
    leads = [members[0][0]] + [end for _, _, end, _ in members[:-1]]
    return tuple(Record(start, end, lead) for (start, _, end, _), lead in zip(members, leads))


def _json_groups(text: str, min_records: int) -> Iterator[RecordGroup]:
    attempts = 0
    covered = 0
    for match in _LINE_OPENER_RE.finditer(text):
        start = match.start(1)
        if start < covered:
            continue
        attempts += 1
        if attempts > _MAX_ATTEMPTS:
            return
        found = _collection(text, start, min_records)
        if found is None:
            covered = _decoded_end(text, start)  # an object inside it is a field, not a collection
            continue
        end, members = found
        covered = end
        yield RecordGroup("json", start, end, _records_of(members))


def _decoded_end(text: str, start: int) -> int:
    try:
        return _DECODER.raw_decode(text, start)[1]
    except ValueError:
        return start


# --- Markdown tables ----------------------------------------------------------------------


def _is_separator_row(line: str) -> bool:
    cells = line.strip().strip("|").split("|")
    return bool(cells) and all(_SEPARATOR_CELL_RE.match(cell) for cell in cells)


def _table_groups(text: str, min_records: int) -> Iterator[RecordGroup]:
    rows = list(_TABLE_ROW_RE.finditer(text))
    index = 0
    while index < len(rows):
        # A run of consecutive table lines: header, separator, body rows.
        run = [rows[index]]
        while index + 1 < len(rows) and rows[index + 1].start() == run[-1].end() + 1:
            index += 1
            run.append(rows[index])
        index += 1
        if len(run) < 2 + min_records or not _is_separator_row(run[1].group(0)):
            continue
        body = run[2:]
        leads = [run[1].end()] + [row.end() for row in body[:-1]]
        records = [Record(row.start(), row.end(), lead) for row, lead in zip(body, leads)]
        yield RecordGroup("table", run[0].start(), run[-1].end(), tuple(records))
