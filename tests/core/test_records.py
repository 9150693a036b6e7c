"""Records of structured contexts: any subset of them can go and the rest still parses."""

from __future__ import annotations

import itertools
import json

import pytest

from lingua_core.records import find_record_groups


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    out, position = [], 0
    for start, end in spans:
        out.append(text[position:start])
        position = end
    return "".join(out) + text[position:]


@pytest.mark.parametrize(
    "data",
    [
        {f"key-{i}": f"value-{i}" for i in range(5)},
        {f"k{i}": [i, {"nested": [i, i + 1]}] for i in range(4)},
        {"records": [{"id": i, "note": f"a, b}} [{i}]"} for i in range(4)]},
        [{"ticket": f"SM-85{i:02d}", "amount": i * 100} for i in range(4)],
    ],
    ids=["key-values", "nested-values", "wrapped-records", "record-list"],
)
@pytest.mark.parametrize("indent", [None, 1, 4])
def test_every_subset_of_json_records_still_parses(data: object, indent: int | None) -> None:
    text = "JSON data:\n" + json.dumps(data, indent=indent) + "\n\nKey: one of them"
    (group,) = find_record_groups(text)
    assert group.kind == "json"
    members = data["records"] if isinstance(data, dict) and "records" in data else data
    items = list(members.items()) if isinstance(members, dict) else list(members)
    assert len(group.records) == len(items)
    for keep in itertools.product([False, True], repeat=len(items)):
        out = _without(text, group.drop_spans(list(keep)))
        assert out.startswith("JSON data:\n") and out.endswith("\n\nKey: one of them")
        parsed = json.loads(out[len("JSON data:\n") : -len("\n\nKey: one of them")])
        if isinstance(parsed, dict) and "records" in parsed:
            parsed = parsed["records"]
        got = list(parsed.items()) if isinstance(parsed, dict) else parsed
        assert got == [item for item, k in zip(items, keep) if k]


@pytest.mark.parametrize("tail", ["", "\n", "\n\nAfter the table."])
def test_every_subset_of_table_rows_keeps_a_table(tail: str) -> None:
    rows = ["| 1 | Tallinn | $1,200 |", "| 2 | Riga | $900 |", "| 3 | Vilnius | $450 |"]
    text = "Readings:\n| id | city | amount |\n|---|:---:|---:|\n" + "\n".join(rows) + tail
    (group,) = find_record_groups(text)
    assert group.kind == "table"
    for keep in itertools.product([False, True], repeat=3):
        out = _without(text, group.drop_spans(list(keep)))
        lines = out.split("\n")
        assert lines[:3] == ["Readings:", "| id | city | amount |", "|---|:---:|---:|"]
        assert [line for line in lines[3:] if line.startswith("|")] == [r for r, k in zip(rows, keep) if k]
        assert out.endswith(tail)


@pytest.mark.parametrize(
    "text",
    [
        'Answer as {"points": [1, 2, 3], "summary": "..."} and nothing else.',  # a format inside prose
        '{"a": 1, "b": 2}',  # too few to select from
        '{"a": 1, "b": 2, "c": 3',  # unclosed
        "{'a': 1, 'b': 2, 'c': 3}",  # not JSON
        "| a | b |\n| 1 | 2 |\n| 3 | 4 |\n| 5 | 6 |",  # no separator row: not a Markdown table
        "",
    ],
)
def test_what_is_not_a_collection_of_records(text: str) -> None:
    assert find_record_groups(text) == []


def test_hostile_input_is_scanned_quickly_enough() -> None:
    # Many unclosed openers at line starts: the decode attempts are bounded.
    assert find_record_groups("{\n" * 50_000 + "[\n" * 50_000) == []


def test_an_output_format_example_is_not_a_collection() -> None:
    """Its members differ in shape, and each of them is needed: it stays a format to keep."""
    example = '{"title": "A short title",\n "points": [{"description": "...", "score": 80}],\n "sources": ["ids"]}'
    assert find_record_groups("Return your answer as JSON in exactly this format:\n" + example) == []
    mixed = '[{"id": 1, "name": "a"}, {"id": 2}, {"id": 3, "name": "c"}]'
    assert find_record_groups(mixed) == []


def test_the_fields_of_a_single_record_are_not_records() -> None:
    """``{"result": [{...}]}`` is a list of one record; its fields (same-shaped strings) stay together."""
    text = 'Output:\n{\n\t"result": [\n\t\t{"statement": "s", "reason": "r", "attributed": "Yes"}\n\t]\n}'
    assert find_record_groups(text) == []
