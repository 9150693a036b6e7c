"""Evaluation prompts from ``shared/data``, split into instruction / contexts / question.

Both the reference and Lingua take a prompt in these three parts (contexts are what gets
compressed and, when there are several, ranked/filtered), so every benchmark prompt is built
once here and fed identically to both. ``EvalPrompt.text()`` is the uncompressed prompt the way
the reference joins it (``"\\n\\n"`` between parts).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BBH_TASKS = ("date_understanding", "object_counting", "penguins_in_a_table")


@dataclass
class EvalPrompt:
    """One benchmark prompt; ``answer`` is the gold answer when the data set has one."""

    name: str
    instruction: str
    contexts: list[str]
    question: str
    answer: str | None = None

    def text(self) -> str:
        """The full prompt as the reference assembles it before compression."""
        parts = [self.instruction, *self.contexts, self.question]
        return "\n\n".join(p for p in parts if p)


def shared_data_dir() -> Path:
    """``shared/data`` next to the repo, or ``LINGUA_SHARED_DATA``."""
    explicit = os.environ.get("LINGUA_SHARED_DATA")
    if explicit:
        return Path(explicit).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _jsonl_row(path: Path, index: int) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == index:
                return json.loads(line)
    raise IndexError(f"{path} has no row {index}")


def gsm8k(index: int = 0) -> EvalPrompt:
    """LLMLingua's 8-shot GSM8K CoT prompt: one context per demonstration, plus a test question.

    The demonstrations in ``prompt_hardest.txt`` are separated by one blank line before each
    ``Question:``; the test question is phrased the same way so it reads like a ninth demo.
    """
    root = shared_data_dir() / "gsm8k"
    raw = (root / "prompt_hardest.txt").read_text(encoding="utf-8").strip()
    demos = [d.strip() for d in re.split(r"\n\s*\n(?=Question:)", raw)]
    row = _jsonl_row(root / "test.jsonl", index)
    answer = row["answer"].split("####")[-1].strip()
    question = f"Question: {row['question']}\nLet's think step by step"
    return EvalPrompt(f"gsm8k[{index}]", "", demos, question, answer)


def bbh(task: str, index: int = 0) -> EvalPrompt:
    """A BBH 3-shot CoT prompt: instruction line(s), ``Q:``/``A:`` demos as contexts, a task question.

    The files start with a canary line and ``-----``, which are not part of the prompt.
    """
    root = shared_data_dir() / "bbh"
    raw = (root / "cot-prompts" / f"{task}.txt").read_text(encoding="utf-8")
    if "\n-----\n" in raw[:300]:
        raw = raw.split("\n-----\n", 1)[1]
    blocks = [b.strip() for b in re.split(r"\n\s*\n(?=Q:)", raw.strip())]
    instruction, demos = blocks[0], blocks[1:]
    if instruction.startswith("Q:"):  # no instruction line in this file
        instruction, demos = "", blocks
    example = json.loads((root / "tasks" / f"{task}.json").read_text(encoding="utf-8"))["examples"][index]
    question = f"Q: {example['input']}\nA: Let's think step by step."
    return EvalPrompt(f"bbh/{task}[{index}]", instruction, demos, question, example["target"])


_KV_INSTRUCTION = "Extract the value corresponding to the specified key in the JSON object below."


def _kv_contexts(records: list[list[str]]) -> list[str]:
    """One context per record, with the JSON framing of lost-in-the-middle's ``kv_retrieval.prompt``.

    ``"\\n".join`` of these is exactly that template's ``{formatted_kv_records}``.
    """
    last = len(records) - 1
    return [
        ("{" if i == 0 else " ") + f'"{k}": "{v}"' + ("," if i != last else "}") for i, (k, v) in enumerate(records)
    ]


def kv_retrieval(index: int = 0) -> EvalPrompt:
    """A 75-pair key-value retrieval prompt (lost-in-the-middle); the exact value must survive."""
    row = _jsonl_row(shared_data_dir() / "rag" / "kv-retrieval-75_keys.jsonl.gz", index)
    return EvalPrompt(
        f"kv75[{index}]",
        f"{_KV_INSTRUCTION}\n\nJSON data:",
        _kv_contexts(row["ordered_kv_records"]),
        f'Key: "{row["key"]}"\nCorresponding value:',
        row["value"],
    )


def rag_kv_long(records: int = 200, index: int = 0) -> EvalPrompt:
    """A long RAG-style prompt: KV rows merged into one JSON object, ``records`` pairs in all.

    200 records is ~10k GPT (cl100k) tokens, ~14k SmolLM2 tokens: past SmolLM2's 8,192 positions,
    so it also exercises the reference's KV-cache eviction path. The asked-for key comes from row
    ``index``, whose 75 records sit whole in the middle of the list (the hard case in
    lost-in-the-middle); neighbouring rows fill the rest.
    """
    path = shared_data_dir() / "rag" / "kv-retrieval-75_keys.jsonl.gz"
    gold = _jsonl_row(path, index)
    fill: list[list[str]] = []
    row = index + 1
    while len(fill) < records - len(gold["ordered_kv_records"]):
        fill.extend(_jsonl_row(path, row)["ordered_kv_records"])
        row += 1
    fill = fill[: max(0, records - len(gold["ordered_kv_records"]))]
    half = len(fill) // 2
    merged = fill[:half] + gold["ordered_kv_records"] + fill[half:]
    keys = [k for k, _ in merged]
    assert len(keys) == len(set(keys)), "duplicate keys across merged rows"
    return EvalPrompt(
        f"rag_kv{len(merged)}[{index}]",
        f"{_KV_INSTRUCTION}\n\nJSON data:",
        _kv_contexts(merged),
        f'Key: "{gold["key"]}"\nCorresponding value:',
        gold["value"],
    )


PROMPTS: dict[str, Callable[[], EvalPrompt]] = {
    "gsm8k": gsm8k,
    "kv75": kv_retrieval,
    "rag10k": rag_kv_long,
    **{f"bbh/{t}": (lambda t=t: bbh(t)) for t in DEFAULT_BBH_TASKS},
}


def load_prompt(name: str) -> EvalPrompt:
    """Look a prompt up by its short name (see ``PROMPTS``)."""
    try:
        return PROMPTS[name]()
    except KeyError:
        raise KeyError(f"unknown prompt {name!r}; choose from {sorted(PROMPTS)}") from None


def publish(text: str, out: Path | None) -> None:
    """A bench's table to stdout, and to ``out`` when given (for the README and bench/results)."""
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
