"""Windows line endings: a CRLF prompt is compressed as LF text and answered in CRLF.

Every step of the engine reads line breaks as ``\\n``: paragraphs and the question are split
at blank lines, sentences and list items end at one, the words' whitespace is rebuilt from
it. A ``\\r`` before each break is whitespace to some of those steps and text to others, so a
CRLF selection came back with bare ``\\n`` inside, or with a break dropped and two sentences
fused. Converting once at the entry and back once at the exit keeps all of them on one rule
and gives the editor text in the document's own style.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.result import CompressionResult, WordScore

IntArray = npt.NDArray[np.int64]
CRLF = "\r\n"


@dataclass(frozen=True)
class CrlfPrompt:
    """A prompt whose parts had CRLF breaks, as LF text, and how to map offsets back."""

    original: Prompt
    lf: Prompt
    # Where each removed "\r" was, as an offset into ``lf.text`` (the "\n" it preceded).
    removed_at: IntArray

    @classmethod
    def of(cls, prompt: Prompt) -> CrlfPrompt | None:
        """None when no part holds a CRLF (the common case costs one substring search per part)."""
        parts = [prompt.instruction, *prompt.contexts, prompt.question]
        if not any(CRLF in part for part in parts):
            return None
        removed: list[int] = []
        position = 0
        for part in (p for p in parts if p):
            found = part.find(CRLF)
            shift = 0
            while found >= 0:
                removed.append(position + found - shift)
                shift += 1
                found = part.find(CRLF, found + 2)
            position += len(part) - shift + len(SEPARATOR)
        lf = replace(
            prompt,
            instruction=prompt.instruction.replace(CRLF, "\n"),
            contexts=tuple(c.replace(CRLF, "\n") for c in prompt.contexts),
            question=prompt.question.replace(CRLF, "\n"),
        )
        return cls(prompt, lf, np.asarray(removed, dtype=np.int64))

    def to_original(self, offset: int) -> int:
        """An offset into ``lf.text`` as an offset into ``original.text``: a span that covers
        a converted "\\n" also covers the "\\r" before it."""
        return offset + int(np.searchsorted(self.removed_at, offset, side="left"))

    def restore(self, result: CompressionResult) -> CompressionResult:
        """The result of compressing ``lf``, in the original's offsets and line endings.

        The compressed text takes CRLF throughout, like the document it goes back into; the
        token counts were already made on CRLF text (``Compressor.compress`` counts what the
        user gets).
        """
        spans = tuple((self.to_original(s), self.to_original(e)) for s, e in result.kept_spans)
        scores = None
        if result.word_scores is not None:
            scores = tuple(
                WordScore(self.to_original(w.start), self.to_original(w.end), w.probability, w.kept)
                for w in result.word_scores
            )
        details = dict(result.details)
        if isinstance(details.get("question"), str):
            details["question"] = to_crlf(details["question"])
        return replace(
            result,
            compressed_text=to_crlf(result.compressed_text),
            original_text=self.original.text,
            kept_spans=spans,
            word_scores=scores,
            details=details,
        )


def to_crlf(text: str) -> str:
    """Every line break as CRLF (the text holds LF breaks only)."""
    return text.replace("\n", CRLF)
