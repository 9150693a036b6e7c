"""The real ratios of recent compressions, for hovers over text that was compressed.

Keys are hashes of the texts, so the cache holds numbers, never users' prompts.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua_core import CompressionResult


@dataclass(frozen=True)
class CachedRatio:
    origin_tokens: int
    compressed_tokens: int
    method: str
    model: str
    is_output: bool  # the text is the compressed output rather than the original

    @property
    def ratio(self) -> float:
        return self.origin_tokens / self.compressed_tokens if self.compressed_tokens else 1.0


class CompressionCache:
    """Real ratios of recent compressions by the text they started from (and ended as).

    Hovers show them for a section whose text was compressed (or is a compression's output);
    keys are hashes so the cache holds numbers, not users' prompts.
    """

    def __init__(self, size: int = 256) -> None:
        self._entries: OrderedDict[tuple[str, str], CachedRatio] = OrderedDict()
        self._size = size

    @staticmethod
    def _key(text: str, encoding: str) -> tuple[str, str]:
        return encoding, hashlib.sha1(text.strip().encode("utf-8", "surrogatepass")).hexdigest()

    def remember(self, result: CompressionResult) -> None:
        for text, is_output in ((result.original_text, False), (result.compressed_text, True)):
            key = self._key(text, result.encoding)
            self._entries[key] = CachedRatio(
                result.origin_tokens, result.compressed_tokens, result.method, result.model, is_output
            )
            self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def lookup(self, text: str, encoding: str) -> CachedRatio | None:
        if not text.strip():
            return None
        return self._entries.get(self._key(text, encoding))
