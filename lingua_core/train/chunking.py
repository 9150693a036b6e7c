"""Cut source texts into teacher-sized chunks that are exact slices of the original.

The teacher compresses one chunk at a time: a long text compressed in one request comes back
summarised rather than pruned, and the labels must align back onto words the classifier
will see in context windows of about this size. Chunks are measured in the *target* LLM's
tokens (the budget the compressor serves) and cut at sentence boundaries, packing as many
whole sentences as fit; only a sentence longer than the limit is cut between words (and a
single word longer than that, between characters). Chunks tile the text: joined, they give
it back unchanged, so every label lands on an original character span.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from lingua_core.errors import InputError
from lingua_core.sentences import split_sentences
from lingua_core.tokens import TokenCounter, tiktoken_counter

DEFAULT_CHUNK_TOKENS = 512  # the paper's chunk size for GPT-4 compression
DEFAULT_ENCODING = "o200k_base"

_WORD_START_RE = re.compile(r"(?<=\s)\S")

CountFn = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    start: int  # char offsets in the source text
    end: int
    text: str


def chunk_text(text: str, max_tokens: int = DEFAULT_CHUNK_TOKENS, counter: TokenCounter | None = None) -> list[Chunk]:
    """Chunks of at most ``max_tokens`` tokens; blank stretches alone make no chunk.

    Counts are exact for each chunk as cut (not sums of sentence counts, which merge
    differently at the joins), so a limit is never exceeded; the one exception is a single
    character that alone costs more than ``max_tokens``.
    """
    if max_tokens < 1:
        raise InputError(f"chunk size must be at least 1 token; got {max_tokens}")
    count = (counter or tiktoken_counter(DEFAULT_ENCODING)).count
    pieces: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        if count(text[start:end]) <= max_tokens:
            pieces.append((start, end))
        else:
            pieces.extend(_split_long(text, start, end, max_tokens, count))
    chunks: list[Chunk] = []
    for start, end in _pack(text, pieces, max_tokens, count):
        if text[start:end].strip():
            chunks.append(Chunk(start, end, text[start:end]))
    return chunks


def _pack(text: str, pieces: list[tuple[int, int]], max_tokens: int, count: CountFn) -> list[tuple[int, int]]:
    """Greedily join consecutive pieces while the joined text fits."""
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for start, end in pieces:
        if current is None:
            current = (start, end)
        elif count(text[current[0] : end]) <= max_tokens:
            current = (current[0], end)
        else:
            spans.append(current)
            current = (start, end)
    if current is not None:
        spans.append(current)
    return spans


def _split_long(text: str, start: int, end: int, max_tokens: int, count: CountFn) -> list[tuple[int, int]]:
    """Pieces of one over-long sentence: words (with their trailing space), packed to fit."""
    cuts = [m.start() for m in _WORD_START_RE.finditer(text[start:end])]
    words = list(itertools.pairwise([start, *(start + c for c in cuts), end]))
    pieces: list[tuple[int, int]] = []
    for w_start, w_end in words:
        if count(text[w_start:w_end]) <= max_tokens:
            pieces.append((w_start, w_end))
        else:
            pieces.extend(_split_chars(text, w_start, w_end, max_tokens, count))
    return _pack(text, pieces, max_tokens, count)


def _split_chars(text: str, start: int, end: int, max_tokens: int, count: CountFn) -> list[tuple[int, int]]:
    """A word too long for one chunk (a base64 blob, say): the longest fitting prefixes."""
    pieces: list[tuple[int, int]] = []
    while start < end:
        low, high = start + 1, end  # the longest prefix end in [low, high] that fits
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[start:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        pieces.append((start, low))
        start = low
    return pieces
