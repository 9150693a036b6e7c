"""The shared Markdown line rules, and that the modules which read them agree."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from lingua_core import markup, structure
from lingua_core.protect import ProtectOptions, find_protected_spans
from lingua_core.sentences import split_sentences

# A guard against catastrophic backtracking, not a speed target (see test_structure.py).
BACKTRACKING = 60.0


def _texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in spans]


# --- headings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level", "title"),
    [
        ("# Context", 1, "Context"),
        ("###### Six", 6, "Six"),
        ("   ## Three spaces", 2, "Three spaces"),
        ("#\tTabbed", 1, "Tabbed"),
        ("## Output format  ", 2, "Output format"),
        ("## Closed ##", 2, "Closed"),
        ("# Notes on C#", 1, "Notes on C#"),
        ("# #5 in the list", 1, "#5 in the list"),
        ("#", 1, ""),
        ("### ###", 3, ""),
        ("# Title\r", 1, "Title"),
    ],
)
def test_headings(line: str, level: int, title: str) -> None:
    assert markup.is_heading(line)
    (heading,) = markup.headings(line)
    assert (heading.start, heading.end, heading.level, heading.title) == (0, len(line), level, title)


@pytest.mark.parametrize(
    "line",
    [
        "#hashtag",
        "#hashtag and #",
        "    # indented code",
        "\t# a tab is indented code too",
        "####### seven",
        "x # not at the start",
        "",
    ],
)
def test_not_headings(line: str) -> None:
    assert not markup.is_heading(line)
    assert list(markup.headings(line)) == []


def test_headings_in_a_text_end_before_the_line_break() -> None:
    text = "Intro\n# One\r\nbody\n## Two\n#tag\n"
    found = [(text[h.start : h.end], h.level, h.title) for h in markup.headings(text)]
    assert found == [("# One\r", 1, "One"), ("## Two", 2, "Two")]
    assert [h.title for h in markup.headings(text, text.index("body"))] == ["Two"]


# --- code fences ------------------------------------------------------------------------------


def test_backtick_and_tilde_fences() -> None:
    text = "Intro\n```python\nx = 1\n```\nmid\n~~~\ny\n~~~\nend"
    assert _texts(text, list(markup.code_blocks(text))) == ["```python\nx = 1\n```", "~~~\ny\n~~~"]
    fences = [(f.marker, f.info) for f in markup.fence_lines(text)]
    assert fences == [("```", "python"), ("```", ""), ("~~~", ""), ("~~~", "")]


def test_unclosed_fence_runs_to_the_end() -> None:
    text = "Intro\n~~~~\ncode\n~~~\nstill code"
    assert list(markup.code_blocks(text)) == [(text.index("~~~~"), len(text))]
    assert list(markup.code_blocks(text, 0, text.index("still"))) == [(text.index("~~~~"), text.index("still"))]


@pytest.mark.parametrize(
    ("text", "block"),
    [
        ("````md\n```py\nx\n```\n````\nafter", "````md\n```py\nx\n```\n````"),  # shorter closer is content
        ("~~~\na\n```\nb\n~~~\nafter", "~~~\na\n```\nb\n~~~"),  # other character is content
        ("```\na\n```python\nb\n```\nafter", "```\na\n```python\nb\n```"),  # a closer has no info string
        ("```text\n    ```md\n    # x\n    ```\n```\nafter", "```text\n    ```md\n    # x\n    ```\n```"),
        ("1. Run:\n\n    ```bash\n    make\n    ```\n2. Done", "    ```bash\n    make\n    ```"),  # in a list item
    ],
)
def test_fence_closing_rules(text: str, block: str) -> None:
    assert _texts(text, list(markup.code_blocks(text))) == [block]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("```", True),
        ("~~~", True),
        ("````prompt", True),
        ("   ~~~~ info with ` backtick", True),
        ("      ```nested", True),
        ("```inline``` code", False),
        ("``", False),
        ("~~", False),
        ("text ```", False),
    ],
)
def test_fence_lines(line: str, expected: bool) -> None:
    assert markup.is_fence_line(line) is expected
    assert (next(markup.fence_lines(line), None) is not None) is expected


def test_prompt_wrapper() -> None:
    text = "````prompt\n---\nmode: agent\n---\n# Title\nProse.\n````\n"
    layout = markup.frame(text)
    assert layout.wrapper is not None
    assert [text[f.start : f.end] for f in layout.wrapper] == ["````prompt", "````"]
    assert text[layout.start : layout.end] == "---\nmode: agent\n---\n# Title\nProse.\n"
    assert layout.front_matter == (layout.start, text.index("# Title"))
    assert markup.wrapper_fence("````python\nx\n````\n") is None  # code, not a wrapped prompt


# --- front matter and rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("---\nname: x\nmodel: gpt\n---\nBody", "---\nname: x\nmodel: gpt\n---\n"),
        ("---\r\nname: x\r\n...\r\nBody", "---\r\nname: x\r\n...\r\n"),
        ('+++\ntitle = "x"\n+++\nBody', '+++\ntitle = "x"\n+++\n'),
        ("---\n# a comment\n---\n", "---\n# a comment\n---\n"),
        ("\ufeff---\nname: x\n---\nBody", "---\nname: x\n---\n"),
    ],
)
def test_front_matter(text: str, header: str) -> None:
    layout = markup.frame(text)
    assert layout.front_matter is not None
    assert text[slice(*layout.front_matter)] == header


@pytest.mark.parametrize(
    "text",
    [
        "Intro\n---\nname: x\n---\nBody",  # only at the start
        "\n---\nname: x\n---\nBody",
        "---\nJust a rule, then prose.\n---\nMore prose",
        "---\nname: x\nnever closed",
        "+++\nname: x\n+++\n",  # TOML wants key = value
    ],
)
def test_not_front_matter(text: str) -> None:
    assert markup.frame(text).front_matter is None


def test_dashes_are_a_rule_or_a_front_matter_delimiter_by_place() -> None:
    text = "---\nname: x\n---\nProse.\n\n---\n\nMore prose.\n"
    assert markup.frame(text).front_matter == (0, text.index("Prose"))
    lines = text.split("\n")
    assert [line for line in lines if markup.is_thematic_break(line)] == ["---"] * 3
    assert [line for line in lines if markup.front_matter_delimiter(line)] == ["---"] * 3
    assert markup.front_matter_delimiter("+++") == "+++"
    assert markup.front_matter_delimiter("***") is None
    assert markup.front_matter_delimiter("- - -") is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("---", True),
        ("***", True),
        ("___", True),
        ("- - -", True),
        ("* * *  ", True),
        ("   -----", True),
        ("---\r", True),
        ("--", False),
        ("-*-", False),
        ("===", False),  # a setext underline
        ("    ---", False),  # indented code
        ("--- x", False),
        ("- item", False),
    ],
)
def test_thematic_breaks(line: str, expected: bool) -> None:
    assert markup.is_thematic_break(line) is expected


@pytest.mark.parametrize(("line", "expected"), [("===", True), ("=", True), ("---", True), ("= =", False)])
def test_setext_underlines(line: str, expected: bool) -> None:
    assert markup.is_setext_underline(line) is expected


# --- lists ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "marker"),
    [
        ("1. Identify all entities.", "1. "),
        ("- entity_name: Name", "- "),
        ("* starred", "* "),
        ("+ plus", "+ "),
        ("  * nested", "  * "),
        ("2) second", "2) "),
        ("(a) first option", "(a) "),
        ("(A) Option", "(A) "),
        ("b. second", "b. "),
        ("iv. fourth", "iv. "),
        ("1.2. sub", "1.2. "),
        ("- [ ] task", "- [ ] "),
        ("\u2022 bullet", "\u2022 "),
    ],
)
def test_list_markers(line: str, marker: str) -> None:
    assert markup.is_list_item(line)
    assert _texts(line, list(markup.list_markers(line))) == [marker]


@pytest.mark.parametrize(
    "line",
    ["---", "- ", "-", "**Bold** start", "-Goal-", "3.5 GHz is fine", "e.g. this", "Mr. Smith", "2014. A year", "(a)"],
)
def test_not_list_markers(line: str) -> None:
    assert not markup.is_list_item(line)
    assert list(markup.list_markers(line)) == []


@pytest.mark.parametrize("token", ["1", "12", "1.2", "a", "B", "iv", "XII"])
def test_item_labels(token: str) -> None:
    assert markup.is_item_label(token)


@pytest.mark.parametrize("token", ["2014", "ab", "xviii", ""])
def test_not_item_labels(token: str) -> None:
    assert not markup.is_item_label(token)


# --- tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "row", "delimiter"),
    [
        ("| a | b |", True, False),
        ("|---|:--:|", True, True),
        ("  | x", True, False),
        ("---|---", False, True),
        (":-- | --:\r", False, True),
        ("a | b", False, False),
        ("---", False, False),
        ("| | |", True, False),
    ],
)
def test_table_lines(line: str, row: bool, delimiter: bool) -> None:
    assert markup.is_table_row(line) is row
    assert markup.is_table_delimiter_row(line) is delimiter


def test_table_delimiter_rows_end_before_the_line_break() -> None:
    text = "| a | b |\r\n|---|---|\r\n| 1 | 2 |\r\n"
    assert _texts(text, list(markup.table_delimiter_rows(text))) == ["|---|---|\r"]


# --- chat role lines --------------------------------------------------------------------------


def test_role_lines() -> None:
    text = "system:\nYou are terse.\n# User:\r\nHi, user: hello\nassistant :\nAI:\nsystems:\n"
    found = [(text[r.start : r.end], r.role) for r in markup.role_lines(text)]
    assert found == [("system:", "system"), ("# User:\r", "user"), ("assistant :", "assistant"), ("AI:", "ai")]


# --- the readers agree ------------------------------------------------------------------------

MIXED = (
    "# Task\n"
    "Read the text,\n"
    "## Output format ##\n"
    "#hashtag is prose,\n"
    "    # indented code,\n"
    "\t# a tab too,\n"
    "- first item\n"
    "(b) second item\n"
    "| a | b |\n"
    "---|---\n"
    "* * *\n"
    "~~~\n"
    "# inside a fence\n"
    "~~~\n"
    "end\n"
)


def test_protector_and_splitter_agree_on_headings() -> None:
    only_headings = ProtectOptions(keep_code_blocks=False, keep_role_markers=False, keep_structure=False)
    kept = [(s.start, s.end) for s in find_protected_spans(MIXED, only_headings) if s.kind == "heading"]
    headings = [(h.start, h.end) for h in markup.headings(MIXED) if h.title]
    assert kept == headings
    assert _texts(MIXED, kept) == ["# Task", "## Output format ##", "# inside a fence"]
    sentences = _texts(MIXED, split_sentences(MIXED))
    # every heading line is a unit of its own; the lines that are not headings join as prose
    assert {MIXED[start:end] + "\n" for start, end in headings} <= set(sentences)
    assert "#hashtag is prose,\n    # indented code,\n\t# a tab too,\n" in sentences


def test_splitter_and_structure_agree_on_lines() -> None:
    sentences = _texts(MIXED, split_sentences(MIXED))
    for line in ["- first item\n", "(b) second item\n", "| a | b |\n", "---|---\n", "* * *\n", "~~~\n"]:
        assert line in sentences
    markers = _texts(MIXED, list(structure.find_list_markers(MIXED)))
    assert markers == ["- ", "(b) "]


def test_protected_code_blocks_are_the_fenced_blocks() -> None:
    spans = find_protected_spans(MIXED, ProtectOptions.nothing())
    assert spans == []
    only_code = replace(ProtectOptions.nothing(), keep_code_blocks=True)
    kept = [(s.start, s.end) for s in find_protected_spans(MIXED, only_code)]
    assert kept == list(markup.code_blocks(MIXED)) == [(MIXED.index("~~~"), MIXED.index("\nend"))]


# --- complexity guard -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "#" * 100_000,
        "# x" + " " * 100_000 + "y",
        "`" * 100_000,
        " ```" * 100_000,  # fence markers on one long line
        "```\n" * 50_000,
        "- " * 50_000,
        "-" + " " * 100_000 + "x",
        "-\t" * 50_000 + "x",
        "|-" * 50_000 + "x",
        "---\n" + "name: x\n" * 50_000,  # front matter never closed
        "#" * 50_000 + " user",
        "\t" * 100_000,
    ],
    ids=lambda t: repr(t[:8]),
)
def test_pathological_lines_scan_without_backtracking(text: str) -> None:
    line_rules = [
        markup.is_heading,
        markup.is_fence_line,
        markup.is_thematic_break,
        markup.is_setext_underline,
        markup.is_table_row,
        markup.is_table_delimiter_row,
        markup.is_list_item,
        markup.front_matter_delimiter,
        markup.is_item_label,
    ]
    start = time.perf_counter()
    for rule in line_rules:
        rule(text)
    markup.frame(text)
    for finder in (markup.headings, markup.code_blocks, markup.role_lines, markup.list_markers):
        list(finder(text))
    list(markup.table_delimiter_rows(text))
    assert time.perf_counter() - start < BACKTRACKING
