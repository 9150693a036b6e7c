"""Distillation smoke run: a local teacher compresses a few GSM8K questions, then labelling.

Runs the whole LLMLingua-2 data path offline (chunking, the default instruction, the
resumable runner, alignment, the quality filter, the labelled dataset) with the embedded
SmolLM2 as teacher. A 135M model is a poor teacher: it rewords and invents, so expect high
variation rates; the point is that every step runs and every number is computed. Prints one
row per chunk and a summary; files go to a temporary folder unless ``--out`` is given.

    .venv/bin/python scripts/distill_smoke.py [--texts 2] [--teacher embedded] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingua_core.tokens import count_tokens
from lingua_core.train.align_labels import align_labels
from lingua_core.train.distill import SourceText, distill, distill_jobs, label
from lingua_core.train.instructions import DEFAULT_INSTRUCTION
from lingua_core.train.runner import RunOptions
from lingua_core.train.teachers import LocalTeacher

SHARED = Path(__file__).resolve().parents[2] / "shared"
GSM8K = SHARED / "data" / "gsm8k" / "prompt_hardest.txt"


def questions(count: int) -> list[SourceText]:
    """The question lines of the first few demonstrations: short, fact-dense texts."""
    lines = [line for line in GSM8K.read_text(encoding="utf-8").splitlines() if line.startswith("Question:")]
    return [SourceText(f"gsm8k/prompt_hardest.txt#q{n}", line) for n, line in enumerate(lines[:count])]


def run(out: Path, texts: int, teacher_spec: str, max_tokens: int) -> None:
    raw, dataset = out / "raw.jsonl", out / "labelled.jsonl"
    jobs = distill_jobs(questions(texts), DEFAULT_INSTRUCTION, chunk_tokens=128)
    summary = distill(jobs, LocalTeacher(teacher_spec), raw, options=RunOptions(max_tokens=max_tokens))
    print(f"distill: {json.dumps(summary.to_dict())}\n")
    print("| chunk | tokens | compressed tokens | keep rate | variation rate | alignment gap | finish | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for line in raw.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        a = align_labels(record["original"], record["compressed"])
        print(
            f"| {record['source'].rsplit('#', 1)[-1]}.{record['chunk']} | {count_tokens(record['original'])} | "
            f"{count_tokens(record['compressed'])} | {a.matching_rate:.3f} | {a.variation_rate:.3f} | "
            f"{a.alignment_gap:.3f} | {record['finish_reason']} | {record['seconds']:.1f} |"
        )
    report = label([raw], dataset)
    columns = "records | truncated (skipped) | written | mean keep rate | mean variation rate | mean alignment gap"
    print(f"\n| {columns} | filtered share | s |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {report['records']} | {report['skipped_truncated']} | {report['written']} | "
        f"{report['mean_keep_rate']:.3f} | "
        f"{report['mean_variation_rate']:.3f} | {report['mean_alignment_gap']:.3f} | "
        f"{report['filtered_share']:.3f} | {summary.seconds + report['seconds']:.1f} |"
    )
    for line in raw.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        print(f"\noriginal:   {record['original']}\ncompressed: {record['compressed']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--texts", type=int, default=2, help="GSM8K questions to distill (2)")
    parser.add_argument("--teacher", default="embedded", help="local teacher model spec (embedded)")
    parser.add_argument("--max-tokens", type=int, default=96, help="teacher tokens per chunk (96)")
    parser.add_argument("--out", type=Path, help="keep raw.jsonl and labelled.jsonl here")
    args = parser.parse_args()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        run(args.out, args.texts, args.teacher, args.max_tokens)
        return
    with tempfile.TemporaryDirectory(prefix="lingua-distill-") as tmp:
        run(Path(tmp), args.texts, args.teacher, args.max_tokens)


if __name__ == "__main__":
    main()
