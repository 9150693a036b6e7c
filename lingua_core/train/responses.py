"""Instruction/response pairs from the target LLM: the data of LLMLingua's distribution alignment.

LLMLingua tunes its small scoring model on text the target LLM writes, so the small model's
idea of "predictable" moves toward the target's. This step only collects that text: each
instruction goes to the configured teacher (the target LLM's endpoint) and the answer is
recorded as ``{"id", "instruction", "teacher", "response", ...}``, the shape
:mod:`lingua_core.train.instruct_data` reads, with the same resumable, parallel runner as
distillation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lingua_core.textfiles import read_text
from lingua_core.train.jsonl import iter_text_records
from lingua_core.train.runner import (
    DEFAULT_OPTIONS,
    Job,
    Progress,
    RunOptions,
    RunSummary,
    run_jobs,
    stable_id,
)
from lingua_core.train.teachers import Teacher


@dataclass(frozen=True)
class InstructionItem:
    id: str
    instruction: str


def read_instruction_items(
    paths: Sequence[Path], field: str = "instruction", id_field: str = "id", system_prompt: str = ""
) -> list[InstructionItem]:
    """Instructions from JSONL (``field``, optional ``id_field``) or plain text, one per line.

    Without an explicit id the id hashes the text (and the system prompt, which changes the
    answer), so the same instruction is asked once however many files repeat it.
    """
    items: list[InstructionItem] = []
    for path in paths:
        if path.suffix.lower() == ".jsonl":
            for _, record, text in iter_text_records(path, field, "--field"):
                if text.strip():
                    key = record.get(id_field)
                    items.append(InstructionItem(str(key) if key is not None else stable_id(system_prompt, text), text))
            continue
        lines = read_text(path, "instructions file", folder_hint=True).splitlines()
        items.extend(InstructionItem(stable_id(system_prompt, line), line) for line in lines if line.strip())
    return items


def response_jobs(items: Sequence[InstructionItem], system_prompt: str = "") -> list[Job]:
    """One request per instruction; a system prompt is recorded with the pair, since the
    response was written under it (instruction tuning reads an optional ``"system"``)."""
    if not system_prompt.strip():
        return [
            Job(item.id, [{"role": "user", "content": item.instruction}], {"instruction": item.instruction})
            for item in items
        ]
    system = {"role": "system", "content": system_prompt}
    return [
        Job(
            item.id,
            [system, {"role": "user", "content": item.instruction}],
            {"system": system_prompt, "instruction": item.instruction},
        )
        for item in items
    ]


def collect_responses(
    jobs: Sequence[Job],
    teacher: Teacher,
    output: Path,
    *,
    errors: Path | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
    progress: Progress | None = None,
) -> RunSummary:
    """Ask the teacher each instruction not yet answered in ``output`` (see :func:`runner.run_jobs`)."""
    return run_jobs(jobs, teacher, output, result_field="response", errors=errors, options=options, progress=progress)
