"""Tests for protected-span detection.

The corpus tests check our finder against a simple, independent oracle per format
(``string.Formatter`` for str.format templates, Jinja's own lexer for Jinja files, plain
string scans for ``{{ }}`` / ``${ }`` and YAML headers) rather than against counts taken
from our own output.

One file past 500 lines on purpose: every test here asks the same question of one function
(which spans ``find_protected`` returns), and the oracles share fixtures across formats.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from lingua_core.errors import InputError
from lingua_core.protect import (
    ProtectOptions,
    Span,
    find_protected_spans,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PROMPTS = DATA / "prompts"
needs_data = pytest.mark.skipif(not PROMPTS.exists(), reason="shared data not available")

ONLY_PLACEHOLDERS = dataclasses.replace(ProtectOptions.nothing(), keep_placeholders=True)
# The defaults before facts and structure were protected, for the tests of those kinds.
NO_FACTS_OR_STRUCTURE = ProtectOptions(
    keep_numbers=False,
    keep_identifiers=False,
    keep_quotes=False,
    keep_structure=False,
    keep_format_lines=False,
)


def _files(pattern: str) -> list[Path]:
    return sorted(PROMPTS.glob(pattern))


def _touches(spans: list[Span], start: int, end: int) -> bool:
    return any(s.start < end and start < s.end for s in spans)


def _covered(spans: list[Span], start: int, end: int) -> bool:
    """Whether one span contains all of ``[start, end)`` (brute force, on purpose)."""
    return any(s.start <= start and end <= s.end for s in spans)


def _texts(text: str, spans: list[Span], kind: str | None = None) -> list[str]:
    return [text[s.start : s.end] for s in spans if kind is None or s.kind == kind]


def _check_invariants(text: str, spans: list[Span]) -> None:
    last_end = 0
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert span.start >= last_end, "spans must be sorted and disjoint"
        assert span.kind in {
            "placeholder",
            "front_matter",
            "url",
            "code_block",
            "segment_tag",
            "role_marker",
            "negation",
            "heading",
            "number",
            "date",
            "identifier",
            "quote",
            "json",
            "markup_tag",
            "list_marker",
            "table",
            "front_matter_delimiter",
            "format_line",
            "user",
        }
        last_end = span.end


# --- unit cases: placeholders ---------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    [
        "{name}",
        "{name.attr}",
        "{user.address.city}",
        "{0}",
        "{}",
        "{items[0]}",
        "{value!r}",
        "{value:.2f}",
        "{count:,}",
        "{x:>10}",
        "{ratio:.1%}",
        "{when:%Y-%m-%d}",
        "{feature-name}",
        "{{ name }}",
        "{{name}}",
        "{{ item.inputs.question }}",
        "{{#each items}}",
        "{{/each}}",
        "{{> partial}}",
        "{{ name | upper }}",
        "{{{ raw_html }}}",
        "{% for item in chat_history %}",
        "{%- if x -%}",
        "{% if a %}",
        "{# a comment #}",
        "${input:name}",
        "${input:name:placeholder text}",
        "${input:Timebox|1 week}",
        "${var}",
        "${workspaceFolder}",
        "${if(name, name, 'N/A')}",
        "${{ github.event.inputs.epic_issue }}",
        "<|im_start|>",
        "<|im_end|>",
        "<|eot_id|>",
        "<\uff5cbegin\u2581of\u2581sentence\uff5c>",
        "[INST]",
        "<<SYS>>",
    ],
)
def test_placeholder_is_one_exact_span(placeholder: str) -> None:
    text = f"Before the field, {placeholder} and after."
    spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
    assert _texts(text, spans) == [placeholder]
    assert spans[0].kind == "placeholder"


def test_multiline_jinja_statement_and_comment() -> None:
    text = "a {% set x =\n  1 %} b {# note\nmore #} c"
    spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
    assert _texts(text, spans) == ["{% set x =\n  1 %}", "{# note\nmore #}"]


@pytest.mark.parametrize(
    "text",
    [
        'Return JSON like {"a": 1} here.',
        "Return {'key': 'value'} here.",
        "A set { name } with spaces.",
        "An object {a: 1, b: 2}.",
        "The set {1, 2, 3}.",
        "Braces across lines {\n}.",
        "Empty-ish { } pair.",
        "Math \\frac{2}{15} and x^{2} and a_{i} and \\boxed{720}.",
        "A {% never closed",
    ],
)
def test_not_placeholders(text: str) -> None:
    assert find_protected_spans(text, ONLY_PLACEHOLDERS) == []


def test_adjacent_fields_both_protected() -> None:
    text = "Code: {context}{input}Next line"
    spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
    assert _texts(text, spans) == ["{context}", "{input}"]


def test_field_inside_escaped_json_is_still_found() -> None:
    text = 'Output: {{"name": {entity_name}, "type": "T"}}'
    spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
    assert _texts(text, spans) == ["{{", "{entity_name}", "}}"]


# --- front matter ---------------------------------------------------------------------


def test_yaml_front_matter() -> None:
    text = "---\nname: x\nmodel: gpt\n---\nBody {{q}}\n"
    spans = find_protected_spans(text)
    assert spans[0] == Span(0, text.index("Body"), "front_matter")


def test_toml_front_matter() -> None:
    text = '+++\ntitle = "x"\n+++\nBody text'
    spans = find_protected_spans(text)
    assert spans == [Span(0, text.index("Body"), "front_matter")]


@pytest.mark.parametrize(
    "text",
    [
        "Intro\n---\nname: x\n---\nBody",  # not at the very start
        "---\nJust a rule, then prose.\n---\nMore prose",  # a rule, not YAML
        "---\nname: x\nnever closed",
    ],
)
def test_not_front_matter(text: str) -> None:
    assert all(s.kind != "front_matter" for s in find_protected_spans(text))


def test_front_matter_option_off() -> None:
    text = "---\nname: x\n---\nBody"
    assert find_protected_spans(text, ProtectOptions(keep_front_matter=False)) == []


# --- code blocks ----------------------------------------------------------------------


def test_fenced_blocks_backticks_and_tildes() -> None:
    text = "Intro\n```python\nx = {a}\n```\nmid\n~~~\ny\n~~~\nend"
    spans = find_protected_spans(text)
    assert _texts(text, spans) == ["```python\nx = {a}\n```", "~~~\ny\n~~~"]
    assert {s.kind for s in spans} == {"code_block"}


def test_unclosed_fence_runs_to_end() -> None:
    text = "Intro\n```js\nlet a = 1;\nmore"
    spans = find_protected_spans(text)
    assert spans == [Span(text.index("```"), len(text), "code_block")]


def test_longer_fence_contains_shorter_one() -> None:
    text = "````md\n```py\nx\n```\n````\nafter"
    spans = find_protected_spans(text)
    assert _texts(text, spans) == ["````md\n```py\nx\n```\n````"]


def test_tilde_fence_not_closed_by_backticks() -> None:
    text = "~~~\na\n```\nb\n~~~\nafter"
    assert _texts(text, find_protected_spans(text)) == ["~~~\na\n```\nb\n~~~"]


def test_inline_triple_backticks_are_not_a_fence() -> None:
    text = "Use ```code``` inline.\nNext line"
    assert find_protected_spans(text) == []


def test_deeply_indented_closer_is_content() -> None:
    text = "```text\n    ```markdown\n    # x\n    ```\n```\nafter"
    assert _texts(text, find_protected_spans(text)) == [text[: text.index("\nafter")]]


def test_prompt_wrapper_fence_protects_only_its_lines() -> None:
    text = "````prompt\n---\nmode: agent\n---\n# Title\nSome prose to compress.\n````\n"
    spans = find_protected_spans(text)
    assert _texts(text, spans) == ["````prompt", "---\nmode: agent\n---\n", "# Title", "````"]
    assert not _covered(spans, text.index("Some"), text.index("Some") + 4)


def test_code_block_option_off_keeps_placeholders_inside() -> None:
    text = "```\nhello {name}\n```"
    spans = find_protected_spans(text, ProtectOptions(keep_code_blocks=False))
    assert _texts(text, spans) == ["{name}"]


# --- URLs and e-mail ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("See https://example.com/a?b=1&c=2.", "https://example.com/a?b=1&c=2"),
        ("See http://x.org/path, then", "http://x.org/path"),
        ("[docs](https://learn.microsoft.com/en-us/x)", "https://learn.microsoft.com/en-us/x"),
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("Get ftp://files.example.com/pub/x.tar.gz now", "ftp://files.example.com/pub/x.tar.gz"),
        ("Open file:///home/user/notes.txt", "file:///home/user/notes.txt"),
        ("Visit www.example.com!", "www.example.com"),
        ('href="https://a.b/c"', "https://a.b/c"),
        ("Write to jane.doe+tag@mail.example.co.uk.", "jane.doe+tag@mail.example.co.uk"),
        ("<https://autolink.dev/x>", "https://autolink.dev/x"),
    ],
)
def test_urls(text: str, url: str) -> None:
    spans = find_protected_spans(text)
    assert _texts(text, spans) == [url]
    assert spans[0].kind == "url"


@pytest.mark.parametrize("text", ["a@b", "@mention here", "x.y.z", "decorator @property.", "ahttps://no"])
def test_not_urls(text: str) -> None:
    assert find_protected_spans(text, ProtectOptions(keep_negations=False)) == []


def test_url_option_off() -> None:
    assert find_protected_spans("https://a.com and b@c.org", ProtectOptions(keep_urls=False)) == []


# --- segment tags and user patterns ---------------------------------------------------


def test_segment_tags_protected_but_not_content() -> None:
    text = "x <llmlingua, rate=0.3>keep me compressible</llmlingua> y"
    spans = find_protected_spans(text)
    assert _texts(text, spans) == ["<llmlingua, rate=0.3>", "</llmlingua>"]
    assert {s.kind for s in spans} == {"segment_tag"}
    # without segment tags only the rate is left, a number
    assert find_protected_spans(text, ProtectOptions(keep_segment_tags=False, keep_numbers=False)) == []


def test_user_patterns() -> None:
    text = "Ticket ACME-123 and ACME-9 but not ACME-x."
    spans = find_protected_spans(text, ProtectOptions(patterns=(r"ACME-\d+", r"(?=x)"), keep_negations=False))
    assert _texts(text, spans) == ["ACME-123", "ACME-9"]  # zero-width matches ignored
    assert {s.kind for s in spans} == {"user"}


def test_invalid_user_pattern_names_pattern_and_error() -> None:
    with pytest.raises(InputError) as info:
        find_protected_spans("text", ProtectOptions(patterns=("ok", "(unclosed")))
    message = str(info.value)
    assert "(unclosed" in message
    assert "missing )" in message


# --- merging --------------------------------------------------------------------------


def test_overlaps_merge_and_keep_outer_kind() -> None:
    text = "```\nSee https://x.com/{id} and {name}\n```\nafter {tail}"
    spans = find_protected_spans(text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("code_block", text[: text.index("\nafter")]),
        ("placeholder", "{tail}"),
    ]


def test_url_containing_placeholders_is_one_span() -> None:
    text = "Fetch https://raw.example.com/{{folder}}/{{file}} now"
    spans = find_protected_spans(text)
    assert _texts(text, spans) == ["https://raw.example.com/{{folder}}/{{file}}"]
    assert spans[0].kind == "url"


def test_partial_overlap_extends_first_span() -> None:
    text = "abc DEF ghi"
    spans = find_protected_spans(text, ProtectOptions(patterns=(r"abc DE", r"DEF gh")))
    assert spans == [Span(0, len("abc DEF gh"), "user")]


def test_random_texts_keep_invariants() -> None:
    rng = random.Random(7)
    pieces = [
        "{x}",
        "{{ y }}",
        "{%",
        "%}",
        "{#",
        "#}",
        "${z}",
        "```",
        "~~~",
        "\n",
        " ",
        "---\n",
        "https://a.b/c",
        "www.",
        "@",
        "e@x.io",
        "<llmlingua rate=0.3>",
        "</llmlingua>",
        "<|im_start|>",
        "{",
        "}",
        "word",
        ".",
        '"',
        "(",
        ")",
        "{0:.2f}",
        "\\frac{1}{2}",
    ]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        spans = find_protected_spans(text, ProtectOptions(patterns=(r"word",)))
        _check_invariants(text, spans)
        # every direct user-pattern match is covered, whatever else merged with it
        for m in re.finditer("word", text):
            assert _covered(spans, m.start(), m.end())


# --- the real prompt corpus, each format against its own oracle -----------------------


def _format_fields(template: str) -> list[str]:
    """Field names as Python's own str.format parser sees them."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def _single_brace_placeholders(text: str, spans: list[Span]) -> list[str]:
    return [
        t[1:-1].split(":")[0].split("!")[0]
        for t in _texts(text, spans, "placeholder")
        if t.startswith("{") and not t.startswith("{{")
    ]


def _format_templates() -> Iterator[tuple[str, str]]:
    for path in _files("graphrag/*.txt"):
        yield path.name, path.read_text(encoding="utf-8")
    longbench = PROMPTS / "longbench" / "dataset2prompt.json"
    if longbench.exists():
        for name, template in json.loads(longbench.read_text(encoding="utf-8")).items():
            yield f"longbench:{name}", template
    for path in sorted((DATA / "rag" / "prompts").glob("*.prompt")):
        yield path.name, path.read_text(encoding="utf-8")


@needs_data
def test_str_format_templates_match_python_formatter() -> None:
    templates = list(_format_templates())
    assert len(templates) > 20
    for name, text in templates:
        spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
        assert sorted(_single_brace_placeholders(text, spans)) == sorted(_format_fields(text)), name
        # JSON examples escaped as {{ "key": ... }} stay compressible
        for span_text in _texts(text, spans):
            assert not re.search(r"[\"']\s*:", span_text), (name, span_text)


def _prompty_body(text: str) -> tuple[int, str]:
    assert text.startswith("---\n")
    end = text.index("\n---\n", 4) + len("\n---\n")
    return end, text[end:]


@needs_data
def test_prompty_files() -> None:
    paths = _files("prompty/*.prompty")
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        body_start, body = _prompty_body(text)
        spans = [
            s
            for s in find_protected_spans(text, NO_FACTS_OR_STRUCTURE)
            if s.kind not in {"role_marker", "negation", "heading"}
        ]
        # the YAML header is exactly one front matter span
        assert spans[0] == Span(0, body_start, "front_matter"), path.name
        # every {{ ... }} pair in the body is protected, one span each
        pairs = [(m.start(), m.end()) for m in re.finditer(r"\{\{.*?\}\}", body)]
        assert len(pairs) == body.count("{{") > 0, path.name
        body_spans = [s for s in spans if s.start >= body_start]
        assert len(body_spans) == len(pairs), path.name
        for start, end in pairs:
            assert _covered(body_spans, body_start + start, body_start + end)


@needs_data
def test_jinja_templates_match_jinja_lexer() -> None:
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(keep_trailing_newline=True)
    paths = _files("promptflow/*.jinja2")
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        tags: list[tuple[int, int]] = []
        pos = 0
        open_at = -1
        for _, kind, value in env.lex(text):
            if kind in ("variable_begin", "block_begin", "comment_begin"):
                open_at = pos
            pos += len(value)
            if kind in ("variable_end", "block_end", "comment_end"):
                tags.append((open_at, pos))
        assert pos == len(text)
        assert tags, path.name
        spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
        jinja_spans = [(s.start, s.end) for s in spans if text.startswith(("{{", "{%", "{#"), s.start)]
        assert jinja_spans == tags, path.name


@needs_data
def test_jinja_json_examples_stay_compressible() -> None:
    """The keys of a JSON example are kept whole; the words of its long values are not."""
    text = (PROMPTS / "promptflow" / "context_recall.jinja2").read_text(encoding="utf-8")
    spans = find_protected_spans(text)
    keys = list(re.finditer(r'"statement_\d"(?=:)', text))
    assert keys
    for m in keys:
        assert _covered(spans, m.start(), m.end())
    for word in ("Albert", "theoretical", "physicist", "Switzerland"):
        for m in re.finditer(word, text[text.index("Example Output") :]):
            start = m.start() + text.index("Example Output")
            assert not _touches(spans, start, start + len(word)), word


@needs_data
def test_copilot_prompt_files() -> None:
    paths = _files("awesome-copilot/*.prompt.md")
    assert len(paths) >= 8
    total = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        all_spans = find_protected_spans(text)
        only = find_protected_spans(text, ONLY_PLACEHOLDERS)
        # ${...} (input variables, adaptive-card expressions) and {{...}}: a plain scan
        dollar = [(m.start(), m.end()) for m in re.finditer(r"\$\{[^}\n]*\}\}?", text)]
        mustache = [(m.start(), m.end()) for m in re.finditer(r"(?<!\$)\{\{[^{}\n]*\}\}", text)]
        for start, end in dollar + mustache:
            total += 1
            assert _covered(only, start, end), (path.name, text[start:end])
            assert _covered(all_spans, start, end), (path.name, text[start:end])
        # the YAML header (possibly inside a ````prompt wrapper) is front matter
        head = text.index("---\n")
        assert head <= len("````prompt\n")
        head_end = text.index("\n---\n", head + 4) + len("\n---\n")
        assert Span(head, head_end, "front_matter") in all_spans, path.name
    assert total > 80


@needs_data
def test_copilot_code_fences_pair_up() -> None:
    """Files with unnested, unindented fences: each fence pair is one code block."""
    checked = 0
    for path in _files("awesome-copilot/*.prompt.md"):
        text = path.read_text(encoding="utf-8")
        lines = [m for m in re.finditer(r"(?m)^(```+|~~~+).*$", text)]
        if text.startswith("````prompt") or re.search(r"(?m)^[ \t]+```", text):
            continue  # wrapper or nested fences: covered by the unit tests
        assert len(lines) % 2 == 0, path.name
        expected = [(a.start(), b.end()) for a, b in zip(lines[::2], lines[1::2], strict=True)]
        got = [(s.start, s.end) for s in find_protected_spans(text) if s.kind == "code_block"]
        assert got == expected, path.name
        checked += 1
    assert checked >= 4


@needs_data
def test_multilingual_texts_have_no_false_placeholders() -> None:
    texts = json.loads((PROMPTS / "misc_inputs" / "long_texts_multilingual.json").read_text("utf-8"))
    for text in texts:
        spans = find_protected_spans(text)
        _check_invariants(text, spans)
        facts = {"number", "date", "identifier", "quote", "list_marker"}
        assert {s.kind for s in spans} <= {"url", "negation", "heading"} | facts


def test_lone_brace_escapes() -> None:
    for text in ("Escaped dict {{'response': str, ...}} too.", "A lone {{ never closed"):
        spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
        assert {text[s.start : s.end] for s in spans} <= {"{{", "}}"}


def test_escaped_json_keeps_only_its_brace_pairs() -> None:
    """The JSON body is compressible, but each doubled brace must survive whole."""
    text = 'Escaped JSON {{"name": "X", "type": "Y"}} for str.format.'
    spans = find_protected_spans(text, ONLY_PLACEHOLDERS)
    assert [text[s.start : s.end] for s in spans] == ["{{", "}}"]


def test_role_markers_on_their_own_line() -> None:
    text = "system:\nYou are terse.\n\n# User:\nHi, user: hello\nassistant :\n"
    spans = find_protected_spans(text, ProtectOptions(keep_negations=False))
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("role_marker", "system:"),
        ("role_marker", "# User:"),
        ("role_marker", "assistant :"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the negated word comes along, after at most one small word
        ("Do not include names.", ["not include"]),
        ("Don't guess; we can't and won\u2019t.", ["Don't guess", "can't", "won\u2019t"]),
        ("No tables, never lists, nothing else.", ["No tables", "never lists", "nothing else"]),
        ("It must never be placed there; say you do not know.", ["never be placed", "not know"]),
        ("Notes are nonetheless knotted.", []),
    ],
)
def test_negations(text: str, expected: list[str]) -> None:
    spans = find_protected_spans(text, ProtectOptions(keep_role_markers=False))
    assert [text[s.start : s.end] for s in spans if s.kind == "negation"] == expected


def test_nothing_protects_only_user_patterns() -> None:
    text = "system:\nDo not {x} https://a.b {{y}}\n```\ncode\n```\nID-7"
    assert find_protected_spans(text, ProtectOptions.nothing()) == []
    spans = find_protected_spans(text, ProtectOptions.nothing(patterns=(r"ID-\d",)))
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [("user", "ID-7")]


def test_markdown_headings() -> None:
    text = "# Context\nUse it.\n\n## Output format  \nJSON.\n#hashtag and #\n    # indented code\n"
    spans = find_protected_spans(text, ProtectOptions(keep_negations=False, keep_role_markers=False))
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("heading", "# Context"),
        ("heading", "## Output format  "),
    ]


def test_kinds_are_switched_off_by_name() -> None:
    from lingua_core.protect import PROTECTION_KINDS

    text = "Ticket SM-8501 costs $1,200 and must not be closed."
    kinds = {span.kind for span in find_protected_spans(text)}
    assert {"identifier", "number", "negation"} <= kinds
    fewer = ProtectOptions().without(["numbers", "identifiers"])
    assert {span.kind for span in find_protected_spans(text, fewer)} == {"negation"}
    assert ProtectOptions().without(PROTECTION_KINDS) == ProtectOptions.nothing()
    with pytest.raises(InputError, match="unknown protection 'digits'"):
        ProtectOptions().without(["digits"])
