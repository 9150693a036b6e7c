"""Words: the unit every method keeps or drops, so no output ever holds half a word.

A compressor that decides per subword token cuts ids, names and numbers inside
(``SM-8501`` -> ``SM-0``, ``Priyanka`` -> ``ank``). Every method therefore maps its scores
onto these words and decides per word; the output is assembled from whole words
(:mod:`lingua_core.assemble`).

Word splitting (it shapes every output):

* Words are whitespace-separated runs, with punctuation at the *edges* of a run split off as
  words of their own (runs of the same character stay together: "...", "**", and so does a
  backslash escape: ``\\"``), so "end." can lose its word and keep its period. Punctuation
  *inside* a run stays attached ("3.14", "don't", "GPT-4", "a/b", "SM-8501"), so dropping a
  word never glues two others together or turns "3.14" into "314". A run made only of
  punctuation ("->", "---", a CJK comma) is one word. Emoji and other symbols that are not
  math or currency signs stay attached, so emoji sequences and skin-tone modifiers are never
  split; no word starts inside a grapheme cluster (a combining accent on an edge quote stays
  with the quote).
* CJK ideographs, kana and bopomofo are one word per character (as mBERT's tokenizer
  splits them): these scripts do not separate words with spaces, and a run would be a
  whole sentence. Hangul is written with spaces and follows the whitespace rule. Other
  scripts without spaces (Thai, Lao, ...) get one word per run; compression there is coarse.
* A whitespace force token ("\\n", LLMLingua-2's option) becomes a word of its own wherever
  it occurs, so that it can be kept; other whitespace lies between words.
"""

from __future__ import annotations

import enum
import functools
import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Aggregation", "Words", "aggregate_by", "is_punctuation", "overlap_pairs", "split_words", "word_mask"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Aggregation(enum.Enum):
    """How a word's score follows from its tokens' scores."""

    MEAN = "mean"  # LLMLingua-2's reference default
    FIRST = "first"  # the first token decides
    MAX = "max"  # keep a word if any part of it looks important
    SUM = "sum"  # the word's total information (causal LM surprisal adds up over its tokens)


# Scripts written without spaces: one word per character, with the marks that attach to it.
_CJK_CHAR_RE = re.compile(
    "[\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3041-\u3096\u309b-\u30ff"
    "\u3105-\u312f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f]"
    "[\u0300-\u036f\u3099\u309a\ufe00-\ufe0f\U000e0100-\U000e01ef]*"
)
_ASCII_PUNCTUATION = frozenset(string.punctuation)


@functools.lru_cache(maxsize=4096)
def is_punctuation(char: str) -> bool:
    """Punctuation, math and currency signs split off a word's edges; emoji and marks do not."""
    if char in _ASCII_PUNCTUATION:
        return True
    category = unicodedata.category(char)
    return category[0] == "P" or category in {"Sm", "Sc"}


@dataclass(frozen=True)
class Words:
    """Words of ``text`` as sorted, disjoint char ranges; whitespace between them is not in any."""

    text: str
    starts: IntArray
    ends: IntArray

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def leads(self) -> IntArray:
        """Where each word's preceding whitespace starts (the previous word's end)."""
        return np.concatenate(([0], self.ends[:-1])).astype(np.int64) if len(self) else self.ends

    def units(self) -> list[str]:
        """Each word with its preceding whitespace: what keeping the word costs in the output."""
        return [self.text[a:b] for a, b in zip(self.leads.tolist(), self.ends.tolist())]


def _same_char_runs(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """Runs of one mark; a backslash escape (``\\"`` in a JSON string) stays one word, so
    dropping words never leaves a lone backslash that escapes the wrong character."""
    pos = start
    while pos < end:
        if text[pos] == "\\" and pos + 1 < end:
            out.append((pos, pos + 2))
            pos += 2
            continue
        stop = pos + 1
        while stop < end and text[stop] == text[pos]:
            stop += 1
        out.append((pos, stop))
        pos = stop


def _split_edges(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """A run without CJK: edge punctuation split off, the middle one word."""
    left = start
    while left < end and is_punctuation(text[left]):
        left += 1
    if left == end:
        out.append((start, end))
        return
    right = end
    while right > left and is_punctuation(text[right - 1]):
        right -= 1
    _same_char_runs(text, start, left, out)
    out.append((left, right))
    _same_char_runs(text, right, end, out)


def _split_run(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    pos = start
    for match in _CJK_CHAR_RE.finditer(text, start, end):
        if match.start() > pos:
            _split_edges(text, pos, match.start(), out)
        out.append(match.span())
        pos = match.end()
    if pos < end:
        _split_edges(text, pos, end, out)


def _extends(char: str) -> bool:
    """A character that belongs to the one before it on screen (one grapheme cluster): a
    combining mark, a variation selector, a skin-tone modifier, a joiner, a tag character."""
    code = ord(char)
    return (
        code == 0x200D
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or 0xE0100 <= code <= 0xE01EF
        or unicodedata.category(char) in {"Mn", "Mc", "Me"}
    )


def _join_extenders(text: str, spans: list[tuple[int, int]], first: int) -> None:
    """Merge a word that starts with an extending character into the word right before it
    (``"\u0301quoted`` after an edge quote), so that no word ever starts inside a grapheme
    cluster and dropping one never strands an accent or a modifier on its neighbour."""
    index = max(first, 1)
    while index < len(spans):
        start, end = spans[index]
        if spans[index - 1][1] == start and _extends(text[start]):
            spans[index - 1] = (spans[index - 1][0], end)
            del spans[index]
        else:
            index += 1


def _word_pattern(whitespace_tokens: Sequence[str]) -> re.Pattern[str]:
    tokens = sorted(set(whitespace_tokens), key=len, reverse=True)
    return re.compile("|".join([*(re.escape(t) for t in tokens), r"\S+"]))


def split_words(text: str, force_tokens: Sequence[str] = ()) -> Words:
    """Split ``text`` into words (see the module notes); whitespace force tokens become words."""
    pattern = _word_pattern([t for t in force_tokens if t and not t.strip()])
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        run = match.group()
        if (run.isascii() and run.isalnum()) or text[start].isspace():  # most words: nothing to split
            spans.append((start, end))
        else:
            first = len(spans)
            if _CJK_CHAR_RE.search(text, start, end) is None:
                _split_edges(text, start, end, spans)
            else:
                _split_run(text, start, end, spans)
            _join_extenders(text, spans, first)
    array = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    return Words(text, array[:, 0].copy(), array[:, 1].copy())


def overlap_pairs(words: Words, starts: IntArray, ends: IntArray) -> tuple[IntArray, IntArray]:
    """(item, word) index pairs for every item span sharing a character with a word.

    Items are model tokens, protected spans, force-token occurrences... An item covering
    several words (a SentencePiece piece over two CJK characters) pairs with each of them;
    one covering only whitespace pairs with none.
    """
    first = np.searchsorted(words.ends, starts, side="right")
    last = np.searchsorted(words.starts, ends, side="left") - 1
    count = np.maximum(last - first + 1, 0)
    count[ends <= starts] = 0
    total = int(count.sum())
    item = np.repeat(np.arange(starts.shape[0], dtype=np.int64), count)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    return item, (np.repeat(first, count) + offset).astype(np.int64)


def word_mask(words: Words, spans: Sequence[tuple[int, int]]) -> BoolArray:
    mask = np.zeros(len(words), dtype=bool)
    if spans and len(words):
        array = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        _, word = overlap_pairs(words, array[:, 0], array[:, 1])
        mask[word] = True
    return mask


def aggregate_by(
    values: npt.NDArray[np.float64], owner: IntArray, count: int, how: Aggregation
) -> npt.NDArray[np.float64]:
    """One value per owner (a word) from its parts' values (its tokens', in text order); NaN for an owner with none."""
    seen = np.bincount(owner, minlength=count) > 0
    result = np.full(count, np.nan)
    if how is Aggregation.MEAN:
        sums = np.bincount(owner, weights=values, minlength=count)
        result[seen] = sums[seen] / np.bincount(owner, minlength=count)[seen]
    elif how is Aggregation.SUM:
        result[seen] = np.bincount(owner, weights=values, minlength=count)[seen]
    elif how is Aggregation.MAX:
        best = np.full(count, -np.inf)
        np.maximum.at(best, owner, values)
        result[seen] = best[seen]
    else:  # FIRST: the first part decides
        first_owner, first_index = np.unique(owner, return_index=True)
        result[first_owner] = values[first_index]
    return result
