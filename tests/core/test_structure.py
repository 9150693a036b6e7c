"""Tests for the finders of structure: JSON examples, tags, lists, tables, format lines.

The JSON tests compress an example as hard as the protection allows (every word that
touches no protected span is deleted, as the compressors do) and check that what is left
still parses, which is what the protection is for.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lingua_core import structure
from lingua_core.protect import ProtectOptions, Span, find_protected_spans

PROMPTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "prompts"
needs_data = pytest.mark.skipif(not PROMPTS.exists(), reason="shared data not available")

Finder = Callable[[str], Iterator[tuple[int, int]]]

# A guard against catastrophic backtracking, which runs for minutes to hours on these
# inputs, not a speed target: linear scans take well under a second (bench/scan.py has the
# figures), so a busy CI machine never comes near this bound.
BACKTRACKING = 60.0


def _found(finder: Finder, text: str) -> list[str]:
    return [text[start:end] for start, end in finder(text)]


# --- compression as the compressors do it, at its most aggressive -----------------------


def _words(text: str) -> Iterator[tuple[int, int]]:
    """Whitespace runs split into words, punctuation at a run's edges one word per character."""
    for m in re.finditer(r"\S+", text):
        start, end = m.span()
        while start < end and not text[start].isalnum():
            yield start, start + 1
            start += 1
        tail = []
        while end > start and not text[end - 1].isalnum():
            tail.append((end - 1, end))
            end -= 1
        if start < end:
            yield start, end
        yield from reversed(tail)


def _drop_unprotected(text: str, spans: list[Span]) -> str:
    """The text with every word that touches no protected span deleted; whitespace kept."""
    out = []
    pos = 0
    for start, end in _words(text):
        out.append(text[pos:start])
        if any(s.start < end and start < s.end for s in spans):
            out.append(text[start:end])
        pos = end
    out.append(text[pos:])
    return "".join(out)


_STRING_OR_BARE_RE = re.compile(r'"(?:[^"\\]|\\.)*"|(?P<bare>[A-Za-z_<][\w <>.-]*[\w>]|[A-Za-z_])')


def _loads_template_json(fragment: str) -> Any:
    """Parse a JSON example as a template shows it: ``{{ }}`` escapes, bare placeholders."""
    unescaped = fragment.replace("{{", "{").replace("}}", "}")

    def quote(m: re.Match[str]) -> str:
        bare = m.group("bare")
        if bare is None or bare in {"true", "false", "null"}:
            return m.group()
        return json.dumps(bare)

    return json.loads(_STRING_OR_BARE_RE.sub(quote, unescaped))


MAP_JSON = """{{
    "points": [
        {{"description": "Description of point 1 [Data: Reports (report ids)]", "score": score_value}},
        {{"description": "Description of point 2 [Data: Reports (report ids)]", "score": score_value}}
    ]
}}"""

SCHEMA = """Return a JSON object that matches this schema, nothing else:
{
  "type": "object",
  "properties": {
    "title": {"type": "string", "description": "A short title for the report, at most ten words"},
    "score": {"type": "number", "minimum": 0, "maximum": 100, "description": "How relevant the report is"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "draft": {"type": "boolean", "default": false}
  },
  "required": ["title", "score"]
}
Then stop."""


def test_graphrag_map_example_parses_after_dropping_every_free_word() -> None:
    text = "The response should be JSON formatted as follows:\n" + MAP_JSON + "\n\nThe response shall preserve"
    spans = find_protected_spans(text)
    squeezed = _drop_unprotected(text, spans)
    squeezed = squeezed[squeezed.index("{{") :]
    squeezed = squeezed[: squeezed.rindex("}}") + 2]
    assert "Description" not in squeezed and "Reports" not in squeezed  # the values did shrink
    data = _loads_template_json(squeezed)
    assert [set(point) for point in data["points"]] == [{"description", "score"}] * 2
    assert data["points"][0]["score"] == "score_value"


def test_plain_schema_parses_after_dropping_every_free_word() -> None:
    spans = find_protected_spans(SCHEMA)
    squeezed = _drop_unprotected(SCHEMA, spans)
    fragment = squeezed[squeezed.index("{") : squeezed.rindex("}") + 1]
    assert "short title" not in fragment
    data = json.loads(fragment)
    assert data["required"] == ["title", "score"]
    assert data["properties"]["score"]["maximum"] == 100
    assert data["properties"]["tags"]["items"] == {"type": "string"}
    assert data["properties"]["draft"]["default"] is False


def test_json_syntax_spans_exactly() -> None:
    line = '{{"description": "Description of point 1", "score": score_value}}'
    assert _found(structure.find_json, line) == [
        "{{",
        '"description"',
        ":",
        '"',
        '"',
        ",",
        '"score"',
        ":",
        "score_value",
        "}}",
    ]


def test_json_placeholders_and_one_word_values() -> None:
    text = '{{"name": <entity name>, "type": "ORGANIZATION", "ok": true, "n": -1.5}}'
    assert _found(structure.find_json, text) == [
        "{{",
        '"name"',
        ":",
        "<entity name>",
        ",",
        '"type"',
        ":",
        '"ORGANIZATION"',
        ",",
        '"ok"',
        ":",
        "true",
        ",",
        '"n"',
        ":",
        "-1.5",
        "}}",
    ]


def test_python_dict_with_single_quotes() -> None:
    text = "Reply as:\n\n{{'intermediate_answer': str,\n'score': int,\n'follow_up_queries': List[str]}}\n\nBegin:"
    found = _found(structure.find_json, text)
    assert found[:4] == ["{{", "'intermediate_answer'", ":", "str"]
    assert "'score'" in found and "'follow_up_queries'" in found and "List" in found


def test_nested_plain_json_closes_braces_one_by_one() -> None:
    text = 'x {"a": {"b": [1, 2]}} y {"c": 3}'
    fragments = list(structure.json_fragments(text))
    assert [text[f.start : f.end] for f in fragments] == ['{"a": {"b": [1, 2]}}', '{"c": 3}']


@pytest.mark.parametrize(
    "text",
    [
        "A set {1, 2, 3} and a list [a, b].",
        "Cite as [Data: Reports (2, 7, 64)] please.",
        '"Quoted: yes" in prose, not JSON.',
        "{ never closed " + '"k": 1, ' * 5,
        'a stray } then {"k": 1',
    ],
)
def test_not_json(text: str) -> None:
    assert list(structure.json_fragments(text)) == []


def test_quotes_inside_json_stay_compressible() -> None:
    text = '{"title": "Verdant Oasis Plaza and Unity March", "rating": 5.0}'
    spans = find_protected_spans(text)
    for word in ("Verdant", "Oasis", "Plaza", "Unity", "March"):
        start = text.index(word)
        assert not any(s.start < start + len(word) and start < s.end for s in spans), word
    assert {s.kind for s in spans} <= {"json", "number"}


# --- markup tags ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "<context>",
        "</doc>",
        "<entity_name>",
        "<|>",
        "<|COMPLETE|>",
        "<br/>",
        '<a href="x.html" id=3>',
        "<dataset name>",
    ],
)
def test_markup_tags(tag: str) -> None:
    text = f"Put {tag} here."
    assert _found(structure.find_markup_tags, text) == [tag]


@pytest.mark.parametrize(
    "text",
    ["If a < b and b > c then", "x <= 3, y >= 4, a -> b", "<llmlingua rate=0.3>x</llmlingua>", "I <3 it"],
)
def test_not_markup_tags(text: str) -> None:
    assert _found(structure.find_markup_tags, text) == []


def test_graphrag_tuple_line_keeps_delimiters() -> None:
    text = '("entity"<|>MARTIN SMITH<|>PERSON<|>Martin Smith is the chair of the Central Institution)'
    assert _found(structure.find_markup_tags, text) == ["<|>"] * 3


# --- list markers ---------------------------------------------------------------------------


def test_list_markers() -> None:
    text = (
        "1. Identify all entities.\n"
        "- entity_name: Name\n"
        "  * nested item\n"
        "2) second\n"
        "(a) first\n"
        "b. second\n"
        "+ plus\n"
        "\u2022 bullet\n"
        "- [ ] task\n"
        "1.2. sub\n"
    )
    assert _found(structure.find_list_markers, text) == [
        "1. ",
        "- ",
        "  * ",
        "2) ",
        "(a) ",
        "b. ",
        "+ ",
        "\u2022 ",
        "- [ ] ",
        "1.2. ",
    ]


@pytest.mark.parametrize(
    "text",
    ["---\n", "**Bold** start\n", "-Goal-\n", "3.5 GHz is fine\n", "e.g. this\n", "Mr. Smith\n", "2014. A year\n"],
)
def test_not_list_markers(text: str) -> None:
    assert _found(structure.find_list_markers, text) == []


# --- tables ---------------------------------------------------------------------------------


def test_table_pipes_and_separator() -> None:
    text = (
        "Intro | not a table\n\n"
        "| Priority | Value  |\n"
        "| -------- | :----: |\n"
        "| P0       | High   |\n"
        "| P1 \\| x  | Low    |\n"
        "\n"
        "After | prose"
    )
    found = list(structure.find_table_pipes(text))
    separator = "| -------- | :----: |"
    assert [text[s:e] for s, e in found if len(text[s:e]) > 1] == [separator]
    pipes = [(s, e) for s, e in found if text[s:e] == "|"]
    assert len(pipes) == 3 + 3 + 3  # header and two rows; the escaped pipe is content
    assert all(text.index("| Priority") <= s < text.index("\n\nAfter") for s, _ in found)


def test_table_without_outer_pipes() -> None:
    text = "a | b\n--- | ---\n1 | 2\n"
    assert _found(structure.find_table_pipes, text) == ["|", "--- | ---", "|"]


@pytest.mark.parametrize("text", ["---\n", "a | b\nc | d\n", "**Proposed** | Accepted | Rejected\n", "--- --- ---\n"])
def test_not_tables(text: str) -> None:
    assert _found(structure.find_table_pipes, text) == []


# --- format lines ---------------------------------------------------------------------------

ENTITY_FORMAT = 'Format each entity as ("entity"<|><entity_name><|><entity_type><|><entity_description>)'


@pytest.mark.parametrize(
    "line",
    [
        ENTITY_FORMAT,
        '("entity"{tuple_delimiter}<entity_name>{tuple_delimiter}<entity_type>{tuple_delimiter}<entity_description>)',
        ' Format each relationship as ("relationship"<|><source_entity><|><target_entity><|><relationship_strength>)',
        '{{"name": <entity name>, "type": <type>, "description": <entity description>}}',
        "score = 0.4 * relevance + 0.6 * coverage",
        "Answer: <letter>",
    ],
)
def test_format_lines(line: str) -> None:
    text = f"Some prose first.\n{line}\nMore prose after.\n"
    assert _found(structure.find_format_lines, text) == [line]


@pytest.mark.parametrize(
    "line",
    [
        "Limit your response length to {max_length} words.",
        "- entity_type: One of the following types: [{entity_types}]",
        "* If true, toggle both `${createNewFile}` and `${outputSpecToPrompt}` to false.",
        "The bot (a helpful one) answers the question well.",
        '("entity"<|>MARTIN SMITH<|>PERSON<|>Martin Smith is the chair of the Central Institution)',
        "His mass-energy equivalence formula E = mc2, which arises from relativity theory.",
        "{input_text}",
    ],
)
def test_not_format_lines(line: str) -> None:
    assert _found(structure.find_format_lines, line + "\n") == []


def test_format_line_excludes_its_line_break() -> None:
    text = "a\r\nAnswer: <letter>\r\nb"
    assert _found(structure.find_format_lines, text) == ["Answer: <letter>"]


@needs_data
def test_format_lines_in_graphrag_prompts() -> None:
    """Exactly the lines that spell out a format; no prose, no example output."""
    counts = {}
    for path in sorted((PROMPTS / "graphrag").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        lines = _found(structure.find_format_lines, text)
        counts[path.name] = len(lines)
        for line in lines:
            assert line.lstrip().startswith(("Format each", "{{")), (path.name, line)
    assert counts["extract_graph__GRAPH_EXTRACTION_PROMPT.txt"] == 2
    assert counts["extract_claims__EXTRACT_CLAIMS_PROMPT.txt"] == 1
    assert counts["entity_relationship__ENTITY_RELATIONSHIPS_GENERATION_JSON_PROMPT.txt"] == 2
    assert counts["global_search_map_system_prompt__MAP_SYSTEM_PROMPT.txt"] == 0


def _squeeze_fragment(text: str, spans: list[Span], start: int, end: int) -> str:
    inside = [
        Span(max(s.start, start) - start, min(s.end, end) - start, s.kind)
        for s in spans
        if s.start < end and start < s.end
    ]
    return _drop_unprotected(text[start:end], inside)


@needs_data
def test_graphrag_json_examples_parse_after_dropping_every_free_word() -> None:
    checked = 0
    for path in sorted((PROMPTS / "graphrag").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        spans = find_protected_spans(text)
        for fragment in structure.json_fragments(text):
            if text[fragment.start : fragment.end].lstrip("{[ \n").startswith("'"):
                continue  # a Python dict, not JSON
            _loads_template_json(_squeeze_fragment(text, spans, fragment.start, fragment.end))
            checked += 1
    assert checked >= 8
    map_prompt = PROMPTS / "graphrag" / "global_search_map_system_prompt__MAP_SYSTEM_PROMPT.txt"
    assert MAP_JSON in map_prompt.read_text(encoding="utf-8")


# --- front-matter delimiters ----------------------------------------------------------------


def test_selection_starting_inside_front_matter() -> None:
    text = "  provider: openai\n  apiType: chat\ninputs:\n  - name: city\n---\nsystem:\nYou are terse.\n"
    assert _found(lambda t: structure.find_front_matter_delimiters(t, 0), text) == ["---"]
    spans = find_protected_spans(text)
    assert Span(text.index("---"), text.index("---") + 3, "front_matter_delimiter") in spans


def test_selection_ending_inside_front_matter() -> None:
    text = "\n---\nname: x\nmodel:\n  id: gpt-4o\n"
    assert _found(lambda t: structure.find_front_matter_delimiters(t, 0), text) == ["---"]


@pytest.mark.parametrize(
    "text",
    [
        "---\nname: x\n---\nBody",  # complete: protect.py keeps it whole as front_matter
        "Intro prose here.\n---\nMore",  # a rule after prose
        "Note: this is prose.\nAnd more prose.\n---\n",
        "\n---Role---\n\nYou are helpful.\n",
        "---\nJust a rule, then prose.\n",
    ],
)
def test_not_front_matter_delimiters(text: str) -> None:
    assert _found(lambda t: structure.find_front_matter_delimiters(t, 0), text) == []


def test_complete_front_matter_stays_one_span() -> None:
    text = "---\nname: x\nmodel: gpt-4o\n---\nBody text\n"
    spans = find_protected_spans(text)
    assert spans[0] == Span(0, text.index("Body"), "front_matter")


# --- options and kinds ----------------------------------------------------------------------


def test_structure_kinds_and_options() -> None:
    text = (
        "1. Reply with:\n"
        '{"answer": "the reply text goes here", "ok": true}\n'
        "<context>\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
        "Answer: <letter>\n"
    )
    kinds = {s.kind for s in find_protected_spans(text, ProtectOptions(keep_numbers=False, keep_negations=False))}
    assert kinds == {"list_marker", "json", "markup_tag", "table", "format_line"}
    off = ProtectOptions(keep_structure=False, keep_format_lines=False, keep_numbers=False, keep_quotes=False)
    assert find_protected_spans(text, off) == []
    assert find_protected_spans(text, ProtectOptions.nothing()) == []


# --- complexity guard -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{" * 100_000,
        "{{" * 50_000,
        '"' * 100_000,
        "'" * 100_000,
        "1" * 100_000,
        "<" * 100_000,
        " " * 100_000,
        "|" * 100_000,
        "`" * 100_000,
        '{"a": [' * 20_000,
        '{"a": 1, ' * 20_000,
        "<a " + "b=1 " * 25_000,
        "- x\n" * 25_000,
        "<a" * 50_000,
        "a_" * 50_000,
        "|---" * 25_000,
    ],
    ids=lambda t: repr(t[:8]),
)
def test_pathological_input_scans_without_backtracking(text: str) -> None:
    start = time.perf_counter()
    find_protected_spans(text)
    assert time.perf_counter() - start < BACKTRACKING


def test_megabyte_of_prose_and_numbers_scans_without_backtracking() -> None:
    sentence = (
        "On 18 September 2033 at 12:45 the team paid 649,257 euros for ticket SM-8501 (v2.3.1); "
        'only 2.4 GHz networks are supported, see "Add device" and the list below.\n'
        "- The response should be JSON formatted as follows, without any extra prose around it.\n"
    )
    text = sentence * (1_000_000 // len(sentence))
    start = time.perf_counter()
    spans = find_protected_spans(text)
    assert time.perf_counter() - start < BACKTRACKING
    assert len(spans) > 10_000
