"""Instruction pairs for distribution alignment: read them, render them, tokenize them, batch them.

A pair is what the target LLM answered to an instruction. Three record shapes are read, so a
file from ``lingua respond``, an Alpaca-style set or a chat log can be used as is:

- ``{"instruction", "response"}`` (``"input"`` is appended to the instruction and
  ``"output"`` stands for ``"response"``, as in Alpaca; an optional ``"system"`` leads);
- ``{"prompt", "completion"}``;
- ``{"messages": [{"role", "content"}, ...]}``, every assistant turn being trained.

Only the target's words carry loss: the point is to move the small LM's distribution over
*responses* towards the target's, not to teach it to write instructions. Rendering produces
one text plus the character ranges to learn; tokenizing with offsets then marks exactly the
tokens inside those ranges, which survives the template's special tokens and any tokenizer
merge at a boundary without string surgery on token ids.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core.errors import InputError
from lingua_core.textfiles import decode_utf8, read_bytes
from lingua_core.train.batching import IGNORE_INDEX

PLAIN_SEPARATOR = "\n\n"
ROLES = ("system", "user", "assistant")
Message = dict[str, str]


@dataclass(frozen=True)
class PairsFile:
    """The conversations of a pairs file and what reading it skipped."""

    conversations: tuple[tuple[Message, ...], ...]
    sha256: str
    skipped_empty: int  # records whose response is blank or was cut by the token limit


@dataclass(frozen=True)
class Rendered:
    """One training text and the character ranges whose tokens carry loss."""

    text: str
    spans: tuple[tuple[int, int], ...]
    add_special_tokens: bool  # a chat template writes its own; plain text takes the tokenizer's


@dataclass(frozen=True)
class Example:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE_INDEX outside the response

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels[1:] if label != IGNORE_INDEX)


def _text_field(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: {key!r} must be a string, not {type(value).__name__}.")
    return value


def record_messages(record: Any, where: str) -> tuple[Message, ...]:
    """A record as chat messages; ``where`` (``file:line``) prefixes every error."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: each line must be a JSON object, not {type(record).__name__}.")
    if "messages" in record:
        return _chat_messages(record["messages"], where)
    if "instruction" in record:
        instruction = _text_field(record, "instruction", where)
        extra = _text_field(record, "input", where)
        if extra.strip():
            instruction = f"{instruction}{PLAIN_SEPARATOR}{extra}" if instruction.strip() else extra
        key = "response" if "response" in record else "output"
        if key not in record:
            raise InputError(f"{where}: an 'instruction' record needs a 'response' (or 'output').")
        response = _text_field(record, key, where)
    elif "prompt" in record:
        if "completion" not in record:
            raise InputError(f"{where}: a 'prompt' record needs a 'completion'.")
        instruction = _text_field(record, "prompt", where)
        response = _text_field(record, "completion", where)
    else:
        raise InputError(
            f"{where}: no 'instruction'/'response', 'prompt'/'completion' or 'messages' fields "
            f"(found {', '.join(sorted(map(str, record))) or 'none'})."
        )
    system = _text_field(record, "system", where)
    messages: list[Message] = [{"role": "system", "content": system}] if system.strip() else []
    messages.append({"role": "user", "content": instruction})
    messages.append({"role": "assistant", "content": response})
    return tuple(messages)


def _chat_messages(value: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects.")
    messages: list[Message] = []
    for number, message in enumerate(value, start=1):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise InputError(f"{where}: message {number} needs a string 'content'.")
        role = message.get("role")
        if role not in ROLES:
            raise InputError(f"{where}: message {number} has role {role!r}; use one of {', '.join(ROLES)}.")
        messages.append({"role": role, "content": message["content"]})
    if not any(m["role"] == "assistant" for m in messages):
        raise InputError(f"{where}: 'messages' has no assistant turn to learn from.")
    return tuple(messages)


def _has_response(messages: Sequence[Message]) -> bool:
    return any(m["role"] == "assistant" and m["content"].strip() for m in messages)


def read_pairs(path: Path) -> PairsFile:
    """Every conversation of a JSONL file; a truncated last line (an interrupted writer) is skipped."""
    raw = read_bytes(path, "pairs file")  # the run's resume check hashes the bytes as they are on disk
    text = decode_utf8(raw, path)
    lines = text.splitlines(keepends=True)
    conversations: list[tuple[Message, ...]] = []
    skipped = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not line.endswith("\n"):
                break  # the writer was interrupted mid-line
            raise InputError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
        messages = record_messages(record, where)
        # A reply the teacher's token limit cut (``lingua respond`` records the finish
        # reason) would teach the model to end its turn mid-sentence.
        truncated = isinstance(record, dict) and record.get("finish_reason") == "length"
        if _has_response(messages) and not truncated:
            conversations.append(messages)
        else:
            skipped += 1
    if not conversations:
        detail = f" ({skipped} with an empty or truncated response)" if skipped else ""
        raise InputError(f"{path} holds no pair with a response to train on{detail}.")
    return PairsFile(tuple(conversations), hashlib.sha256(raw).hexdigest(), skipped)


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render(tokenizer: Any, messages: Sequence[Message], chat: bool) -> Rendered:
    """The text the model reads and the assistant ranges in it that it learns to write."""
    return _render_chat(tokenizer, messages) if chat else _render_plain(tokenizer, messages)


def _render_plain(tokenizer: Any, messages: Sequence[Message]) -> Rendered:
    """``instruction\\n\\nresponse<eos>``: the end token is learned so the model knows when to stop."""
    eos = getattr(tokenizer, "eos_token", None) or ""
    text = ""
    spans: list[tuple[int, int]] = []
    for message in messages:
        content = message["content"]
        if not content and message["role"] != "assistant":
            continue
        if text:
            text += PLAIN_SEPARATOR
        start = len(text)
        text += content
        if message["role"] == "assistant":
            text += eos
            spans.append((start, len(text)))
    return Rendered(text, tuple(spans), add_special_tokens=True)


def _render_chat(tokenizer: Any, messages: Sequence[Message]) -> Rendered:
    """Render with the model's own template; each assistant turn runs to the template's end of turn.

    A turn's range is what rendering the conversation up to and including it adds after the
    generation prompt, so the end-of-turn token is learned too. A template that rewrites
    earlier turns (some drop past reasoning) is not a prefix of itself; then the range is
    the turn's content found in the full text.
    """

    def apply(part: Sequence[Message], generation_prompt: bool = False) -> str:
        rendered = tokenizer.apply_chat_template(list(part), tokenize=False, add_generation_prompt=generation_prompt)
        return str(rendered)

    full = apply(messages)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        # A conversation that opens with the assistant has no generation prompt to measure from.
        before = apply(messages[:index], generation_prompt=True) if index else None
        through = apply(messages[: index + 1])
        consistent = before is not None and full.startswith(before) and full.startswith(through)
        if before is not None and consistent and cursor <= len(before) < len(through):
            span = (len(before), len(through))
        else:
            start = full.find(message["content"], cursor)
            if start < 0:
                raise InputError("The chat template drops an assistant turn's text; use --template plain.")
            span = (start, start + len(message["content"]))
        spans.append(span)
        cursor = span[1]
    return Rendered(full, tuple(spans), add_special_tokens=False)


def encode(tokenizer: Any, rendered: Rendered, max_length: int) -> Example:
    """Token ids and labels, cut to ``max_length``; a token learns when it starts inside a range."""
    encoded = tokenizer(
        rendered.text,
        add_special_tokens=rendered.add_special_tokens,
        return_offsets_mapping=True,
        truncation=True,
        max_length=max_length,
    )
    ids = [int(i) for i in encoded["input_ids"]]
    labels = [IGNORE_INDEX] * len(ids)
    for index, (start, end) in enumerate(encoded["offset_mapping"]):
        if end > start and any(low <= start < high for low, high in rendered.spans):
            labels[index] = ids[index]
    return Example(tuple(ids), tuple(labels))


@dataclass(frozen=True)
class Encoded:
    """Examples ready to batch and what had to be left out."""

    examples: tuple[Example, ...]
    dropped_too_long: int  # the response starts beyond max_length: no token left to learn
    truncated: int


def encode_all(tokenizer: Any, conversations: Sequence[Sequence[Message]], chat: bool, max_length: int) -> Encoded:
    examples: list[Example] = []
    dropped = truncated = 0
    for messages in conversations:
        example = encode(tokenizer, render(tokenizer, messages, chat), max_length)
        if example.trained_tokens == 0:
            dropped += 1
            continue
        truncated += len(example.input_ids) >= max_length
        examples.append(example)
    return Encoded(tuple(examples), dropped, truncated)


def split_validation(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded (train, validation) indices; a non-zero fraction holds out at least one example
    and always leaves one to train on."""
    order = np.random.default_rng(seed).permutation(count).tolist()
    held = 0 if fraction <= 0 or count < 2 else min(count - 1, max(1, round(count * fraction)))
    return sorted(order[held:]), sorted(order[:held])


def steps_per_epoch(batch_count: int, grad_accum: int) -> int:
    return math.ceil(batch_count / grad_accum)
