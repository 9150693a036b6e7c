"""Exact token counts fast enough for every hover and keystroke, on files up to megabytes.

tiktoken needs about 0.2 s for a 1 MB prompt, far over a hover's budget, and an edit changes
only one paragraph. So texts are cut into chunks at places where tiktoken's pre-tokenizer
always cuts too, and counts are cached per chunk: the sum is exactly ``count_tokens(text)``
(what ``lingua count`` prints), and after an edit only the edited chunk is counted again.

Why the cut points are safe: tiktoken splits text with a regex into pieces and encodes each
piece alone. Just after a ``\\n`` that is followed by a character other than whitespace or
``/``, no alternative of the o200k or cl100k pattern can continue a piece (letters and digits
never take a line break as prefix, whitespace runs end at the non-space, and only ``/`` may
trail a punctuation run's line breaks), and the patterns look neither behind nor further
ahead than one character, so both halves split into the same pieces on their own.
"""

from __future__ import annotations

import bisect
import itertools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

# A cut candidate: after "\n", before a character that is neither whitespace nor "/".
_CUT_RE = re.compile(r"\n(?=[^\s/])")
# Chunks are paragraphs (a cut after a blank line) unless a paragraph is huge.
_PARAGRAPH_CUT_RE = re.compile(r"\n[ \t]*\r?\n(?=[^\s/])")
MAX_CHUNK = 8192
CACHE_CHARS = 16_000_000


def chunk_bounds(text: str) -> list[int]:
    """Offsets where chunks start, plus ``len(text)``: paragraph-sized pieces whose token counts
    add up to the whole text's.

    Cuts depend only on the nearby text (content-defined), so an edit in one paragraph leaves
    the other chunks, and their cached counts, as they were.
    """
    bounds = [0]
    for m in _PARAGRAPH_CUT_RE.finditer(text):
        _split_long(text, bounds[-1], m.end(), bounds)
        bounds.append(m.end())
    _split_long(text, bounds[-1], len(text), bounds)
    if bounds[-1] != len(text) or len(bounds) == 1:
        bounds.append(len(text))
    return bounds


def _split_long(text: str, start: int, end: int, bounds: list[int]) -> None:
    """Add cuts at line starts so that no chunk of ``text[start:end]`` is much over ``MAX_CHUNK``."""
    while end - start > MAX_CHUNK:
        cut = _CUT_RE.search(text, start + MAX_CHUNK // 2, end)
        if cut is None:
            return
        bounds.append(cut.end())
        start = cut.end()


def chunks(text: str) -> list[str]:
    bounds = chunk_bounds(text)
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@dataclass(frozen=True)
class Layout:
    """Chunk starts of one text and running token totals: any span's count in two bisections."""

    bounds: list[int]
    prefix: list[int]  # prefix[i]: tokens of the chunks before bounds[i]

    @property
    def total(self) -> int:
        return self.prefix[-1]


class TokenCounter:
    """Counts in one tiktoken encoding, caching per chunk; safe to share between threads."""

    def __init__(self, encoding_name: str) -> None:
        self.encoding_name = encoding_name
        self._encoding: tiktoken.Encoding | None = None
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cached_chars = 0
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._encoding is not None

    def load(self) -> tiktoken.Encoding:
        """Build the encoding (about a second the first time: it parses a 200k-entry rank file)."""
        if self._encoding is None:
            from lingua_core.tokens import get_encoding

            self._encoding = get_encoding(self.encoding_name)
        return self._encoding

    def count(self, text: str) -> int:
        return sum(self._count_chunks(chunks(text)))

    def layout(self, text: str) -> Layout:
        bounds = chunk_bounds(text)
        counts = self._count_chunks([text[a:b] for a, b in itertools.pairwise(bounds)])
        return Layout(bounds, list(itertools.accumulate(counts, initial=0)))

    def count_span(self, text: str, layout: Layout, start: int, end: int) -> int:
        """``count(text[start:end])`` from whole chunks plus the two partial ends.

        A chunk start strictly inside the span is a safe cut for the span too: safety depends
        only on the characters on either side of it.
        """
        first = bisect.bisect_left(layout.bounds, start)
        last = bisect.bisect_right(layout.bounds, end) - 1
        if first >= last:
            return self.count(text[start:end])
        head, tail = layout.bounds[first], layout.bounds[last]
        inner = layout.prefix[last] - layout.prefix[first]
        return self.count(text[start:head]) + inner + self.count(text[tail:end])

    def _count_chunks(self, pieces: list[str]) -> list[int]:
        encoding = self.load()
        counts: list[int | None] = []
        missing: list[int] = []
        with self._lock:
            for index, chunk in enumerate(pieces):
                cached = self._cache.get(chunk)
                if cached is None:
                    missing.append(index)
                else:
                    self._cache.move_to_end(chunk)
                counts.append(cached)
        if missing:
            # Outside the lock: tiktoken releases the GIL while encoding, so hovers proceed.
            for index in missing:
                counts[index] = len(encoding.encode_ordinary(pieces[index]))
            with self._lock:
                for index in missing:
                    chunk = pieces[index]
                    if chunk and chunk not in self._cache:
                        self._cache[chunk] = counts[index]  # type: ignore[assignment]
                        self._cached_chars += len(chunk)
                while self._cached_chars > CACHE_CHARS and self._cache:
                    old, _ = self._cache.popitem(last=False)
                    self._cached_chars -= len(old)
        return counts  # type: ignore[return-value]


class Counters:
    """One counter per encoding, made on first use."""

    def __init__(self) -> None:
        self._counters: dict[str, TokenCounter] = {}
        self._lock = threading.Lock()

    def get(self, encoding_name: str) -> TokenCounter:
        with self._lock:
            counter = self._counters.get(encoding_name)
            if counter is None:
                counter = self._counters[encoding_name] = TokenCounter(encoding_name)
            return counter
