"""Spans of a prompt that compression must never drop or split.

Dropping a token from ``{input_text}``, a URL, a code block or a YAML header breaks the
prompt for the program that fills or parses it, while saving almost nothing. Every method
marks the words these spans touch as fixed (``words.word_mask``), and the budget rule never
drops a fixed word.

Detection is regex based and errs on the side of protecting a few characters too many
(a stray ``{0}`` in prose costs nothing) but must not swallow whole JSON examples, which
real prompts contain and which are worth compressing; see the notes at each pattern.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from lingua_core import facts, markup, structure
from lingua_core.errors import InputError
from lingua_core.segments import find_segment_tags

__all__ = [
    "PROTECTION_KINDS",
    "ProtectOptions",
    "Span",
    "find_protected_spans",
    "holds_template_markup",
]


@dataclass(frozen=True)
class ProtectOptions:
    """Which kinds of span to protect; ``patterns`` adds the user's own regexes."""

    keep_code_blocks: bool = True
    keep_front_matter: bool = True
    keep_urls: bool = True
    keep_placeholders: bool = True
    keep_segment_tags: bool = True
    keep_role_markers: bool = True
    keep_negations: bool = True
    keep_headings: bool = True
    keep_numbers: bool = True
    keep_identifiers: bool = True
    keep_quotes: bool = True
    keep_structure: bool = True
    keep_format_lines: bool = True
    patterns: tuple[str, ...] = ()

    @classmethod
    def nothing(cls, patterns: tuple[str, ...] = ()) -> ProtectOptions:
        """No built-in protection (the reference's behaviour), only ``patterns`` if given."""
        off: dict[str, Any] = dict.fromkeys(PROTECTION_KINDS.values(), False)
        return cls(**off, patterns=patterns)

    def without(self, kinds: Iterable[str]) -> ProtectOptions:
        """These options with the named kinds (keys of ``PROTECTION_KINDS``) switched off.

        Raises InputError naming the known kinds for an unknown one (a CLI flag or an
        editor setting passes user text here).
        """
        fields: dict[str, Any] = {}
        for kind in kinds:
            field_name = PROTECTION_KINDS.get(kind.strip().lower())
            if field_name is None:
                known = ", ".join(PROTECTION_KINDS)
                raise InputError(f"unknown protection {kind!r}; known: {known}")
            fields[field_name] = False
        return replace(self, **fields)


# The switchable kinds by the names the CLI (--no-protect) and the editor setting use.
PROTECTION_KINDS: dict[str, str] = {
    "code-blocks": "keep_code_blocks",
    "front-matter": "keep_front_matter",
    "urls": "keep_urls",
    "placeholders": "keep_placeholders",
    "segment-tags": "keep_segment_tags",
    "roles": "keep_role_markers",
    "negations": "keep_negations",
    "headings": "keep_headings",
    "numbers": "keep_numbers",
    "identifiers": "keep_identifiers",
    "quotes": "keep_quotes",
    "structure": "keep_structure",
    "format-lines": "keep_format_lines",
}


@dataclass(frozen=True)
class Span:
    """Half-open char range ``[start, end)`` of the original text, with why it is kept.

    ``kind`` is one of "placeholder", "front_matter", "url", "code_block",
    "segment_tag", "role_marker", "negation", "heading", "number", "date", "identifier",
    "quote", "json", "markup_tag", "list_marker", "table", "front_matter_delimiter",
    "format_line", "user". Chat special tokens (``<|im_start|>``, ``[INST]``) and
    ``str.format`` brace escapes (``{{``, ``}}``) count as placeholders and e-mail
    addresses as URLs, so one option switches each family; ``keep_numbers`` covers numbers
    and dates, ``keep_structure`` JSON syntax, tags, list markers, table pipes and
    front-matter delimiters.
    """

    start: int
    end: int
    kind: str


# --- template placeholders -------------------------------------------------------------
# Python format fields: ``{name}``, ``{name.attr}``, ``{0}``, ``{}``, ``{x[0]}``, ``{v!r}``,
# ``{value:.2f}``, ``{d:%Y-%m-%d}``. Names may contain hyphens because Markdown prompt
# templates use ``{feature-name}``. The format spec is the real mini-language (plus strftime),
# so JS-ish ``{a: 1}`` and anything with quotes or free spaces (JSON, prose) is not a field.
_FIELD = r"(?:[^\W\d][\w-]*|\d+)?(?:\.[^\W\d]\w*|\[[^\[\]{}\s]+\])*"
_CONVERSION = r"(?:![rsa])?"
_SPEC = (
    r"(?::(?:%[^{}\n]{0,40}"
    r"|(?:[^{}\n][<>=^]|[<>=^])?[-+]?z?\#?0?\d*[,_]?(?:\.\d+)?[bcdeEfFgGnosxX%]?))?"
)
# ``{{"name": ...}}`` is a JSON example escaped for str.format (GraphRAG does this), not a
# Jinja/Handlebars expression: a quoted key followed by a colon is never a template expression.
_NOT_JSON = r"""(?!\s*(?:"[^"\n]*"|'[^'\n]*')\s*:)"""
# Every alternative starts with a literal character, so that the regex engine can skip
# ahead to candidate characters instead of trying each position (10x faster on prose).
_TEMPLATE_RE = re.compile(
    r"\{\{\{[^{}\n]{1,400}\}\}\}"  # {{{ raw }}} (Handlebars/Mustache unescaped)
    r"|\$\{\{[^\n]{0,400}?\}\}"  # ${{ github.expr }}
    r"|\{\{" + _NOT_JSON + r"[^{}\n]{0,400}\}\}"  # {{ expr }}: on one line
    # {% stmt %} / {%- stmt -%} and {# comment #} may span lines; their bodies stop at the
    # next opener, which keeps unclosed ones from making the scan quadratic.
    r"|\{%(?:[^%{]|%(?!\})|\{(?![%#]))*%\}"
    r"|\{\#(?:[^#{]|\#(?!\})|\{(?![%#]))*\#\}"
    r"|\$\{[^{}\n]{1,400}\}"  # ${var}, ${input:name}, ${input:name:placeholder text}
    r"|\{(?P<fmt>" + _FIELD + _CONVERSION + _SPEC + r")\}"
    r"|<\|[^|<>\s]{1,64}\|>"  # <|im_start|> and other special tokens
    r"|<\uff5c[^\uff5c<>\s]{1,64}\uff5c>"  # DeepSeek: the same with full-width bars
    r"|\[/?INST\]|<</?SYS>>"  # Llama-2 chat markers
    # A brace escape outside any expression: str.format templates double their literal
    # braces (GraphRAG's JSON examples); losing one brace of a pair breaks the template.
    r"|\{\{|\}\}"
)
# A single-brace field right after ``\frac``, ``}``, ``^`` or ``_`` is a LaTeX group
# (``\frac{2}{15}``, ``x^{2}``), which math prompts are full of.
_LATEX_COMMAND_BEFORE_RE = re.compile(r"\\[A-Za-z]+\Z")

# --- chat role markers and headings (markup.py finds them) ---------------------------------
# A role alone on its line (``system:``, ``user:``) splits a Prompty-like file into messages;
# without it the file no longer parses. A prompt's sections are its headings (``# Context``,
# ``## Output format``): a few tokens that tell the LLM what each part is. Compressed to a
# bare ``#`` they say nothing; an empty heading has nothing to keep.

# --- negations -------------------------------------------------------------------------
# A small LM finds "not" predictable, so perplexity-based compression drops it, and
# "Do not include X" becomes "include X". Negations carry little length and much meaning.
# The word it negates comes along ("not contain", "never be placed", "no reading"): a bare
# "not" between dropped words ("say that not and offer") no longer says what is denied.
_NEGATION_RE = re.compile(
    r"\b(?:not|no|never|nor|neither|cannot|without|none|nothing|"
    r"(?:do|does|did|is|are|was|were|ca|wo|should|would|could|must|need|have|has|had)n['\u2019]t)\b"
    r"(?:[ \t]+(?!(?:and|or|but|nor|so|if|because|than|then)\b)"
    r"(?:(?:be|been|a|an|the|to|any|only|yet)[ \t]+)?[^\W\d_][\w'\u2019-]*)?",
    re.IGNORECASE,
)

# --- URLs and e-mail -------------------------------------------------------------------
# Literal starts (case-sensitive: schemes are lowercase in practice) keep the scan fast;
# a match that continues a word ("xhttp://") is dropped afterwards.
_URL_RE = re.compile(r"(?:https?://|ftp://|file://|mailto:|www\.)[^\s<>\"'`]+")
_URL_NOT_AFTER = frozenset("@.-/_")
# E-mail addresses are found from their ``@``: scanning for the local part first would try
# every letter of the text.
_EMAIL_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,}(?![\w-])"
)
_URL_TRAILING = ".,;:!?*'\""
_CLOSERS = {")": "(", "]": "[", "}": "{"}


@functools.lru_cache(maxsize=64)
def _compile_user_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise InputError(f"invalid protect pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def _is_latex_group(text: str, start: int, latex_end: int) -> bool:
    """Whether the single-brace field at ``start`` is a LaTeX group rather than a field.

    ``}`` before it only counts when it closed a LaTeX group (``\\frac{2}{15}``), so that
    adjacent fields such as LongBench's ``{context}{input}`` stay protected.
    """
    if start == 0:
        return False
    before = text[start - 1]
    if before in "^_\\" or (before == "}" and start == latex_end):
        return True
    return before.isalpha() and bool(_LATEX_COMMAND_BEFORE_RE.search(text, max(0, start - 40), start))


def _placeholders(text: str) -> Iterator[tuple[int, int]]:
    latex_end = -1
    for m in _TEMPLATE_RE.finditer(text):
        if m.group("fmt") is not None and _is_latex_group(text, m.start(), latex_end):
            latex_end = m.end()
            continue
        yield m.start(), m.end()


def _trim_url(text: str, start: int, end: int) -> int:
    """End of the URL without trailing punctuation or an unbalanced closing bracket."""
    while end > start:
        last = text[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last in _CLOSERS:
            url = text[start:end]
            if url.count(last) > url.count(_CLOSERS[last]):
                end -= 1
            else:
                break
        else:
            break
    return end


def _urls(text: str) -> Iterator[tuple[int, int]]:
    for m in _URL_RE.finditer(text):
        start = m.start()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in _URL_NOT_AFTER):
            continue
        end = _trim_url(text, start, m.end())
        if end - start > len("www."):
            yield start, end
    at = text.find("@")
    while at >= 0:
        local = at
        while local > 0 and text[local - 1] in _EMAIL_LOCAL_CHARS:
            local -= 1
        domain = _EMAIL_DOMAIN_RE.match(text, at + 1) if local < at else None
        if domain is not None:
            yield local, domain.end()
        at = text.find("@", at + 1)


def _merge(raw: list[Span]) -> list[Span]:
    # Outer span first at equal starts, so the merged span keeps the enclosing kind.
    raw.sort(key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    for span in raw:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.kind)
        else:
            merged.append(span)
    return merged


def find_protected_spans(text: str, options: ProtectOptions = ProtectOptions()) -> list[Span]:
    """All spans to keep verbatim, sorted and non-overlapping (overlaps are merged).

    Raises InputError if one of ``options.patterns`` is not a valid regex.
    """
    user_patterns = _compile_user_patterns(options.patterns)
    raw: list[Span] = []

    # A fence that wraps the whole file (````prompt) is not code: only its two lines are
    # kept, and the prompt inside is scanned like any other.
    layout = markup.frame(text)
    body_start, body_end = layout.start, layout.end
    if layout.wrapper is not None and options.keep_code_blocks:
        raw.extend(Span(fence.start, fence.end, "code_block") for fence in layout.wrapper)
    if options.keep_front_matter and layout.front_matter is not None:
        raw.append(Span(*layout.front_matter, "front_matter"))
    if options.keep_code_blocks:
        raw.extend(Span(s, e, "code_block") for s, e in markup.code_blocks(text, body_start, body_end))
    if options.keep_placeholders:
        raw.extend(Span(s, e, "placeholder") for s, e in _placeholders(text))
    if options.keep_urls:
        raw.extend(Span(s, e, "url") for s, e in _urls(text))
    if options.keep_segment_tags:
        raw.extend(Span(s, e, "segment_tag") for s, e in find_segment_tags(text))
    if options.keep_role_markers:
        raw.extend(Span(r.start, r.end, "role_marker") for r in markup.role_lines(text, body_start, body_end))
    if options.keep_headings:
        raw.extend(Span(h.start, h.end, "heading") for h in markup.headings(text, body_start, body_end) if h.title)
    if options.keep_negations:
        raw.extend(Span(m.start(), m.end(), "negation") for m in _NEGATION_RE.finditer(text))
    # The user's own patterns name the kind of a span that a built-in finder of facts or
    # structure also finds, so they go first: _merge keeps the first of equal spans.
    for pattern in user_patterns:
        raw.extend(Span(m.start(), m.end(), "user") for m in pattern.finditer(text) if m.end() > m.start())
    raw.extend(_fact_and_structure_spans(text, options, body_start, body_end))
    return _merge(raw)


def _fact_and_structure_spans(text: str, options: ProtectOptions, body_start: int, body_end: int) -> Iterator[Span]:
    fragments = list(structure.json_fragments(text)) if options.keep_structure or options.keep_quotes else []
    if options.keep_numbers:
        yield from (Span(s, e, "number") for s, e in facts.find_numbers(text))
        yield from (Span(s, e, "date") for s, e in facts.find_dates(text))
    if options.keep_identifiers:
        yield from (Span(s, e, "identifier") for s, e in facts.find_identifiers(text))
    if options.keep_quotes:
        # Strings inside a JSON example are its values: the JSON finder keeps their quotes
        # and leaves long values compressible.
        ends = [f.end for f in fragments]
        for s, e in facts.find_quotes(text):
            i = bisect.bisect_right(ends, s)
            if i == len(fragments) or fragments[i].start > s:
                yield Span(s, e, "quote")
    if options.keep_structure:
        for fragment in fragments:
            yield from (Span(s, e, "json") for s, e in fragment.spans)
        yield from (Span(s, e, "markup_tag") for s, e in structure.find_markup_tags(text))
        yield from (Span(s, e, "list_marker") for s, e in structure.find_list_markers(text[:body_end]))
        yield from (Span(s, e, "table") for s, e in structure.find_table_pipes(text[:body_end]))
        yield from (
            Span(s, e, "front_matter_delimiter") for s, e in structure.find_front_matter_delimiters(text, body_start)
        )
    if options.keep_format_lines:
        yield from (Span(s, e, "format_line") for s, e in structure.find_format_lines(text[:body_end]))


def holds_template_markup(text: str, options: ProtectOptions = ProtectOptions()) -> bool:
    """Whether ``text`` holds a placeholder or a segment tag (as ``options`` protect them).

    A coarse filter must never drop such a context or sentence: the program that fills the
    template would miss a field. Asked apart from the other kinds, because merged spans
    keep only the enclosing kind (a quote around ``{{ name }}`` is a "quote").
    """
    if not (options.keep_placeholders or options.keep_segment_tags):
        return False
    only = replace(
        ProtectOptions.nothing(),
        keep_placeholders=options.keep_placeholders,
        keep_segment_tags=options.keep_segment_tags,
    )
    return bool(find_protected_spans(text, only))
