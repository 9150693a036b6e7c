"""Positions, incremental changes, prompt-file globs and sections, without a server."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types

from server.documents import (
    Document,
    DocumentStore,
    is_prompt_file,
    outline,
    paragraph_at,
    patched_line_starts,
    section_at,
)
from server.settings import DEFAULT_PROMPT_FILES
from tests.server.conftest import offset as reference_offset
from tests.server.conftest import position as reference_position

MIXED = "a😀b\r\n中文 text 🎉\rline three\n\u2028still line three\x0cand this\n\nend 👩‍👩‍👧"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
def test_positions_round_trip_and_match_first_principles(encoding: str) -> None:
    doc = Document("file:///x.prompt", MIXED, 1, position_encoding=encoding)
    for at in range(len(MIXED) + 1):
        if MIXED[at - 1 : at + 1] == "\r\n":
            continue  # between \r and \n is not a position
        pos = doc.position_at(at)
        assert pos == reference_position(MIXED, at, encoding), at
        assert doc.offset_at(pos) == at


def test_utf16_columns_of_emoji_and_cjk() -> None:
    doc = Document("file:///x", "a😀b 中文c", 1)
    assert doc.position_at(1) == types.Position(line=0, character=1)
    assert doc.position_at(2) == types.Position(line=0, character=3)  # after the surrogate pair
    assert doc.position_at(5) == types.Position(line=0, character=6)  # after 中
    assert doc.offset_at(types.Position(line=0, character=2)) == 1  # inside the pair rounds down


def test_positions_past_the_end_clamp() -> None:
    doc = Document("file:///x", "ab\r\ncd", 1)
    assert doc.offset_at(types.Position(line=0, character=99)) == 2  # before \r\n
    assert doc.offset_at(types.Position(line=7, character=0)) == 6
    assert doc.position_at(3) == types.Position(line=0, character=2)  # inside \r\n


def test_line_breaks_are_only_lsp_ones() -> None:
    doc = Document("file:///x", "one\u2028two\x0cthree\x85four\nfive", 1)
    assert doc.position_at(len(doc.text) - 1) == types.Position(line=1, character=3)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_random_incremental_changes_match_a_reference(encoding: str) -> None:
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "\n", "\r\n", "😀", "中", "é", "{x}", "\t"]
    store = DocumentStore()
    store.position_encoding = encoding
    text = "start\n"
    uri = "file:///r.prompt"
    store.open(types.TextDocumentItem(uri=uri, language_id="markdown", version=1, text=text))
    for version in range(2, 300):
        start = rng.randint(0, len(text))
        end = rng.randint(start, min(len(text), start + 5))
        while text[start - 1 : start + 1] == "\r\n":
            start -= 1
        while text[end - 1 : end + 1] == "\r\n":
            end += 1
        new = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
        change = types.TextDocumentContentChangePartial(
            range=types.Range(
                start=reference_position(text, start, encoding), end=reference_position(text, end, encoding)
            ),
            text=new,
        )
        text = text[:start] + new + text[end:]
        identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
        doc = store.change(types.DidChangeTextDocumentParams(text_document=identifier, content_changes=[change]))
        assert doc is not None and doc.text == text and doc.version == version
        # the line index is patched per change, never rebuilt: it must equal a fresh one
        assert doc.line_starts == Document(uri, text).line_starts
    pos = reference_position(text, len(text) // 2, encoding)
    assert doc.offset_at(pos) == reference_offset(text, pos, encoding)


def test_a_patched_line_index_equals_a_fresh_one_around_split_line_breaks() -> None:
    # Edits that join a \r to a \n, split a \r\n, or delete across breaks, at either edge.
    rng = random.Random(3)
    for _ in range(20000):
        text = "".join(rng.choice("ab\r\n") for _ in range(rng.randint(0, 12)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        new = "".join(rng.choice("x\r\n") for _ in range(rng.randint(0, 4)))
        edited = text[:start] + new + text[end:]
        patched = patched_line_starts(Document("u", text).line_starts, edited, start, end, len(new))
        assert patched == Document("u", edited).line_starts, (text, start, end, new)


def test_full_change_replaces_the_text() -> None:
    store = DocumentStore()
    store.open(types.TextDocumentItem(uri="file:///a", language_id="", version=1, text="old"))
    change = types.TextDocumentContentChangeWholeDocument(text="new text")
    identifier = types.VersionedTextDocumentIdentifier(uri="file:///a", version=2)
    doc = store.change(types.DidChangeTextDocumentParams(text_document=identifier, content_changes=[change]))
    assert doc is not None and doc.text == "new text"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:///home/me/repo/agent.prompt", True),
        ("file:///home/me/repo/.github/prompts/review.prompt.md", True),
        ("file:///home/me/repo/flows/chat.prompty", True),
        ("file:///home/me/repo/flows/chat.jinja2", True),
        ("file:///home/me/repo/t/x.j2", True),
        ("file:///home/me/repo/prompts/sub/notes.md", True),
        ("file:///home/me/repo/prompts/system.txt", True),
        ("file:///home/me/repo/README.md", False),
        ("file:///home/me/repo/docs/prompts.md", False),
        ("file:///home/me/repo/src/main.py", False),
        ("file:///C%3A/Users/me/prompts/a%20b.md", True),
        ("untitled:Untitled-1", False),
    ],
)
def test_default_prompt_file_globs(uri: str, expected: bool) -> None:
    assert is_prompt_file(uri, DEFAULT_PROMPT_FILES) is expected


def test_globs_relative_to_workspace_and_braces() -> None:
    roots = ["file:///home/me/repo"]
    assert is_prompt_file("file:///home/me/repo/agents/a.md", ["agents/*.{md,txt}"], roots)
    assert not is_prompt_file("file:///home/me/other/agents/a.md", ["agents/*.{md,txt}"], roots)
    assert not is_prompt_file("file:///home/me/repo/agents/deep/a.md", ["agents/*.md"], roots)
    assert is_prompt_file("file:///home/me/repo/agents/deep/a.md", ["agents/**"], roots)
    assert is_prompt_file("file:///home/me/repo/x/P1.MD", ["**/p[0-9].md"], roots)


PROMPTY = """---
name: x
---
system:
You are helpful.

Be brief.

user:
{{question}}
"""

MARKDOWN = """Intro line.

# Title
Text under title.
## Part A
A text.
```
# not a heading
```
## Part B
B text.
# Second
"""


def _section(text: str, needle: str) -> tuple[str, str]:
    doc = Document("file:///x", text, 1)
    found = section_at(text, text.index(needle), outline(text), doc.line_starts)
    assert found is not None
    return found.kind, text[found.start : found.end]


def test_prompty_role_blocks_and_front_matter() -> None:
    assert _section(PROMPTY, "name:") == ("front matter", "---\nname: x\n---\n")
    assert _section(PROMPTY, "Be brief") == ("role", "system:\nYou are helpful.\n\nBe brief.\n\n")
    assert _section(PROMPTY, "{{question}}") == ("role", "user:\n{{question}}\n")


def test_markdown_heading_sections_nest_and_skip_code() -> None:
    kind, body = _section(MARKDOWN, "Text under")
    assert kind == "heading" and body.startswith("# Title") and body.endswith("B text.\n")
    assert _section(MARKDOWN, "A text")[1] == "## Part A\nA text.\n```\n# not a heading\n```\n"
    assert _section(MARKDOWN, "not a heading")[1].startswith("## Part A")
    assert _section(MARKDOWN, "Intro") == ("paragraph", "Intro line.")


def test_paragraphs_and_blank_lines() -> None:
    text = "First para\nstill first.\r\n\r\nSecond para.\n\n\nThird."
    doc = Document("file:///x", text, 1)
    shape = outline(text)
    found = section_at(text, text.index("still"), shape, doc.line_starts)
    assert found is not None and text[found.start : found.end] == "First para\nstill first."
    found = section_at(text, text.index("Second") + 3, shape, doc.line_starts)
    assert found is not None and text[found.start : found.end] == "Second para."
    assert section_at(text, text.index("\n\n\n") + 1, shape, doc.line_starts) is None
    assert paragraph_at(text, len(text), doc.line_starts) is not None
