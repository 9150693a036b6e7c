"""The instruction that asks a teacher LLM for an extractive compression.

The labels are only as good as the teacher's obedience to "delete, never rewrite": every
reworded, reordered or added word is a word the aligner cannot place. So the default
instruction spends its words on those rules, on keeping facts (numbers, names, codes) and on
replying with the shortened text alone, since a preamble ("Here is the compressed text:")
counts as invented words.

Files in the LLMLingua-2 data-collection format are accepted as well:
``{"id": {"system_prompt": ..., "user_prompt": ... {text_to_compress} ...}}``; a user prompt
that is empty sends the text alone, one without the placeholder gets the text appended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lingua_core.errors import InputError
from lingua_core.textfiles import read_text
from lingua_core.train.teachers import Messages

PLACEHOLDER = "{text_to_compress}"


@dataclass(frozen=True)
class Instruction:
    id: str
    system_prompt: str
    user_prompt: str

    def messages(self, text: str) -> Messages:
        """Chat messages for one chunk. ``str.replace``, not ``format``: prompts hold braces."""
        if not self.user_prompt.strip():
            user = text
        elif PLACEHOLDER in self.user_prompt:
            user = self.user_prompt.replace(PLACEHOLDER, text)
        else:
            user = f"{self.user_prompt.rstrip()}\n\n{text}"
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt.strip() else []
        return [*messages, {"role": "user", "content": user}]


DEFAULT_INSTRUCTION = Instruction(
    id="lingua-extractive-1",
    system_prompt=(
        "You shorten texts by deleting words. Every word you output is copied unchanged from the input, "
        "in the input's order."
    ),
    user_prompt=(
        "Shorten the text below by deleting words and nothing else.\n"
        "\n"
        "Rules:\n"
        "- Delete only. The words you keep stay exactly as written and in the same order: do not reword, "
        "reorder, inflect, correct, translate or abbreviate them.\n"
        "- Add nothing: no new words, symbols, punctuation, bullet points, headings or notes.\n"
        "- Keep every number, name, date, quantity, code and identifier that carries information.\n"
        "- Delete filler, repetition, politeness and words a reader can guess from the rest.\n"
        "- Make the result as short as you can while a reader could still recover all of its information.\n"
        "\n"
        "Reply with the shortened text only.\n"
        "\n"
        "Text:\n"
        f"{PLACEHOLDER}"
    ),
)


def load_instructions(path: Path) -> dict[str, Instruction]:
    """Instructions from a JSON file in the LLMLingua-2 format, by id."""
    text = read_text(path, "instructions file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"Cannot read instructions from {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f'{path}: expected {{"id": {{"system_prompt": ..., "user_prompt": ...}}, ...}}')
    instructions: dict[str, Instruction] = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            raise InputError(f"{path}: instruction {key!r} is not an object")
        system, user = value.get("system_prompt", ""), value.get("user_prompt", "")
        if not isinstance(system, str) or not isinstance(user, str) or not (system.strip() or user.strip()):
            raise InputError(f"{path}: instruction {key!r} needs a system_prompt and/or user_prompt string")
        instructions[str(key)] = Instruction(str(key), system, user)
    return instructions


def pick_instruction(path: Path | None, instruction_id: str | None) -> Instruction:
    """The default, or one instruction of a file (its only one, or the one named)."""
    if path is None:
        if instruction_id not in (None, DEFAULT_INSTRUCTION.id):
            raise InputError(f"--instruction-id {instruction_id!r} needs --instructions FILE to pick from")
        return DEFAULT_INSTRUCTION
    instructions = load_instructions(path)
    if instruction_id is None:
        if len(instructions) == 1:
            return next(iter(instructions.values()))
        raise InputError(f"{path} holds instructions {', '.join(instructions)}: pick one with --instruction-id")
    try:
        return instructions[instruction_id]
    except KeyError:
        raise InputError(f"{path} has no instruction {instruction_id!r}; it has {', '.join(instructions)}") from None
