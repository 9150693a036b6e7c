"""Sentence and paragraph splitting tuned for prompts, without NLTK or any data files.

The compressors filter and chunk prompts by sentence, and map results back onto the
original text, so the splitters return char spans that tile the text exactly: joining
the pieces gives the input back, with whitespace after a sentence attached to it.

Prompts are line-structured (``Q:`` / ``Options:`` / ``(A) ...`` / ``Let's think step by
step`` lines, Markdown lists and headings) far more than they are wrapped prose. So a
sentence ends:

* after ``.``, ``?`` or ``!`` (with any closing quotes/brackets) followed by whitespace
  and then an uppercase letter, a digit, an opening quote/bracket, Markdown emphasis, or a
  letter of a script without case (CJK, Hangul, ...) - unless the period belongs to an
  abbreviation (``e.g.``, ``Dr.``, ``U.S.``, a single capital initial, ``No. 5``) or is a
  list marker (``1.`` at the start of a line); an ellipsis alone does not end a sentence;
* after the CJK full stop, exclamation and question marks (U+3002, U+FF01, U+FF1F),
  whatever follows;
* at every blank line;
* at a single line break, unless the next line looks like the continuation of a
  hard-wrapped sentence: it starts with a lowercase letter, or the line before ends with
  a comma. Headings, table rows, fence lines and rules, and lines before a list item,
  heading, table row or fence are always separate. The cost of this choice is that a
  wrapped line starting with a capital ("... found by\\nJohn") is split; prompts have
  many more unpunctuated label lines than such wraps.
"""

from __future__ import annotations

import itertools
import re

from lingua_core import markup

__all__ = ["split_paragraphs", "split_sentences"]

# Terminal punctuation runs, with the quotes/brackets/emphasis that close over them.
_CLOSE = "\"'\u201d\u2019)]*_\u300d\u300f\u3011\u300b\uff09"
_CLOSE_CLASS = "[" + re.escape(_CLOSE) + "]*"
# Starts with a character class so the regex engine can skip to candidates quickly.
_LATIN_END_RE = re.compile(r"[.?!\u2026]+" + _CLOSE_CLASS)
_CJK_END_RE = re.compile(r"[\u3002\uff01\uff1f\uff61]+" + _CLOSE_CLASS)
_BLANK_RUN_RE = re.compile(r"\n(?:[ \t\r\f\v]*\n)+")
_CONTENT_LINE_RE = re.compile(r"^[^\S\n]*\S[^\n]*", re.MULTILINE)  # lines that are not blank

# Openers that may start a sentence besides uppercase letters, digits and uncased letters.
_OPENERS = frozenset("\"'\u201c\u2018\u00ab\u300c\u300e([\uff08*_`\u00bf\u00a1#$\u20ac\u00a3\u00a5")

# Never a sentence end when followed by a space (the brief's rule; "etc." ending a sentence
# is the accepted cost). Compared lowercase, without the final period.
# fmt: off
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "rev", "hon", "gen",
        "col", "lt", "sgt", "capt", "cmdr", "gov", "sen", "rep", "pres", "vs", "v", "etc",
        "cf", "al", "approx", "ca", "dept", "est", "govt", "inc", "ltd", "co", "corp",
        "bros", "assn", "univ", "ave", "blvd", "rd", "jan", "feb", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "viz", "resp", "incl", "excl", "misc",
        "ph.d",
    }
)  # dotted ones (e.g, i.e, U.S, a.m) are caught by _DOTTED_RE
# Abbreviations that only count as such before a number ("No. 5", "Fig. 3", "p. 12"),
# because "No." and "Fig." also end sentences ("So the answer is No.").
_NUMERIC_ABBREVIATIONS = frozenset(
    {
        "no", "nos", "vol", "vols", "fig", "figs", "p", "pp", "eq", "eqs", "sec", "ch",
        "art", "op", "nr",
    }
)
# fmt: on
_DOTTED_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # e.g, U.S, a.m (final period excluded)


def _skip_space(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    return pos


def _can_start_sentence(ch: str) -> bool:
    if ch.isalpha():
        return not ch.islower()  # uppercase, or a script without case (CJK, Hangul, ...)
    return ch.isdigit() or ch in _OPENERS


def _is_abbreviation(text: str, dot: int, next_char: str) -> bool:
    """Whether the single ``.`` at ``dot`` closes an abbreviation or a list marker."""
    tok_start = dot
    while tok_start > 0 and not text[tok_start - 1].isspace():
        tok_start -= 1
    token = text[tok_start:dot].lstrip("\"'\u201c\u2018([{*_")
    if not token:
        return False
    low = token.lower()
    if low in _ABBREVIATIONS or _DOTTED_RE.fullmatch(token):
        return True
    if len(token) == 1 and token.isupper():
        return True  # an initial: "J. K. Rowling"
    if low in _NUMERIC_ABBREVIATIONS and next_char.isdigit():
        return True
    # "1." / "IV." / "a." opening a line, also after heading or quote markers ("## 1. Intro").
    line_start = text.rfind("\n", 0, tok_start) + 1
    at_line_start = not text[line_start:tok_start].strip(" \t#>*+-")
    return at_line_start and markup.is_item_label(token)


def _punctuation_boundaries(text: str, out: set[int]) -> None:
    n = len(text)
    for m in _CJK_END_RE.finditer(text):
        nxt = _skip_space(text, m.end())
        if nxt < n:
            out.add(nxt)
    for m in _LATIN_END_RE.finditer(text):
        end = m.end()
        if end >= n or not text[end].isspace():
            continue  # 3.14, v1.2.3, example.com, "Hi!" inside a word
        punct = m.group().rstrip(_CLOSE)
        if "?" not in punct and "!" not in punct and punct != ".":
            continue  # an ellipsis ("..", "...", "\u2026"): left to the line rules
        nxt = _skip_space(text, end)
        if nxt >= n or not _can_start_sentence(text[nxt]):
            continue
        if punct == "." and _is_abbreviation(text, m.start(), text[nxt]):
            continue
        out.add(nxt)


def _structural(line: str) -> bool:
    """Lines that are units of their own whatever comes next (markup.py says which they are)."""
    return (
        markup.is_heading(line)
        or markup.is_table_row(line)
        or markup.is_fence_line(line)
        or markup.is_thematic_break(line)
        or markup.is_setext_underline(line)
        or markup.is_table_delimiter_row(line)
    )


def _starts_block(line: str) -> bool:
    """Lines that always start a new unit."""
    return _structural(line) or markup.is_list_item(line)


def _line_boundaries(text: str, out: set[int]) -> None:
    prev: re.Match[str] | None = None
    for m in _CONTENT_LINE_RE.finditer(text):
        line = m.group()
        first = m.start() + len(line) - len(line.lstrip())
        if prev is not None:
            prev_line = prev.group()
            blank_between = text.count("\n", prev.end(), m.start()) > 1
            continuation = (  # cheap tests first: most lines start with a capital
                not blank_between
                and (text[first].islower() or prev_line.rstrip().endswith(","))
                and not _structural(prev_line)
                and not _starts_block(line)
            )
            if not continuation:
                out.add(first)
        prev = m


def _spans(text: str, boundaries: set[int]) -> list[tuple[int, int]]:
    if not text:
        return []
    cuts = sorted(b for b in boundaries if 0 < b < len(text))
    return list(itertools.pairwise([0, *cuts, len(text)]))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Char spans of the sentences of ``text``; they tile it exactly (see module notes)."""
    boundaries: set[int] = set()
    _punctuation_boundaries(text, boundaries)
    _line_boundaries(text, boundaries)
    return _spans(text, boundaries)


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Char spans of blank-line separated paragraphs; they tile ``text`` exactly.

    The blank lines belong to the paragraph before them, so each span after the first
    starts at the first non-space character of its paragraph.
    """
    boundaries = set()
    first = _skip_space(text, 0)  # leading blank lines belong to the first paragraph
    for m in _BLANK_RUN_RE.finditer(text, first):
        nxt = _skip_space(text, m.end())
        if nxt < len(text):
            boundaries.add(nxt)
    return _spans(text, boundaries)
