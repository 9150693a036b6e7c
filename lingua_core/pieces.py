"""Model tokens as pieces of the original text, so a keep mask maps back to exact characters.

The reference implementation decodes the kept token ids, which can split a multi-byte
character (an emoji, a CJK ideogram) into invalid bytes and loses the link to the source
text. Here every token owns the characters from the end of the previous token to its own
end, so the pieces tile the text exactly: the compressed text is a concatenation of
original substrings, protected spans can be checked against tokens, and an editor can
show which characters survive.

Byte-level BPE tokenizers give several tokens the same character range when one character
spans several tokens; such tokens form one *unit* and are kept or dropped together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.words import Words, overlap_pairs

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TokenizedText:
    """Token ids of ``text`` and, per token, the character range it owns."""

    text: str
    ids: IntArray
    starts: IntArray
    ends: IntArray
    unit: IntArray  # index of the unit (whole characters) each token belongs to

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def piece(self, index: int) -> str:
        return self.text[int(self.starts[index]) : int(self.ends[index])]

    def whole_units(self, keep: BoolArray) -> BoolArray:
        """Keep a unit when any of its tokens is kept, so no character is cut in half."""
        if len(self) == 0:
            return keep
        unit_keep = np.zeros(int(self.unit[-1]) + 1, dtype=bool)
        np.logical_or.at(unit_keep, self.unit, keep)
        return unit_keep[self.unit]

    def join(self, keep: BoolArray) -> str:
        """The text of the kept tokens, in order."""
        keep = self.whole_units(keep)
        return "".join(self.text[s:e] for s, e, k in zip(self.starts.tolist(), self.ends.tolist(), keep.tolist()) if k)

    def kept_spans(self, keep: BoolArray, offset: int = 0) -> list[tuple[int, int]]:
        """Maximal character ranges of the original that survive, shifted by ``offset``."""
        keep = self.whole_units(keep)
        spans: list[tuple[int, int]] = []
        for start, end, kept in zip(self.starts.tolist(), self.ends.tolist(), keep.tolist()):
            if not kept or start == end:
                continue
            if spans and spans[-1][1] == start + offset:
                spans[-1] = (spans[-1][0], end + offset)
            else:
                spans.append((start + offset, end + offset))
        return spans


def tokenize(tokenizer: Any, text: str) -> TokenizedText:
    """Tokenize without special tokens, as the reference does for the token-level pass."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = np.asarray(encoded["input_ids"], dtype=np.int64)
    offsets = encoded["offset_mapping"]
    count = ids.shape[0]
    ends = np.zeros(count, dtype=np.int64)
    running = 0
    for index, (_, end) in enumerate(offsets):
        running = max(running, int(end))
        ends[index] = running
    if count:
        ends[-1] = len(text)  # trailing characters the tokenizer normalised away stay with the last token
    starts = np.concatenate(([0], ends[:-1])) if count else np.zeros(0, dtype=np.int64)
    starts = starts.astype(np.int64)
    # A token that owns no character continues the unit of the token before it.
    new_unit = ends > starts
    if count:
        new_unit[0] = True
    unit = np.cumsum(new_unit) - 1
    return TokenizedText(text, ids, starts, ends, unit.astype(np.int64))


def span_mask(tokens: TokenizedText, spans: list[tuple[int, int]]) -> BoolArray:
    """Tokens whose characters touch any of ``spans`` (sorted, non-overlapping)."""
    mask = np.zeros(len(tokens), dtype=bool)
    if not spans or len(tokens) == 0:
        return mask
    span_starts = np.asarray([s for s, _ in spans], dtype=np.int64)
    span_ends = np.asarray([e for _, e in spans], dtype=np.int64)
    # For each token, the last span starting before the token ends; it overlaps if it ends
    # after the token starts. Tokens owning no characters inherit through their unit.
    index = np.searchsorted(span_starts, tokens.ends, side="left") - 1
    valid = index >= 0
    overlap = np.zeros(len(tokens), dtype=bool)
    overlap[valid] = span_ends[index[valid]] > tokens.starts[valid]
    mask |= overlap & (tokens.ends > tokens.starts)
    return tokens.whole_units(mask)


def word_units(tokens: TokenizedText, words: Words) -> tuple[IntArray, IntArray]:
    """Decision units shared by tokens and words: (unit of each token, unit of each word).

    A unit is a word, or several words one token spans (``",`` as one BPE token over a
    closing quote and a comma), so that keeping a unit keeps whole tokens and whole words at
    once. A token that owns only whitespace joins the unit of the word after it: it is kept
    when that word is, as the separator the output puts before it.
    """
    count = len(tokens)
    if len(words) == 0:
        return np.zeros(count, dtype=np.int64), np.zeros(0, dtype=np.int64)
    token_index, word_index = overlap_pairs(words, tokens.starts, tokens.ends)
    # Words a token spans are linked to the word before them.
    linked = np.zeros(len(words), dtype=bool)
    if token_index.size:
        same_token = np.concatenate(([False], token_index[1:] == token_index[:-1]))
        linked[word_index[same_token]] = True
    word_unit = (np.cumsum(~linked) - 1).astype(np.int64)
    # Each token's first word, or for a whitespace-only token the next word (the last if none).
    first_word = np.searchsorted(words.ends, tokens.starts, side="right")
    first_word = np.minimum(first_word, len(words) - 1)
    token_unit = word_unit[first_word]
    # Byte pieces of one character share a unit already (same character range).
    return np.maximum.accumulate(token_unit).astype(np.int64), word_unit
