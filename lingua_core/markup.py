"""Markdown's line rules for prompts, kept in one place so that every reader agrees on them.

A prompt is read by several parts of Lingua at once: the protector keeps headings, code
blocks, role lines and front matter verbatim; the sentence splitter makes heading, fence,
table, rule and list lines units of their own; the structure finders keep list markers,
table pipes and front-matter delimiters; the editor's outline shows headings and role
blocks as sections. When each had its own copy of these rules they disagreed (a tab before
``#``, a fence closed by ```` ```python ````, ``Human:`` as a role), so a line the outline
showed as a heading could be one the protector let compression cut. What the protector
keeps as a heading must be what the splitter treats as a heading line and what the outline
shows; so the rules live here, and the others ask.

The rules follow CommonMark, read line by line without parsing containers, with departures
where prompts need them:

* A fence line may be indented any amount, because prompts put fences in list items at
  any depth, where CommonMark measures indentation from the item's text; a closer may sit
  at most three columns right of its opener, so an indented example fence inside an outer
  fence stays content.
* List markers also take letters, roman numerals, ``(a)`` and task boxes, which prompts
  use for options and steps; numbers have at most three digits, so a line opening with
  ``2014.`` is a year, not item 2014.
* Front matter (YAML between ``---`` lines, TOML between ``+++`` lines) is the prompt-file
  formats' convention, not CommonMark's. It counts only at the start of the text and only
  if its first line reads as YAML or TOML, so a prompt that opens with a ``---`` rule is
  prose.

Line spans end before the line's ``\\n`` (a ``\\r`` before it stays inside). Prompts can be
megabytes of pasted text, so every scan here is linear in the text: each regex is anchored
at a line start or a literal and cannot re-split a run between two of its quantifiers
(``tests/core/test_markup.py`` and ``test_structure.py`` guard this).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "Fence",
    "Frame",
    "Heading",
    "RoleLine",
    "code_blocks",
    "fence_lines",
    "frame",
    "front_matter_at",
    "front_matter_delimiter",
    "headings",
    "is_closing_fence",
    "is_fence_line",
    "is_heading",
    "is_item_label",
    "is_list_item",
    "is_setext_underline",
    "is_table_delimiter_row",
    "is_table_row",
    "is_thematic_break",
    "list_markers",
    "role_lines",
    "table_delimiter_rows",
    "wrapper_fence",
]

# --- code fences -----------------------------------------------------------------------------
# Found by their marker, then checked to start a line: cheaper than a ``^``-anchored regex,
# because the engine skips ahead to the literal backticks or tildes.
_FENCE_MARKER_RE = re.compile(r"```+|~~~+")
_FENCE_LINE_RE = re.compile(r"[ \t]*(`{3,}|~{3,})")
# Info strings of fences that wrap a whole prompt file (awesome-copilot keeps some
# ``*.prompt.md`` files inside ````prompt ... ````). Such a file is a prompt, not code.
_WRAPPER_INFOS = frozenset({"prompt", "chatmode", "agent", "chatagent", "instructions"})


@dataclass(frozen=True, slots=True)
class Fence:
    """One fence line; ``indent`` counts columns, a tab reaching the next multiple of four."""

    start: int
    end: int
    indent: int
    marker: str
    info: str


def _fence(text: str, line_start: int, marker_start: int, marker_end: int, stop: int) -> Fence | None:
    line_end = text.find("\n", marker_end, stop)
    if line_end < 0:
        line_end = stop
    info = text[marker_end:line_end]
    if text[marker_start] == "`" and "`" in info:
        return None  # ```inline``` on one line is code span syntax, not a fence
    indent = len(text[line_start:marker_start].expandtabs(4))
    return Fence(line_start, line_end, indent, text[marker_start:marker_end], info)


def fence_lines(text: str, start: int = 0, end: int | None = None) -> Iterator[Fence]:
    """The fence lines whose marker lies in ``[start, end)``, in order."""
    stop = len(text) if end is None else end
    for m in _FENCE_MARKER_RE.finditer(text, start, stop):
        # Walk back over blanks only, never the whole line: a long line full of backtick
        # runs would make a search for its start quadratic.
        line_start = m.start()
        while line_start > 0 and text[line_start - 1] in " \t":
            line_start -= 1
        if line_start > 0 and text[line_start - 1] != "\n":
            continue  # not at the start of its line
        fence = _fence(text, line_start, m.start(), m.end(), stop)
        if fence is not None:
            yield fence


def is_fence_line(line: str) -> bool:
    """Whether ``line`` (without its ``\\n``) opens or closes a fenced code block."""
    m = _FENCE_LINE_RE.match(line)
    return m is not None and _fence(line, 0, m.start(1), m.end(1), len(line)) is not None


def is_closing_fence(fence: Fence, opening: Fence) -> bool:
    """CommonMark's closing rule, with the indentation measured from the opener's.

    A closer indented four or more columns beyond the opener is content: prompts show
    nested examples as an indented ```` ``` ```` inside an outer fence.
    """
    return (
        fence.marker[0] == opening.marker[0]
        and len(fence.marker) >= len(opening.marker)
        and not fence.info.strip()
        and fence.indent <= opening.indent + 3
    )


def code_blocks(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Fenced blocks from opening line to closing line; an unclosed one runs to ``end``."""
    stop = len(text) if end is None else end
    opening: Fence | None = None
    for fence in fence_lines(text, start, stop):
        if opening is None:
            opening = fence
        elif is_closing_fence(fence, opening):
            yield opening.start, fence.end
            opening = None
    if opening is not None:
        yield opening.start, stop


def wrapper_fence(text: str, start: int = 0) -> tuple[Fence, Fence] | None:
    """The opening and closing lines of a fence that wraps the whole prompt file, if any.

    Read as one code block, such a file would be protected whole and show no sections;
    only its two lines are code, and the prompt inside is read like any other.
    """
    first = next(fence_lines(text, start), None)
    if first is None or first.start != start:
        return None
    if first.info.strip().lower() not in _WRAPPER_INFOS:
        return None
    stripped_end = len(text.rstrip())
    line_start = text.rfind("\n", 0, stripped_end) + 1
    last = next(fence_lines(text, line_start), None)
    if last is None or last.start <= first.start or not is_closing_fence(last, first):
        return None
    return first, last


# --- front matter ----------------------------------------------------------------------------
_FRONT_MATTER_RE = re.compile(
    r"(?P<fence>---|\+\+\+)[ \t]*\r?\n"
    r"(?P<body>(?s:.*?))"
    r"^(?:(?P=fence)|\.\.\.)[ \t]*\r?$\n?",
    re.MULTILINE,
)
_DELIMITER_LINE_RE = re.compile(r"(---|\+\+\+)[ \t]*\r?\Z")
# A prompt may merely start with a ``---`` rule: the header must look like YAML (``key:``
# or ``- item``) or TOML (``key =`` or ``[table]``) on its first real line.
_YAML_FIRST_LINE_RE = re.compile(r"""[\w"'$.-][^:\n]*:(?:\s|$)|-\s|-$""")
_TOML_FIRST_LINE_RE = re.compile(r"""[\w"'.-]+\s*=|\[""")


def front_matter_delimiter(line: str) -> str | None:
    """``"---"`` (YAML) or ``"+++"`` (TOML) if ``line`` can open or close front matter."""
    m = _DELIMITER_LINE_RE.match(line)
    return m.group(1) if m else None


def front_matter_at(text: str, pos: int) -> tuple[int, int] | None:
    """The front matter starting exactly at ``pos``, with the line break after its closer."""
    m = _FRONT_MATTER_RE.match(text, pos)
    if m is None:
        return None
    first = next((ln.strip() for ln in m.group("body").splitlines() if ln.strip()), "")
    if first and not first.startswith("#"):
        check = _YAML_FIRST_LINE_RE if m.group("fence") == "---" else _TOML_FIRST_LINE_RE
        if not check.match(first):
            return None
    return m.start(), m.end()


@dataclass(frozen=True, slots=True)
class Frame:
    """Where a prompt file's own text lies, inside any byte-order mark and wrapper fence.

    Found in one place so that the protector and the outline agree on where the prompt and
    its header start. ``start`` and ``end`` bound the text inside the wrapper (without one,
    the whole text after a BOM); ``front_matter`` is the header at ``start``, if any.
    """

    start: int
    end: int
    wrapper: tuple[Fence, Fence] | None
    front_matter: tuple[int, int] | None


def frame(text: str) -> Frame:
    """The wrapper fence and front matter of ``text``."""
    start = 1 if text.startswith("\ufeff") else 0
    end = len(text)
    wrapper = wrapper_fence(text, start)
    if wrapper is not None:
        opening, closing = wrapper
        start = min(opening.end + 1, closing.start)
        end = closing.start
    return Frame(start, end, wrapper, front_matter_at(text, start))


# --- ATX headings ----------------------------------------------------------------------------
# Up to three spaces (a tab or four spaces make indented code, where ``# x`` is a shell
# comment), one to six ``#``, then a blank or the end of the line (``#hashtag`` is prose).
_HEADING_RE = re.compile(r"^ {0,3}(?P<marks>#{1,6})(?=[ \t]|\r?$)[^\n]*", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Heading:
    """An ATX heading line; ``title`` is without the marks and any closing ``#`` run."""

    start: int
    end: int
    level: int
    title: str


def _title(rest: str) -> str:
    title = rest.strip()
    bare = title.rstrip("#")
    if not bare or bare[-1].isspace():  # a closing sequence, not "C#"
        title = bare.strip()
    return title


def headings(text: str, start: int = 0, end: int | None = None) -> Iterator[Heading]:
    """The heading lines that start in ``[start, end)``, inside code blocks too.

    Callers decide about those: the protector's code block swallows them anyway, while
    the outline must skip them.
    """
    for m in _HEADING_RE.finditer(text, start, len(text) if end is None else end):
        yield Heading(m.start(), m.end(), len(m.group("marks")), _title(text[m.end("marks") : m.end()]))


def is_heading(line: str) -> bool:
    """Whether ``line`` (without its ``\\n``) is an ATX heading.

    Empty ones (``#``) count: a line of its own to the splitter, though the protector has
    no title in it to keep.
    """
    return _HEADING_RE.match(line) is not None


# --- chat role lines -------------------------------------------------------------------------
# Prompty and similar formats split a prompt into messages with a role alone on its line
# (``system:``, ``# User:``).
_ROLE_LINE_RE = re.compile(
    r"^[ \t]*(?:#+[ \t]*)?(?P<role>system|user|assistant|developer|tool|function|human|ai)[ \t]*:[ \t]*\r?$",
    re.MULTILINE | re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class RoleLine:
    """A line that starts a chat message; ``role`` is lowercase."""

    start: int
    end: int
    role: str


def role_lines(text: str, start: int = 0, end: int | None = None) -> Iterator[RoleLine]:
    """The role lines that start in ``[start, end)``."""
    for m in _ROLE_LINE_RE.finditer(text, start, len(text) if end is None else end):
        yield RoleLine(m.start(), m.end(), m.group("role").lower())


# --- rules and setext underlines -------------------------------------------------------------
# Three or more of one of ``-*_``, blanks between them allowed, indented at most three spaces.
_THEMATIC_BREAK_RE = re.compile(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})\r?\Z")
_SETEXT_UNDERLINE_RE = re.compile(r" {0,3}(?:=+|-+)[ \t]*\r?\Z")


def is_thematic_break(line: str) -> bool:
    """Whether ``line`` is a horizontal rule.

    ``---`` is one anywhere but at the start of a prompt, where it may open front matter
    (``frame`` tells which).
    """
    return _THEMATIC_BREAK_RE.match(line) is not None


def is_setext_underline(line: str) -> bool:
    """Whether ``line`` could underline the line above into a heading: a line of its own either way."""
    return _SETEXT_UNDERLINE_RE.match(line) is not None


# --- list items ------------------------------------------------------------------------------
# Item labels: "1." and "1.2." (at most three digits a level, four levels), "a)", "iv.".
_NUMBER = r"[0-9]{1,3}(?:\.[0-9]{1,3}){0,3}"
_ROMAN = r"[ivxIVX]{1,4}"
_ITEM_LABEL_RE = re.compile(_NUMBER + r"|[A-Za-z]|" + _ROMAN)
# A marker takes its indentation (nesting), a task box and the blanks before the item's
# text; an item needs text, so a line of dashes or a lone "-" is not one.
_LIST_MARKER_RE = re.compile(
    r"^[ \t]*(?:[-*+\u2022\u2023\u25e6\u25aa\u2013]|" + _NUMBER + r"[.)]|\(?[A-Za-z0-9]{1,3}\)"
    r"|[A-Za-z][.)]|" + _ROMAN + r"\.)(?:[ \t]+\[[ xX]\])?[ \t]+(?=\S)",
    re.MULTILINE,
)


def _is_rule_not_item(text: str, m: re.Match[str]) -> bool:
    """CommonMark: ``* * *`` and ``- - -`` are rules, though they start like list items."""
    if m.group().strip(" \t") not in ("-", "*"):
        return False
    line_end = text.find("\n", m.end())
    return _THEMATIC_BREAK_RE.match(text, m.start(), len(text) if line_end < 0 else line_end) is not None


def list_markers(text: str) -> Iterator[tuple[int, int]]:
    """List markers with their indentation (nesting) and the blanks after them."""
    for m in _LIST_MARKER_RE.finditer(text):
        if not _is_rule_not_item(text, m):
            yield m.start(), m.end()


def is_list_item(line: str) -> bool:
    """Whether ``line`` opens a list item."""
    m = _LIST_MARKER_RE.match(line)
    return m is not None and not _is_rule_not_item(line, m)


def is_item_label(token: str) -> bool:
    """Whether ``token`` (without its closing ``.`` or ``)``) can label a list item.

    The period after such a label at a line's start closes the label, not a sentence.
    """
    return _ITEM_LABEL_RE.fullmatch(token) is not None


# --- tables ----------------------------------------------------------------------------------
_TABLE_ROW_RE = re.compile(r"[ \t]*\|")
# Delimiter-row candidates hold only pipes, dashes, colons and blanks: one character class,
# so the scan cannot backtrack over a long line of spaces; the cells are checked afterwards.
_DELIMITER_ROW_RE = re.compile(r"^[ \t|:-]+\r?$", re.MULTILINE)
_CELL_RULE_RE = re.compile(r"[ \t]*:?-+:?[ \t]*\Z")


def _has_delimiter_cells(row: str) -> bool:
    cells = row.strip(" \t\r").split("|")
    if len(cells) < 2:
        return False  # a rule ("---") or front-matter fence, not a table
    if not cells[0]:
        cells = cells[1:]
    if cells and not cells[-1]:
        cells = cells[:-1]
    return bool(cells) and all(_CELL_RULE_RE.match(cell) for cell in cells)


def table_delimiter_rows(text: str) -> Iterator[tuple[int, int]]:
    """The ``|---|:--:|`` rows, which make the line above them a table's header."""
    for m in _DELIMITER_ROW_RE.finditer(text):
        if _has_delimiter_cells(m.group()):
            yield m.start(), m.end()


def is_table_delimiter_row(line: str) -> bool:
    """Whether ``line`` is a delimiter row, a table line even without a leading pipe."""
    return _DELIMITER_ROW_RE.match(line) is not None and _has_delimiter_cells(line)


def is_table_row(line: str) -> bool:
    """Whether ``line`` is a table row written with a leading pipe (``| a | b |``).

    A line on its own can say no more: a row without the leading pipe is a table row only
    by the delimiter row near it, which ``table_delimiter_rows`` finds.
    """
    return _TABLE_ROW_RE.match(line) is not None
