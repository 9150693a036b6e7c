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

import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

# A cut candidate: after "\n", before a character that is neither whitespace nor "/".
_CUT_RE = re.compile(r"\n(?=[^\s/])")
# Chunks are paragraphs (a cut after a blank line) unless a paragraph is huge.
_PARAGRAPH_CUT_RE = re.compile(r"\n[ \t]*\r?\n(?=[^\s/])")
MAX_CHUNK = 8192
CACHE_CHARS = 16_000_000


def chunks(text: str) -> list[str]:
    """Paragraph-sized pieces whose token counts add up to the whole text's.

    Cuts depend only on the nearby text (content-defined), so an edit in one paragraph leaves
    the other chunks, and their cached counts, as they were.
    """
    out: list[str] = []
    start = 0
    for m in _PARAGRAPH_CUT_RE.finditer(text):
        _append_split(text, start, m.end(), out)
        start = m.end()
    _append_split(text, start, len(text), out)
    return out


def _append_split(text: str, start: int, end: int, out: list[str]) -> None:
    """Append ``text[start:end]``, cut at line starts into pieces of about ``MAX_CHUNK`` chars."""
    while end - start > MAX_CHUNK:
        cut = _CUT_RE.search(text, start + MAX_CHUNK // 2, end)
        if cut is None:
            break
        out.append(text[start : cut.end()])
        start = cut.end()
    if end > start:
        out.append(text[start:end])


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
        encoding = self.load()
        total = 0
        missing: list[str] = []
        with self._lock:
            for chunk in chunks(text):
                cached = self._cache.get(chunk)
                if cached is None:
                    missing.append(chunk)
                else:
                    self._cache.move_to_end(chunk)
                    total += cached
        if missing:
            # Outside the lock: tiktoken releases the GIL while encoding, so hovers proceed.
            counted = [len(encoding.encode_ordinary(chunk)) for chunk in missing]
            total += sum(counted)
            with self._lock:
                for chunk, number in zip(missing, counted):
                    if chunk not in self._cache:
                        self._cache[chunk] = number
                        self._cached_chars += len(chunk)
                while self._cached_chars > CACHE_CHARS and self._cache:
                    old, _ = self._cache.popitem(last=False)
                    self._cached_chars -= len(old)
        return total


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
