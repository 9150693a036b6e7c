"""Open documents as the server sees them: text, version, positions, prompt-file globs, sections.

The server keeps its own copy of each open document rather than pygls' workspace copy: LSP
positions count UTF-16 code units (or the negotiated encoding) on lines ended by ``\\n``,
``\\r\\n`` or ``\\r`` only, while ``str.splitlines`` (which pygls uses) also breaks on
U+2028, form feeds and other separators that prompts pasted from the web contain. One line
index per version makes every conversion a bisection instead of a walk over a 1 MB file.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from lsprotocol import types

from lingua_core import markup

_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")

UTF16, UTF8, UTF32 = "utf-16", "utf-8", "utf-32"


def _units(text: str, encoding: str) -> int:
    """Length of ``text`` in the position encoding's code units."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + len(_ASTRAL_RE.findall(text))


def _index_of_units(line: str, units: int, encoding: str) -> int:
    """Index into ``line`` of the character at ``units`` code units; inside a character rounds down."""
    if units <= 0:
        return 0
    if encoding == UTF32 or line.isascii() or (encoding == UTF16 and not _ASTRAL_RE.search(line)):
        return min(units, len(line))
    seen = 0
    for index, char in enumerate(line):
        code = ord(char)
        if encoding == UTF16:
            width = 2 if code > 0xFFFF else 1
        else:
            width = 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
        if seen + width > units:
            return index
        seen += width
    return len(line)


@dataclass
class Document:
    """One open document; ``version`` is the client's, None only for documents never opened."""

    uri: str
    text: str
    version: int | None = None
    language_id: str = ""
    position_encoding: str = UTF16
    _starts: list[int] | None = field(default=None, repr=False)
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def line_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _LINE_BREAK_RE.finditer(self.text))]
        return self._starts

    def memo(self, key: str) -> dict[str, object]:
        """A scratch dict that lives as long as this version of the text (outlines, counts)."""
        return self._cache.setdefault(key, {})  # type: ignore[return-value]

    def _line_bounds(self, line: int) -> tuple[int, int]:
        """Start and end (before the line break) of ``line``."""
        starts = self.line_starts
        start = starts[line]
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        while end > start and self.text[end - 1] in "\r\n":
            end -= 1
        return start, end

    def offset_at(self, position: types.Position) -> int:
        """``str`` index of an LSP position; past the end of a line or the file clamps."""
        starts = self.line_starts
        if position.line >= len(starts):
            return len(self.text)
        start, end = self._line_bounds(position.line)
        return start + _index_of_units(self.text[start:end], position.character, self.position_encoding)

    def position_at(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.line_starts, offset) - 1
        start, end = self._line_bounds(line)
        if offset > end:  # inside a \r\n pair: the position before it
            offset = end
        return types.Position(line=line, character=_units(self.text[start:offset], self.position_encoding))

    def range_at(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position_at(start), end=self.position_at(end))

    def offsets(self, range_: types.Range) -> tuple[int, int]:
        """``str`` slice bounds of an LSP range, ordered even if the client sent them reversed."""
        start, end = self.offset_at(range_.start), self.offset_at(range_.end)
        return (start, end) if start <= end else (end, start)

    def text_in(self, range_: types.Range) -> str:
        start, end = self.offsets(range_)
        return self.text[start:end]

    def range_after_replace(self, range_: types.Range, new_text: str) -> types.Range:
        """Where ``new_text`` lies once it has replaced ``range_``: what the editor reveals and
        highlights after a compression, computed without building the edited text."""
        start = range_.start
        lines = _LINE_BREAK_RE.split(new_text)
        if len(lines) == 1:
            end = types.Position(line=start.line, character=start.character + _units(new_text, self.position_encoding))
        else:
            end = types.Position(line=start.line + len(lines) - 1, character=_units(lines[-1], self.position_encoding))
        return types.Range(start=start, end=end)

    @property
    def full_range(self) -> types.Range:
        return self.range_at(0, len(self.text))

    def apply_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        if isinstance(change, types.TextDocumentContentChangePartial):
            start, end = self.offsets(change.range)
            self.text = self.text[:start] + change.text + self.text[end:]
            if self._starts is not None:
                self._starts = patched_line_starts(self._starts, self.text, start, end, len(change.text))
        else:
            self.text = change.text
            self._starts = None
        self._cache = {}


def patched_line_starts(starts: list[int], text: str, start: int, end: int, inserted: int) -> list[int]:
    """The line index after ``[start, end)`` was replaced by ``inserted`` characters, from the
    one before: a keystroke in a 12 MB prompt must not rescan the file (37 ms per MB).

    A line starts after every ``\n`` and after every ``\r`` not followed by ``\n``, so a start
    depends only on the two characters before it: the starts before ``start`` stand, those
    two or more characters after the old ``end`` move by the length difference, and the ones
    between are found again in the new text.
    """
    new_end = start + inserted
    head = starts[: bisect.bisect_left(starts, start)] or [0]
    middle = [
        match.end()
        for match in _LINE_BREAK_RE.finditer(text, max(0, start - 1), min(len(text), new_end + 2))
        if start <= match.end() <= new_end + 1 and match.end() > 0
    ]
    shift = inserted - (end - start)
    tail = [old + shift for old in starts[bisect.bisect_left(starts, end + 2) :]]
    return head + [s for s in middle if s > head[-1]] + tail


class DocumentStore:
    """The open documents by URI."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}
        self.position_encoding = UTF16

    def open(self, item: types.TextDocumentItem) -> Document:
        document = Document(item.uri, item.text, item.version, item.language_id, self.position_encoding)
        self._documents[item.uri] = document
        return document

    def change(self, params: types.DidChangeTextDocumentParams) -> Document | None:
        document = self._documents.get(params.text_document.uri)
        if document is None:
            return None
        for change in params.content_changes:
            document.apply_change(change)
        document.version = params.text_document.version
        return document

    def close(self, uri: str) -> None:
        self._documents.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        return self._documents.get(uri)

    def __iter__(self) -> Iterator[Document]:
        return iter(list(self._documents.values()))


# --- prompt-file globs -------------------------------------------------------------------


def uri_to_path(uri: str) -> str:
    """The POSIX-style path of a URI (``untitled:`` and other schemes keep their path part)."""
    parsed = urlparse(uri)
    path = unquote(parsed.path)
    if re.match(r"^/[A-Za-z]:", path):  # file:///c:/x on Windows
        path = path[1:]
    return path.replace("\\", "/")


@functools.lru_cache(maxsize=256)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """VS Code glob syntax: ``**`` any folders, ``*`` and ``?`` within one segment, ``{a,b}``, ``[...]``."""
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "{":
            out.append("(?:")
            depth += 1
        elif char == "}" and depth:
            out.append(")")
            depth -= 1
        elif char == "," and depth:
            out.append("|")
        elif char == "[":
            close = pattern.find("]", i + 1)
            if close < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : close].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = close
        else:
            out.append(re.escape(char))
        i += 1
    out.append(")" * depth)
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def is_prompt_file(uri: str, globs: Sequence[str], roots: Sequence[str] = ()) -> bool:
    """Whether ``uri`` matches a glob, relative to a workspace folder or (for ``**/`` globs) anywhere."""
    path = uri_to_path(uri)
    candidates = [path.lstrip("/")]
    for root in roots:
        root_path = uri_to_path(root).rstrip("/") + "/"
        if path.startswith(root_path):
            candidates.append(path[len(root_path) :])
    candidates.append(PurePosixPath(path).name)
    for glob in globs:
        regex = glob_to_regex(glob.lstrip("/") if glob.startswith("/") else glob)
        if any(regex.match(candidate) for candidate in candidates):
            return True
    return False


# --- sections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A ``[start, end)`` slice of the text the cursor belongs to, for per-section counts."""

    start: int
    end: int
    kind: str  # "heading", "role", "front matter" or "paragraph"
    title: str


@dataclass(frozen=True)
class Outline:
    """Where sections start in one version of a text: computed once, then bisected per hover.

    Front matter, role lines, headings and code fences are lingua_core.markup's, so the
    sections shown are the ones compression protects and splits by.
    """

    front_matter_end: int
    # (start of the marker line, role) for role blocks; (start, level, title) for headings
    roles: tuple[tuple[int, str], ...]
    headings: tuple[tuple[int, int, str], ...]
    # after a ````prompt wrapper's opening line (which belongs to no section), else 0
    prompt_start: int = 0


def outline(text: str) -> Outline:
    layout = markup.frame(text)
    front = layout.front_matter
    body = front[1] if front else layout.start
    fences = list(markup.code_blocks(text, layout.start, layout.end))
    fence_starts = [start for start, _ in fences]

    def in_fence(offset: int) -> bool:
        i = bisect.bisect_right(fence_starts, offset) - 1
        return i >= 0 and offset < fences[i][1]

    roles = tuple((r.start, r.role) for r in markup.role_lines(text, body, layout.end) if not in_fence(r.start))
    headings: tuple[tuple[int, int, str], ...] = ()
    if not roles:
        headings = tuple(
            (h.start, h.level, h.title) for h in markup.headings(text, body, layout.end) if not in_fence(h.start)
        )
    return Outline(front[1] if front else 0, roles, headings, layout.start if layout.wrapper else 0)


def section_at(text: str, offset: int, shape: Outline, line_starts: Sequence[int]) -> Section | None:
    """The section holding ``offset``: front matter, role block, heading section, else paragraph.

    A heading's section runs to the next heading of the same or a higher level, so it
    includes its subsections (as editors fold it). None on a blank line outside any section
    and on the opening line of a ````prompt wrapper, which is not part of the prompt.
    """
    if offset < shape.prompt_start:
        return None
    if offset < shape.front_matter_end:
        return Section(shape.prompt_start, shape.front_matter_end, "front matter", "front matter")
    if shape.roles:
        starts = [start for start, _ in shape.roles]
        i = bisect.bisect_right(starts, offset) - 1
        if i >= 0:
            end = starts[i + 1] if i + 1 < len(starts) else len(text)
            return Section(starts[i], end, "role", shape.roles[i][1])
    elif shape.headings:
        starts = [start for start, _, _ in shape.headings]
        i = bisect.bisect_right(starts, offset) - 1
        if i >= 0:
            start, level, title = shape.headings[i]
            end = next((s for s, lv, _ in shape.headings[i + 1 :] if lv <= level), len(text))
            return Section(start, end, "heading", title)
    return paragraph_at(text, offset, line_starts, max(shape.front_matter_end, shape.prompt_start))


def paragraph_at(text: str, offset: int, line_starts: Sequence[int], floor: int = 0) -> Section | None:
    """The run of non-blank lines around ``offset``, not reaching back before ``floor``."""

    def bounds(line: int) -> tuple[int, int]:
        start = line_starts[line]
        return start, line_starts[line + 1] if line + 1 < len(line_starts) else len(text)

    def blank(line: int) -> bool:
        start, end = bounds(line)
        return not text[start:end].strip()

    line = bisect.bisect_right(line_starts, max(offset, floor)) - 1
    if blank(line):
        return None
    first = last = line
    while first > 0 and line_starts[first - 1] >= floor and not blank(first - 1):
        first -= 1
    while last + 1 < len(line_starts) and not blank(last + 1):
        last += 1
    start, end = line_starts[first], bounds(last)[1]
    while end > start and text[end - 1] in "\r\n":
        end -= 1
    return Section(start, end, "paragraph", text[start:end].split("\n", 1)[0].strip()[:40])
