"""LLMLingua-2 data distillation: a teacher compresses chunks, the compressions become labels.

Two steps with a file between them, because they fail and cost differently. ``distill``
sends every chunk of the sources to the teacher and keeps the raw answers (hours, paid per
request, resumable); ``label`` aligns each answer back onto its chunk's words and keeps the
samples that pass the quality filter (seconds, free, rerun at will with other thresholds).

Raw records: ``{"id", "source", "chunk", "instruction_id", "original", "teacher",
"compressed", "finish_reason", "seconds", "attempts", ...}``; the labelled output is the
:mod:`lingua_core.train.dataset` format with that provenance.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError
from lingua_core.textfiles import read_text
from lingua_core.tokens import tiktoken_counter
from lingua_core.train.align_labels import DEFAULT_WINDOW, Alignment, QualityFilter, align_labels, filter_alignments
from lingua_core.train.chunking import DEFAULT_CHUNK_TOKENS, DEFAULT_ENCODING, chunk_text
from lingua_core.train.dataset import LabelledSample, write_samples
from lingua_core.train.instructions import Instruction
from lingua_core.train.jsonl import iter_jsonl, iter_text_records
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

MAX_SOURCE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SourceText:
    source: str  # the file, plus "#id" or ":line" for a record of a JSONL file
    text: str


def read_sources(paths: Sequence[Path], text_field: str = "text", id_field: str | None = None) -> list[SourceText]:
    """Texts to distill: a ``.jsonl`` file holds one per line (``text_field``); any other file is one text."""
    texts: list[SourceText] = []
    for path in paths:
        if path.suffix.lower() == ".jsonl":
            for number, record, text in iter_text_records(path, text_field, "--text-field"):
                key = record.get(id_field) if id_field else None
                name = f"{path}#{key}" if key is not None else f"{path}:{number}"
                if text.strip():
                    texts.append(SourceText(name, text))
            continue
        if path.is_file() and path.stat().st_size > MAX_SOURCE_BYTES:
            raise InputError(f"{path} is over {MAX_SOURCE_BYTES >> 20} MB: split it or use JSONL")
        text = read_text(path, "source file", folder_hint=True)
        if text.strip():
            texts.append(SourceText(str(path), text))
    return texts


def distill_jobs(
    sources: Sequence[SourceText],
    instruction: Instruction,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    encoding: str = DEFAULT_ENCODING,
) -> list[Job]:
    """One request per chunk. The id covers the chunk's text and the instruction, so a rerun
    with another chunk size or instruction never mistakes an old answer for its own."""
    counter = tiktoken_counter(encoding)
    jobs: list[Job] = []
    for source in sources:
        for index, chunk in enumerate(chunk_text(source.text, chunk_tokens, counter)):
            fields = {"source": source.source, "chunk": index, "instruction_id": instruction.id, "original": chunk.text}
            job_id = stable_id(source.source, str(index), chunk.text, instruction.id)
            jobs.append(Job(job_id, instruction.messages(chunk.text), fields))
    return jobs


def distill(
    jobs: Sequence[Job],
    teacher: Teacher,
    output: Path,
    *,
    errors: Path | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
    progress: Progress | None = None,
) -> RunSummary:
    """Ask the teacher for each chunk's compression (see :func:`runner.run_jobs`)."""
    return run_jobs(jobs, teacher, output, result_field="compressed", errors=errors, options=options, progress=progress)


@dataclass(frozen=True)
class LabelOptions:
    rule: QualityFilter = field(default_factory=QualityFilter)
    window: int = DEFAULT_WINDOW
    # A compression cut by the teacher's token limit labels its missing tail "drop" as if
    # deleted on purpose: such records are left out unless asked for.
    keep_truncated: bool = False


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def label(raw_paths: Sequence[Path], output: Path, options: LabelOptions = LabelOptions()) -> dict[str, Any]:
    """Align raw teacher answers to word labels, filter, and write the labelled dataset.

    Means are over every aligned sample (how the teacher did); ``dataset_keep_rate`` is the
    share of words labelled keep in what was written (what the classifier will learn).
    """
    started = time.perf_counter()
    seen: set[str] = set()
    records: list[dict[str, Any]] = []
    alignments: list[Alignment] = []
    duplicates = truncated = empty = total = 0
    for path in raw_paths:
        for number, record in iter_jsonl(path, tolerate_torn_tail=True):
            total += 1
            original, compressed = record.get("original"), record.get("compressed")
            if not isinstance(original, str) or not isinstance(compressed, str):
                raise InputError(f"{path}:{number}: not a distill record (needs 'original' and 'compressed' strings)")
            record_id = str(record.get("id") or f"{path}:{number}")
            if record_id in seen:
                duplicates += 1
                continue
            seen.add(record_id)
            if record.get("finish_reason") == "length" and not options.keep_truncated:
                truncated += 1
                continue
            if not compressed.strip() or not original.strip():
                empty += 1
                continue
            records.append({**record, "id": record_id})
            alignments.append(align_labels(original, compressed, options.window))
    report = filter_alignments(alignments, options.rule)
    samples = [
        LabelledSample.from_alignment(
            alignments[i],
            source=records[i].get("source"),
            chunk=records[i].get("chunk"),
            teacher=records[i].get("teacher"),
            instruction_id=records[i].get("instruction_id"),
            id=records[i]["id"],
        )
        for i in report.kept
    ]
    written = write_samples(output, samples)
    kept_words = sum(sum(s.labels) for s in samples)
    all_words = sum(len(s.labels) for s in samples)
    return {
        "output": str(output),
        "records": total,
        "duplicates": duplicates,
        "skipped_truncated": truncated,
        "skipped_empty": empty,
        "aligned": len(alignments),
        "dropped_variation": report.dropped_variation,
        "dropped_gap": report.dropped_gap,
        "filtered_share": round(report.dropped_share, 4),
        "written": written,
        "mean_keep_rate": _mean([a.matching_rate for a in alignments]),
        "mean_variation_rate": _mean([a.variation_rate for a in alignments]),
        "mean_alignment_gap": _mean([a.alignment_gap for a in alignments]),
        "variation_threshold": round(report.variation_threshold, 4),
        "gap_threshold": round(report.gap_threshold, 4),
        "dataset_keep_rate": round(kept_words / all_words, 4) if all_words else 0.0,
        "seconds": round(time.perf_counter() - started, 3),
    }
