"""What a compression returns: numbers and spans, never pre-formatted strings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class WordScore:
    """One word of the original and how likely it is to be kept (LLMLingua-2's heat view)."""

    start: int
    end: int
    probability: float
    kept: bool


@dataclass(frozen=True)
class CompressionResult:
    compressed_text: str
    original_text: str
    origin_tokens: int
    compressed_tokens: int
    encoding: str
    method: str
    model: str
    seconds: float
    # Character ranges of ``original_text`` that survive, in order: an editor can show them,
    # and the compressed text is their concatenation plus the separators between parts.
    kept_spans: tuple[tuple[int, int], ...] = ()
    target_tokens: int | None = None
    word_scores: tuple[WordScore, ...] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times shorter (origin / compressed); 1.0 when nothing could be removed."""
        return self.origin_tokens / self.compressed_tokens if self.compressed_tokens else 1.0

    @property
    def rate(self) -> float:
        """The share of tokens left (compressed / origin)."""
        return self.compressed_tokens / self.origin_tokens if self.origin_tokens else 1.0

    @property
    def saved_tokens(self) -> int:
        return self.origin_tokens - self.compressed_tokens

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["compressed_prompt"] = data.pop("compressed_text")
        data["ratio"] = self.ratio
        data["rate"] = self.rate
        data["saved_tokens"] = self.saved_tokens
        data["kept_spans"] = [list(span) for span in self.kept_spans]
        return data
