"""The retention benchmark's report: per-prompt scores, the summary table and the lost answers
shown with what was dropped around them.

Kept apart from the run so that the tables can be read and changed without the models.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.markdown_report import table
from bench.rag_cases import ENCODING, SEPARATOR, Case, Output, kept
from lingua_core.tokens import count_tokens


@dataclass(frozen=True)
class Score:
    case: Case
    rate: float
    side: str
    exact: bool
    normalized: bool
    origin: int
    compressed: int
    seconds: float | None
    error: bool


def score(case: Case, rate: float, outputs: dict[str, Output]) -> list[Score]:
    origin = count_tokens(case.text, ENCODING)
    scores = []
    for side, out in outputs.items():
        exact, normalized = kept(out.text, case)
        seconds = None if side == "uncompressed" else out.seconds
        compressed = count_tokens(out.text, ENCODING)
        scores.append(Score(case, rate, side, exact, normalized, origin, compressed, seconds, out.error is not None))
    return scores


def progress(dataset: str, rate: float, done: int, total: int, started: float, scores: list[Score]) -> None:
    tally: dict[str, int] = defaultdict(int)
    for s in scores:
        tally[s.side] += s.exact
    kept_so_far = ", ".join(f"{side} {n}/{done}" for side, n in tally.items())
    elapsed = time.perf_counter() - started
    print(
        f"{dataset} @ {rate:.2f}: {done}/{total} prompts, {elapsed:.0f} s; answer kept: {kept_so_far}", file=sys.stderr
    )


def share(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f}%)" if total else "-"


def summary_row(dataset: str, rate: float, group: str, side: str, scores: list[Score]) -> list[Any]:
    times = [s.seconds for s in scores if s.seconds is not None]
    origin = sum(s.origin for s in scores)
    return [
        dataset,
        f"{rate:.2f}",
        group,
        side,
        len(scores),
        share(sum(s.exact for s in scores), len(scores)),
        share(sum(s.normalized for s in scores), len(scores)),
        f"{sum(s.compressed for s in scores) / origin:.3f}" if origin else "-",
        f"{statistics.median(times):.2f}" if times else "-",
        f"{sum(times):.1f}" if times else "-",
        sum(s.error for s in scores),
    ]


def summary_table(scores: list[Score], sides: list[str]) -> list[str]:
    """One row per dataset, rate, slice (each group, then all) and side."""
    rows = []
    keys = list(dict.fromkeys((s.case.dataset, s.rate) for s in scores))
    for dataset, rate in keys:
        these = [s for s in scores if s.case.dataset == dataset and s.rate == rate]
        groups = sorted({s.case.group for s in these if s.case.group}, key=_group_order)
        for group in [*groups, "all"]:
            for side in sides:
                cell = [s for s in these if s.side == side and group in ("all", s.case.group)]
                rows.append(summary_row(dataset, rate, group, side, cell))
    header = [
        "dataset",
        "rate",
        "slice",
        "side",
        "n",
        "answer kept",
        "kept (normalized)",
        "reached rate",
        "s median",
        "s total",
        "errors",
    ]
    return table(header, rows)


def _group_order(group: str) -> tuple[int, str]:
    position = re.fullmatch(r"gold@(\d+)", group)
    return (int(position.group(1)), "") if position else (0, group)


# --- lost answers -------------------------------------------------------------------------------


def context_offset(case: Case, index: int) -> int:
    """Where context ``index`` starts in ``Case.text``."""
    start = len(case.instruction) + len(SEPARATOR) if case.instruction else 0
    return start + sum(len(c) + len(SEPARATOR) for c in case.contexts[:index])


def marked(text: str, spans: tuple[tuple[int, int], ...], start: int, end: int) -> str:
    """``text[start:end]`` with the words the compressor dropped shown as ``~~struck~~``."""
    pieces, position = [], start

    def dropped(run: str) -> str:
        core = run.strip()
        return run.replace(core, f"~~{core}~~") if core else run

    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        if s > position:
            pieces.append(dropped(text[position:s]))
        pieces.append(text[s:e])
        position = e
    if position < end:
        pieces.append(dropped(text[position:end]))
    return " ".join("".join(pieces).split())


def lost_examples(scores: list[Score], outputs: dict[tuple[str, float, str], Output], limit: int) -> list[str]:
    """Per dataset and Lingua row: how the lost answers were lost, and a few with their surroundings.

    Lost means the uncompressed prompt holds an answer and Lingua's output does not. The whole
    context dropped is the coarse ranking's fault; a kept context without the answer, the
    token-level step's."""
    held = {(s.case.name, s.rate) for s in scores if s.side == "uncompressed" and s.exact}
    lines: list[str] = []
    for dataset in dict.fromkeys(s.case.dataset for s in scores):
        for side in dict.fromkeys(s.side for s in scores if s.side.startswith("lingua")):
            lost = [
                s
                for s in scores
                if s.case.dataset == dataset and s.side == side and not s.exact and (s.case.name, s.rate) in held
            ]
            if not lost:
                continue
            dropped = [s for s in lost if s.case.answer_context not in _kept_contexts(outputs, s)]
            lines.append(
                f"- {dataset}, {side}: lost {len(lost)} (the whole context dropped: {len(dropped)}; "
                f"inside a kept context: {len(lost) - len(dropped)})."
            )
            for s in lost[:limit]:
                lines.append("  " + _example(s, outputs[(s.case.name, s.rate, side)]))
    return lines


def _kept_contexts(outputs: dict[tuple[str, float, str], Output], s: Score) -> list[int]:
    return list(outputs[(s.case.name, s.rate, s.side)].details.get("kept_contexts", []))


def _example(s: Score, out: Output) -> str:
    case = s.case
    begin = context_offset(case, case.answer_context)
    finish = begin + len(case.contexts[case.answer_context])
    found = [case.text.find(a, begin, finish) for a in case.answers]
    at = min((f for f in found if f >= 0), default=begin)
    start, end = max(begin, at - 220), min(finish, at + 220)
    where = "context kept" if case.answer_context in out.details.get("kept_contexts", []) else "context dropped"
    answers = " | ".join(case.answers[:3])
    question = " ".join(case.question.split())
    return (
        f"{case.name} @ {s.rate:.2f} ({where}); {question} -> {answers}: …{marked(case.text, out.spans, start, end)}…"
    )
