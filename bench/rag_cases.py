"""The retention benchmark's prompts: NQ, key-value and near-duplicate cases in the three parts
every side takes, and whether a compression still holds the answer.

Apart from the sides and the report, so that a case and its scoring read the same wherever
they are used: by the run, by stored outputs and by the tables.
"""

from __future__ import annotations

import ast
import gzip
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data import _kv_contexts, shared_data_dir
from bench.near_duplicates import cases as near_duplicate_cases

ENCODING = "o200k_base"
SEPARATOR = "\n\n"  # how instruction, contexts and question are joined, by every side
DUP_CASES = 60
NQ_INSTRUCTION = (
    "Write a high-quality answer for the given question using only the provided search results "
    "(some of which might be irrelevant)."
)
KV_INSTRUCTION = "Extract the value corresponding to the specified key in the JSON object below."


@dataclass(frozen=True)
class Case:
    """One prompt in the three parts every side takes, with its accepted answers."""

    dataset: str
    name: str
    group: str  # the slice it is reported in besides "all": NQ's gold position, the record kind
    instruction: str
    contexts: tuple[str, ...]
    question: str
    answers: tuple[str, ...]
    answer_context: int  # index of the context that holds the answer

    @property
    def text(self) -> str:
        return SEPARATOR.join(p for p in (self.instruction, *self.contexts, self.question) if p)


@dataclass
class Output:
    """One side's compression of one case."""

    text: str
    seconds: float
    spans: tuple[tuple[int, int], ...] = ()  # Lingua: kept character ranges of ``Case.text``
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# --- data ---------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _interleave(groups: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row of each group in turn, so any prefix keeps the groups balanced."""
    queues = [list(g) for g in groups]
    out: list[dict[str, Any]] = []
    while any(queues):
        out.extend(q.pop(0) for q in queues if q)
    return out


def load_nq(limit: int | None) -> list[Case]:
    """NQ rows, stratified by gold position when limited (the file has 106/106/88 rows at 0/9/19)."""
    rows = _jsonl(shared_data_dir() / "rag" / "nq-open-20doc-dev.jsonl.gz")
    if limit is not None:
        by_position: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_position[row["gold_index"]].append(row)
        rows = _interleave(by_position[p] for p in sorted(by_position))[:limit]
    return [
        Case(
            "nq",
            row["id"],
            f"gold@{row['gold_index']}",
            NQ_INSTRUCTION,
            tuple(f"Document [{i}](Title: {d['title']}) {d['text']}" for i, d in enumerate(row["documents"], 1)),
            f"Question: {row['question']}\nAnswer:",
            tuple(row["answers"]),
            row["gold_index"],
        )
        for row in rows
    ]


def load_kv(limit: int | None) -> list[Case]:
    rows = _jsonl(shared_data_dir() / "rag" / "kv-retrieval-75_keys.jsonl.gz")[:limit]
    cases = []
    for i, row in enumerate(rows):
        records = row["ordered_kv_records"]
        if isinstance(records, str):  # some exports hold the list as a Python literal
            records = ast.literal_eval(records)
        context = "JSON data:\n" + "\n".join(_kv_contexts(records))
        question = f'Key: "{row["key"]}"\nCorresponding value:'
        cases.append(Case("kv", f"kv75[{i}]", "", KV_INSTRUCTION, (context,), question, (row["value"],), 0))
    return cases


def load_dup(limit: int | None) -> list[Case]:
    return [
        Case("dup", c.name, c.kind, c.instruction, c.records, c.question, (c.answer,), c.target)
        for c in near_duplicate_cases(DUP_CASES if limit is None else limit)
    ]


LOADERS: dict[str, Callable[[int | None], list[Case]]] = {"nq": load_nq, "kv": load_kv, "dup": load_dup}


# --- scoring ------------------------------------------------------------------------------------


def context_part(text: str, case: Case) -> str:
    """The compressed contexts: the output without the instruction and question every side keeps."""
    start = len(case.instruction) if case.instruction and text.startswith(case.instruction) else 0
    end = len(text) - len(case.question) if case.question and text.endswith(case.question) else len(text)
    return text[start:end]


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def kept(text: str, case: Case) -> tuple[bool, bool]:
    """(an answer survives verbatim, an answer survives up to case and whitespace)."""
    body = context_part(text, case)
    flat = normalize(body)
    return any(a in body for a in case.answers), any(normalize(a) in flat for a in case.answers)
