"""From a keep mask over words to the compressed text, with the prompt's shape intact.

Every method ends here, so the rules that make an output read as a shorter prompt rather
than as word salad live in one place:

* **Whitespace.** Between two kept words the output puts the strongest whitespace that
  separated them in the original: a blank line if a paragraph break was dropped between
  them, a line break if a line break was, else a space. Of equally strong gaps the one
  nearest the later word wins, so a list item keeps its own indentation. Two words are
  never joined into one, and a dropped line break never flattens a list or a table.
* **Punctuation** that was attached to a dropped word (the "," of "So," once "So" is
  gone) stays against the kept word before it ("John, thinking", not "John , thinking");
  after a dropped line break it goes too, so that it never starts a line. An opening
  bracket or quote stays against the kept word after it ("(docs)", not "( docs)").
* **Pairs.** A bracket or quote pair is kept when anything between them is, and dropped
  when nothing is, so the output's brackets balance wherever the input's did.
* **Punctuation pile-ups.** Marks that end up side by side only because the words between
  them went (``the., John``) keep one: a sentence end over a comma or colon.
* **Repeats.** Dropping the words between two equal words ("the X the") would print a
  doubled word the input never had; the later copy goes. Only within a line: a heading
  after a heading with the same word is no stutter.

The output is always a concatenation of substrings of the original (``kept_spans``), so an
editor can show which characters survive and placeholders are never rebuilt.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from lingua_core.words import Words, is_punctuation

__all__ = ["kept_spans", "kept_text", "repair"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_OPENERS = {"(": ")", "[": "]", "{": "}", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}
_CLOSERS = {close: open_ for open_, close in _OPENERS.items()}
_STRAIGHT_QUOTES = frozenset({'"', "`"})
_ESCAPED_QUOTES = frozenset({'\\"', "\\'"})
_PAIRED_QUOTES = _STRAIGHT_QUOTES | _ESCAPED_QUOTES
_CURLY_SINGLE = frozenset({"\u2018", "\u2019"})
_OPENING_PUNCTUATION = frozenset(_OPENERS) | {"\u00bf", "\u00a1", "#", "$", "\u20ac", "\u00a3", "@"}


def _gap_strength(text: str, start: int, end: int) -> int:
    """0: no or only horizontal whitespace, 1: a line break, 2: a blank line."""
    breaks = text.count("\n", start, end)
    if breaks == 0 and "\r" in text[start:end]:
        breaks = text.count("\r", start, end)  # old Mac line ends
    return min(2, breaks)


def _word_text(words: Words, index: int) -> str:
    return words.text[int(words.starts[index]) : int(words.ends[index])]


def _attaches_left(words: Words, index: int) -> bool:
    """Closing punctuation that had no whitespace before it: it belongs to the word before."""
    start = int(words.starts[index])
    if start == 0 or words.text[start - 1].isspace():
        return False
    first = words.text[start]
    if first == "\\":
        # An escaped quote closes like a quote; any other backslash starts an escape or a
        # LaTeX command ("\\frac"), which belongs to what follows.
        return _word_text(words, index) in _ESCAPED_QUOTES
    return is_punctuation(first) and first not in _OPENING_PUNCTUATION


def _attaches_right(words: Words, index: int, opening: set[int]) -> bool:
    """An opening bracket or quote that had no whitespace after it: "(see the docs)" -> "(docs)"."""
    end = int(words.ends[index])
    if end >= len(words.text) or words.text[end].isspace():
        return False
    word = _word_text(words, index)
    return index in opening or all(ch in _OPENERS for ch in word)


def kept_spans(words: Words, keep: BoolArray) -> list[tuple[int, int]]:
    """Char ranges of ``words.text`` to output, in order and merged where they touch.

    Each kept word comes with the separator chosen by the module's rules; the first kept
    word brings its own leading whitespace only when it is the text's first word.
    """
    count = len(words)
    kept = np.flatnonzero(keep[:count]) if count else np.zeros(0, dtype=np.int64)
    if kept.size == 0:
        return []
    text, starts, ends = words.text, words.starts, words.ends
    whitespace_word = np.fromiter(
        (text[int(a) : int(b)].isspace() for a, b in zip(starts.tolist(), ends.tolist())), dtype=bool, count=count
    )
    spans: list[tuple[int, int]] = []

    def emit(start: int, end: int) -> None:
        if start >= end:
            return
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))

    opening = _opening_quotes(words)
    previous = -1
    for index in kept.tolist():
        if previous < 0:
            emit(0 if index == 0 else int(starts[index]), int(ends[index]))
        elif index == previous + 1:
            emit(int(ends[previous]), int(ends[index]))
        else:
            best = _separator(words, whitespace_word, previous, index)
            joined = (_attaches_left(words, index) and index not in opening) or _attaches_right(
                words, previous, opening
            )
            if best[0] == 0 and joined:
                emit(int(starts[index]), int(ends[index]))
            else:
                emit(best[3], best[4])
                emit(int(starts[index]), int(ends[index]))
        previous = index
    return spans


def _separator(words: Words, whitespace_word: BoolArray, previous: int, index: int) -> tuple[int, int, int, int, int]:
    """The strongest whitespace between two kept words: (strength, non-empty, position, start, end).

    Candidates are the gaps between the words in between and any dropped whitespace words
    (LLMLingua-2's "\\n" force token); ties go to the one nearest the later word.
    """
    text, starts, ends = words.text, words.starts, words.ends
    best = (-1, 0, 0, 0, 0)
    for k in range(previous + 1, index + 1):
        gaps = [(int(ends[k - 1]), int(starts[k]), 2 * k)]
        if k < index and whitespace_word[k]:
            gaps.append((int(starts[k]), int(ends[k]), 2 * k + 1))
        for start, end, order in gaps:
            candidate = (_gap_strength(text, start, end), int(end > start), order, start, end)
            if candidate[:3] > best[:3]:
                best = candidate
    return best


def kept_text(words: Words, keep: BoolArray) -> str:
    return "".join(words.text[s:e] for s, e in kept_spans(words, keep))


_BRACKET_RE = re.compile(r"[()\[\]{}\u201c\u201d\u2018\u2019\u00ab\u00bb]")


def _bracket_pairs(words: Words) -> list[tuple[int, int]]:
    """(open, close) word indices of matched brackets and quotes, inner pairs first.

    Brackets count wherever they sit, also inside a longer word (``Guide](https://x)``,
    ``Entities(6),``): a kept word that holds one half needs its partner. Straight quotes
    pair only as words of their own (a quote inside a word is an inch mark or an
    apostrophe), an escaped ``\\"`` with its own kind, and only within a line. A pair
    inside one word is no pair.
    """
    text = words.text
    stack: list[tuple[str, int]] = []
    pairs: list[tuple[int, int]] = []
    for match in _BRACKET_RE.finditer(text):
        char = match.group()
        index = int(np.searchsorted(words.ends, match.start(), side="right"))
        if char in _CURLY_SINGLE and words.ends[index] - words.starts[index] != 1:
            continue  # an apostrophe ("don\u2019t"), not a quote
        if char in _OPENERS:
            stack.append((char, index))
        elif stack and stack[-1][0] == _CLOSERS[char]:
            opened = stack.pop()[1]
            if opened != index:
                pairs.append((opened, index))
        elif any(opener == _CLOSERS[char] for opener, _ in stack):
            while stack and stack[-1][0] != _CLOSERS[char]:
                stack.pop()  # an unclosed opener inside: give it up
            opened = stack.pop()[1]
            if opened != index:
                pairs.append((opened, index))
    open_quote: dict[str, int] = {}
    previous_end = 0
    for index, (start, end) in enumerate(zip(words.starts.tolist(), words.ends.tolist())):
        word = text[start:end]
        if "\n" in text[previous_end:end]:
            open_quote.clear()  # quotes pair within a line: one stray quote must not flip the rest
        previous_end = end
        quote = _quote_of(word)
        if quote:
            if quote in open_quote:
                pairs.append((open_quote.pop(quote), index))
            else:
                open_quote[quote] = index
    pairs.sort(key=lambda pair: (pair[1], -pair[0]))
    return pairs


def _quote_of(word: str) -> str:
    """The straight quote a word stands for: itself, an escaped quote, or the quote at the
    edge of a run of marks (the backtick of "`###" in "`### Fetch Links`"); a fence is none."""
    if word in _PAIRED_QUOTES:
        return word
    if len(word) < 2 or not all(is_punctuation(ch) for ch in word):
        return ""
    if word[0] in _STRAIGHT_QUOTES and word[1] != word[0]:
        return word[0]
    if word[-1] in _STRAIGHT_QUOTES and word[-2] != word[-1]:
        return word[-1]
    return ""


def _opening_quotes(words: Words) -> set[int]:
    text = words.text
    return {
        open_index
        for open_index, _ in _bracket_pairs(words)
        if _quote_of(text[int(words.starts[open_index]) : int(words.ends[open_index])])
    }


def _is_content(words: Words, index: int) -> bool:
    """A word that is more than one bracket or quote: keeping it keeps what it means."""
    return any(ch.isalnum() for ch in _word_text(words, index))


def repair(words: Words, keep: BoolArray, fixed: BoolArray, scores: FloatArray | None = None) -> BoolArray:
    """The keep mask with bracket/quote pairs made whole and non-original repeats removed.

    ``fixed`` words are never dropped; a bracket is added back only when its partner or
    something between them survives. Two fixed equal words that met (``not ... not``) get
    the best-scored word between them back (by ``scores``, else the first).
    """
    keep = keep.copy()
    if len(words) == 0:
        return keep
    for open_index, close_index in _bracket_pairs(words):
        inside = keep[open_index + 1 : close_index].any()
        held = any(keep[i] and _is_content(words, i) for i in (open_index, close_index))
        wanted = bool(inside or held or fixed[open_index] or fixed[close_index])
        keep[open_index] = wanted or bool(fixed[open_index])
        keep[close_index] = wanted or bool(fixed[close_index])
    _drop_new_repeats(words, keep, fixed, scores)
    _drop_orphan_marks(words, keep, fixed)
    _drop_punctuation_pileups(words, keep, fixed)
    return keep


def _normal(word: str) -> str:
    return word.lower() if any(ch.isalnum() for ch in word) else ""


def _drop_new_repeats(words: Words, keep: BoolArray, fixed: BoolArray, scores: FloatArray | None) -> None:
    """Equal words that only meet because the words between went (marks between do not count)."""
    previous, previous_key = -1, ""
    for index in np.flatnonzero(keep).tolist():
        key = _normal(_word_text(words, index))
        if not key:
            continue
        same_line = previous >= 0 and "\n" not in words.text[int(words.ends[previous]) : int(words.starts[index])]
        if key == previous_key and same_line and not _adjacent_in_input(words, previous, index):
            if not fixed[index]:
                keep[index] = False
                continue
            if not fixed[previous]:
                keep[previous] = False
            else:
                # never a word of a sentence dropped whole (its score is -inf): that would
                # bring back a fragment of it
                between = [
                    k
                    for k in range(previous + 1, index)
                    if _normal(_word_text(words, k)) and (scores is None or np.isfinite(scores[k]))
                ]
                if between:
                    keep[max(between, key=lambda k: scores[k]) if scores is not None else between[0]] = True
        previous, previous_key = index, key


def _adjacent_in_input(words: Words, first: int, second: int) -> bool:
    """Only marks between them in the input ("very, very")."""
    return all(not _normal(_word_text(words, k)) for k in range(first + 1, second))


_TERMINAL = frozenset(".!?\u3002\uff01\uff1f")


def _is_mark(word: str) -> bool:
    """Punctuation that separates (not brackets or quotes, whose pairs are handled apart)."""
    return (
        bool(word)
        and all(is_punctuation(ch) for ch in word)
        and not any(ch in _OPENERS or ch in _CLOSERS or ch in _STRAIGHT_QUOTES for ch in word)
    )


def _drop_punctuation_pileups(words: Words, keep: BoolArray, fixed: BoolArray) -> None:
    kept = np.flatnonzero(keep)
    previous = -1
    for index in kept.tolist():
        if previous >= 0 and index != previous + 1:
            before, current = _word_text(words, previous), _word_text(words, index)
            if _is_mark(before) and _is_mark(current):
                weaker = previous if current[0] in _TERMINAL and before[0] not in _TERMINAL else index
                if fixed[weaker]:
                    weaker = index if weaker == previous else previous
                if not fixed[weaker]:
                    keep[weaker] = False
                    if weaker == index:
                        continue
        previous = index


def _drop_orphan_marks(words: Words, keep: BoolArray, fixed: BoolArray) -> None:
    """Marks whose word went, with a line break dropped before them, would start a line."""
    kept = np.flatnonzero(keep)
    first = int(kept[0]) if kept.size else 0
    if first > 0 and not fixed[first] and _attaches_left(words, first) and _is_mark(_word_text(words, first)):
        keep[first] = False  # nothing before it any more
        kept = kept[1:]
    for previous, index in zip(kept[:-1].tolist(), kept[1:].tolist()):
        if index == previous + 1 or fixed[index] or not _attaches_left(words, index):
            continue
        if not _is_mark(_word_text(words, index)):
            continue
        if _gap_strength(words.text, int(words.ends[previous]), int(words.starts[index])) > 0:
            keep[index] = False
