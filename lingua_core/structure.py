"""The syntax of a prompt's structure, which compression must keep for the structure to survive.

Prompts show the LLM the exact shape of the answer they want: a JSON example, an XML-ish
tag, a numbered list, a table, a tuple format line. Perplexity-based compression keeps
the surprising words and drops the predictable punctuation, so ``{"points": [...]}``
becomes ``{{ " {{"`` and ``1. Identify all entities.`` becomes ``. entities.``. The
finders here return the characters that carry the structure (brackets, quotes, keys, list
markers, pipes, whole format lines) and leave the prose inside it compressible.

Each finder yields ``(start, end)`` character spans and runs in linear time: regexes have
bounded repetition and no two adjacent quantifiers over the same characters, and the
JSON scanner moves forward only, with a bounded stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lingua_core import markup

__all__ = [
    "JsonFragment",
    "find_format_lines",
    "find_front_matter_delimiters",
    "find_json",
    "find_list_markers",
    "find_markup_tags",
    "find_table_pipes",
    "json_fragments",
]

# --- JSON fragments ------------------------------------------------------------------------
# A JSON example is a balanced bracket region with a quoted key in it. Regions longer than
# this are a stray bracket closing far away, not an example; and an unclosed opener is
# forgotten once this many others are open, so that junk cannot grow the stack.
_MAX_FRAGMENT_CHARS = 20_000
_MAX_DEPTH = 256
_BRACKET_OR_QUOTE_RE = re.compile(r"""[{}\[\]"']""")
# JSON strings end at their closing quote or, unclosed, at the end of the line.
_STRING_RE = {
    '"': re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"?'),
    "'": re.compile(r"'[^'\\\n]*(?:\\.[^'\\\n]*)*'?"),
}
_KEY_COLON_RE = re.compile(r"[ \t]*:")
# A single quote opens a string only where JSON or a Python dict expects a value or a key;
# anywhere else it is an apostrophe.
_SINGLE_QUOTE_AFTER = frozenset("{[,:")
_LOOKBACK = 200


@dataclass
class _Opener:
    pos: int
    width: int  # 2 for a str.format-escaped ``{{``
    char: str
    has_key: bool = False


@dataclass(frozen=True)
class JsonFragment:
    """A JSON-like example: its whole extent and the spans of its syntax."""

    start: int
    end: int
    spans: list[tuple[int, int]] = field(default_factory=list)


def _opens_single_quoted(text: str, pos: int) -> bool:
    """Whether a ``'`` opens a string: after ``{[,:`` or first on its line."""
    before = text[max(0, pos - _LOOKBACK) : pos].rstrip(" \t")
    return not before or before[-1] == "\n" or before.rstrip()[-1:] in _SINGLE_QUOTE_AFTER


def _keyed_regions(text: str) -> list[tuple[int, int]]:
    """Balanced bracket regions holding a ``"key":`` pair, innermost and outermost alike."""
    stack: list[_Opener] = []
    regions: list[tuple[int, int]] = []
    pos = 0
    while True:
        m = _BRACKET_OR_QUOTE_RE.search(text, pos)
        if m is None:
            return regions
        i = m.start()
        ch = text[i]
        if ch in "{[":
            width = 2 if text.startswith("{{", i) else 1
            if len(stack) >= _MAX_DEPTH:
                del stack[0]
            stack.append(_Opener(i, width, ch))
            pos = i + width
        elif ch in "}]":
            pos = i + 1
            if not stack or stack[-1].char != ("{" if ch == "}" else "["):
                continue  # a stray closer in prose
            top = stack.pop()
            if top.width == 2 and text.startswith("}}", i):
                pos = i + 2
            if top.has_key:
                if pos - top.pos <= _MAX_FRAGMENT_CHARS:
                    regions.append((top.pos, pos))
                if stack:
                    stack[-1].has_key = True
        else:
            pos = i + 1
            if not stack or (ch == "'" and not _opens_single_quoted(text, i)):
                continue
            s = _STRING_RE[ch].match(text, i)
            assert s is not None  # the pattern matches the quote itself at least
            pos = s.end()
            if _KEY_COLON_RE.match(text, pos):
                stack[-1].has_key = True


_TOKEN_RE = re.compile(
    r"""(?P<punct>\{\{|\}\}|[{}\[\],:])"""
    r"""|(?P<string>"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|'[^'\\\n]*(?:\\.[^'\\\n]*)*'?)"""
    r"""|(?P<bare>[^\s{}\[\],:"']+(?:[ \t]+[^\s{}\[\],:"']+)*)"""
    r"""|(?P<other>\S)"""
)
# Bare values are numbers, true/false/null, ``score_value``, ``<entity name>``, ``str``;
# a longer bare run is prose that happens to sit between brackets.
_MAX_BARE_CHARS = 60
_MAX_BARE_WORDS = 5
# A short string value is an enum or a name (``"Yes"``, ``"MARTIN SMITH"``, ``"MARKET
# STRATEGY COMMITTEE"``) and is kept whole: an example with emptied names no longer shows
# what to produce. The words of longer values (descriptions) are what compression may shorten.
_MAX_ATOM_CHARS = 40
_MAX_ATOM_WORDS = 3


def _fragment_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    for m in _TOKEN_RE.finditer(text, start, end):
        kind = m.lastgroup
        a, b = m.span()
        token = m.group()
        if kind == "punct":
            yield a, b
        elif kind == "string" and token[0] == "'" and not _opens_single_quoted(text, a):
            pass  # an apostrophe in a bare run
        elif kind == "string":
            inner = token[1:-1] if len(token) > 1 and token[-1] == token[0] else token[1:]
            if _KEY_COLON_RE.match(text, b) or (
                len(inner) <= _MAX_ATOM_CHARS and len(inner.split()) <= _MAX_ATOM_WORDS
            ):
                yield a, b
            else:
                yield a, a + 1
                if token[-1] == token[0] and len(token) > 1:
                    yield b - 1, b
        elif kind == "bare" and len(token) <= _MAX_BARE_CHARS and len(token.split()) <= _MAX_BARE_WORDS:
            yield a, b


def json_fragments(text: str) -> Iterator[JsonFragment]:
    """The outermost JSON-like examples, ``{{ ... }}`` str.format escapes included."""
    last_end = -1
    for start, end in sorted(_keyed_regions(text)):
        if start < last_end:
            continue  # nested in a fragment already reported
        last_end = end
        yield JsonFragment(start, end, list(_fragment_spans(text, start, end)))


def find_json(text: str) -> Iterator[tuple[int, int]]:
    """The syntax of JSON examples: brackets, commas, colons, keys, bare values, and quotes."""
    for fragment in json_fragments(text):
        yield from fragment.spans


# --- markup tags ---------------------------------------------------------------------------
# ``<context>``, ``</doc>``, ``<br/>``, ``<a href="x">``, ``<entity name>`` (a slot that reads
# as a tag with an attribute) and special tokens such as ``<|>`` and ``<|COMPLETE|>``. A
# name must follow ``<`` at once, so ``a < b`` is prose.
_ATTR_VALUE = r"""(?:"[^"\n]{0,200}"|'[^'\n]{0,200}'|[^\s"'<>=`]{1,100})"""
_ATTR = r"\s{1,20}[A-Za-z_:@][\w:.@-]{0,64}(?:[ \t]{0,5}=[ \t]{0,5}" + _ATTR_VALUE + ")?"
_TAG_RE = re.compile(r"<(?:/?[A-Za-z_][\w:.-]{0,64}(?:" + _ATTR + r"){0,30}[ \t]{0,20}/?|\|(?:[^<>|\s]{0,64}\|)?)>")


def find_markup_tags(text: str) -> Iterator[tuple[int, int]]:
    """XML-like tags and ``<|...|>`` delimiters; llmlingua segment tags have their own option."""
    for m in _TAG_RE.finditer(text):
        if m.group()[1:].lstrip("/").lower().startswith("llmlingua"):
            continue
        yield m.start(), m.end()


# --- list markers --------------------------------------------------------------------------


def find_list_markers(text: str) -> Iterator[tuple[int, int]]:
    """List markers at line start, with their indentation (nesting) and the space after them.

    What a list item is belongs to markup.py, so that the sentence splitter starts a unit
    at every item this keeps the marker of.
    """
    return markup.list_markers(text)


# --- Markdown tables -----------------------------------------------------------------------
# A table is recognised by its separator row (markup.py's delimiter row); the header above
# it and the rows below it (up to a line without a pipe) are its rows.
_PIPE_RE = re.compile(r"(?<!\\)\|")


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def find_table_pipes(text: str) -> Iterator[tuple[int, int]]:
    """Separator rows whole, and every unescaped ``|`` of the header and body rows."""
    done = 0
    for start, end in markup.table_delimiter_rows(text):
        if start < done:
            continue
        if start > 0:
            head_start, head_end = _line_bounds(text, start - 1)
            if head_start >= done and "|" in text[head_start:head_end]:
                yield from ((p.start(), p.end()) for p in _PIPE_RE.finditer(text, head_start, head_end))
        yield start, end
        pos = end + 1
        while pos < len(text):
            row_start, row_end = _line_bounds(text, pos)
            if "|" not in text[row_start:row_end]:
                break
            yield from ((p.start(), p.end()) for p in _PIPE_RE.finditer(text, row_start, row_end))
            pos = row_end + 1
        done = pos


# --- output-format lines -------------------------------------------------------------------
# A slot is a placeholder for one field of the answer: ``<entity_name>``, ``{tuple_delimiter}``.
# It must name something, so the ``<|>`` delimiter and a lone ``{{`` are not slots.
_SLOT_OR_LITERAL_RE = re.compile(
    r'(?P<slot><[^<>"\n]{0,40}[A-Za-z][^<>"\n]{0,40}>|\{\{?[^{}<>"\n]{0,40}[A-Za-z][^{}<>"\n]{0,40}\}\}?)'
    r'|(?P<literal>"[^"\s]{1,30}")'
)
# Symbols: not letters, digits, blanks or ordinary prose punctuation.
_SYMBOL_RE = re.compile(r"[^\w\s.,;:!?']|_")
_SPACE_RE = re.compile(r"\s")
# "Answer: <letter>", "Output: <json>": a label and the one slot to fill.
_LABEL_SLOT_RE = re.compile(r"[ \t]*[A-Za-z][\w ]{0,30}:[ \t]*<[^<>\n]{1,60}>[ \t]*\Z")
# A scoring rule: "score = 0.4 * relevance + 0.6 * coverage".
_FORMULA_RE = re.compile(r"[ \t]*[\w.\[\]()]{1,60}[ \t]*=[ \t]*[^=\n]+\Z")
_OPERATOR_RE = re.compile(r"(?<=[\w)\s])[*/+\u00d7^](?=[\w(\s])")
_LINE_RE = re.compile(r"[^\n]+")
_SEGMENT_TAG_RE = re.compile(r"</?llmlingua[^<>\n]{0,500}>", re.IGNORECASE)
# Calibrated on the GraphRAG, Prompty, Promptflow and Copilot prompts: format lines there
# are mostly slots, literals and symbols; prose with a placeholder or two is not.
_MIN_STRUCTURE_SHARE = 0.5
# "Format each entity as (...)" introduces its slots in four words; "If true, toggle both
# ${a} and ${b} to false." is an instruction that happens to name two variables.
_MAX_PROSE_WORDS = 4
_PROSE_WORD_RE = re.compile(r"[^\W\d_]{2,}")
_MAX_FORMULA_WORDS = 12


def _line_profile(line: str) -> tuple[int, float, int]:
    """Slots, the share of non-space characters in slots, literals or symbols, and prose words.

    A short quoted literal (``"entity"``) is part of the format to reproduce, so it counts
    as structure, not as prose.
    """
    matches = list(_SLOT_OR_LITERAL_RE.finditer(line))
    slots = sum(m.lastgroup == "slot" for m in matches)
    if slots < 2:
        return slots, 0.0, 0
    inside = "".join(m.group() for m in matches)
    outside = _SLOT_OR_LITERAL_RE.sub(" ", line)
    structural = _nonspace(inside) + len(_SYMBOL_RE.findall(outside))
    nonspace = _nonspace(line)
    return slots, structural / nonspace if nonspace else 0.0, len(_PROSE_WORD_RE.findall(outside))


def _nonspace(chunk: str) -> int:
    return len(chunk) - len(_SPACE_RE.findall(chunk))


def _is_format_line(line: str) -> bool:
    line = _SEGMENT_TAG_RE.sub("", line)  # the user's compression markup, not the answer's format
    if _LABEL_SLOT_RE.match(line):
        return True
    if "=" in line and _FORMULA_RE.match(line):
        words = sum(w.isalpha() for w in line.split())
        if len(_OPERATOR_RE.findall(line)) >= 2 and words <= _MAX_FORMULA_WORDS:
            return True
    slots, share, prose_words = _line_profile(line)
    return slots >= 2 and share >= _MIN_STRUCTURE_SHARE and prose_words <= max(_MAX_PROSE_WORDS, slots)


def find_format_lines(text: str) -> Iterator[tuple[int, int]]:
    """Whole lines that spell out the exact format of the answer (without their line break)."""
    for m in _LINE_RE.finditer(text):
        line = m.group().rstrip("\r")
        if ("<" in line or "{" in line or "=" in line) and _is_format_line(line):
            yield m.start(), m.start() + len(line)


# --- front-matter delimiters ---------------------------------------------------------------
# What a delimiter line is and where complete front matter lies belong to markup.py. A cut
# header has no delimiter pair to vouch for it, so every line here must read as YAML and
# one must be a ``key:``: a stricter test than the first-line check of complete headers.
_YAML_KEY_RE = re.compile(r"""[A-Za-z_"'$][\w"'$.-]{0,80}:(?:[ \t]|\Z)""")
_YAML_OTHER_RE = re.compile(r"[ \t]|-(?:[ \t]|\Z)|#|\r?\Z")
_MAX_FRONT_MATTER_LINES = 500


def _yaml_lines(lines: list[str]) -> tuple[int, bool]:
    """How many leading lines look like YAML, and whether a ``key:`` line is among them."""
    keys = False
    for n, line in enumerate(lines):
        if _YAML_KEY_RE.match(line):
            keys = True
        elif not _YAML_OTHER_RE.match(line):
            return n, keys
    return len(lines), keys


def find_front_matter_delimiters(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """The ``---`` line of front matter that is cut off by a selection.

    A selection that starts inside a YAML header has its closing ``---`` but no opener, and
    one that ends inside it has the opener only; without the delimiter the rest no longer
    parses as a header. Complete front matter at ``start`` is the caller's business, as a
    whole.
    """
    head = text[start : start + 200 * _MAX_FRONT_MATTER_LINES]
    lines = head.split("\n", _MAX_FRONT_MATTER_LINES)[:_MAX_FRONT_MATTER_LINES]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return
    offset = start + sum(len(line) + 1 for line in lines[:first])
    if markup.front_matter_delimiter(lines[first]) == "---":
        # An opener, and the text ends before any closer.
        count, keys = _yaml_lines(lines[first + 1 :])
        if keys and first + 1 + count == len(lines) and len(lines) < _MAX_FRONT_MATTER_LINES:
            yield offset, offset + len(lines[first].rstrip("\r"))
        return
    count, keys = _yaml_lines(lines[first:])
    closer = first + count
    if keys and closer < len(lines) and markup.front_matter_delimiter(lines[closer]) == "---":
        pos = start + sum(len(line) + 1 for line in lines[:closer])
        yield pos, pos + len(lines[closer].rstrip("\r"))
