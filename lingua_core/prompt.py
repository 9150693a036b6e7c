"""The prompt as data: an instruction, contexts (demonstrations, documents) and a question.

LLMLingua's budget controller treats the parts differently: instruction and question are
kept (they carry the task), contexts are ranked and dropped first. A plain text is one
context; a JSON prompt file names the parts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lingua_core.errors import InputError

SEPARATOR = "\n\n"  # how the parts are joined, as the reference joins them


@dataclass(frozen=True)
class Prompt:
    contexts: tuple[str, ...]
    instruction: str = ""
    question: str = ""
    compress_instruction: bool = False
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_text(cls, text: str, instruction: str = "", question: str = "") -> Prompt:
        return cls(contexts=(text,), instruction=instruction, question=question)

    @classmethod
    def with_trailing_question(cls, text: str) -> Prompt:
        """The text's last paragraph as the question when it asks one (ends with ``?``).

        An editor selection has no separate question field; LongLLMLingua needs one, and a
        prompt that ends by asking something is the common shape. ``prompt.text`` equals
        ``text`` without its trailing whitespace, so offsets into it still hold.
        """
        stripped = text.rstrip()
        head, sep, tail = stripped.rpartition(SEPARATOR)
        if sep and head.strip() and tail.strip().endswith("?"):
            return cls(contexts=(head,), question=tail)
        return cls.from_text(text)

    @classmethod
    def from_json(cls, raw: str) -> Prompt:
        """``{"instruction": str, "context": [str, ...] | str, "question": str}``."""
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"Invalid JSON prompt: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
        if not isinstance(data, dict):
            raise InputError(
                'A JSON prompt must be an object: {"instruction": ..., "context": [...], "question": ...}.'
            )
        unknown = set(data) - {"instruction", "context", "contexts", "question"}
        if unknown:
            raise InputError(f"Unknown key(s) in JSON prompt: {', '.join(sorted(unknown))}.")
        contexts = data.get("context", data.get("contexts", []))
        if isinstance(contexts, str):
            contexts = [contexts]
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise InputError('"context" must be a string or a list of strings.')
        instruction = data.get("instruction", "")
        question = data.get("question", "")
        if not isinstance(instruction, str) or not isinstance(question, str):
            raise InputError('"instruction" and "question" must be strings.')
        return cls(contexts=tuple(contexts), instruction=instruction, question=question)

    def parts(self) -> list[str]:
        """The non-empty parts in prompt order."""
        return [p for p in (self.instruction, *self.contexts, self.question) if p]

    @property
    def text(self) -> str:
        return SEPARATOR.join(self.parts())

    def is_blank(self) -> bool:
        return not any(part.strip() for part in self.parts())
