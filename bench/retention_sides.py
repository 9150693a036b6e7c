"""The compressors the retention benchmark compares, each behind one call: Lingua, the reference
and random word dropping.

Every side takes a case, a rate and the token count the random side drops to, and returns an
``Output``, so the run treats them alike and one failing prompt does not end it.
"""

from __future__ import annotations

import random
import re
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any

from bench.rag_cases import ENCODING, SEPARATOR, Case, Output
from lingua_core.tokens import count_tokens

RANDOM_SEED = 2026

Side = Callable[[Case, float, int], Output]  # (case, rate, the token count the random side drops to)


def guarded(name: str, side: Side) -> Side:
    """A side's failure on one prompt becomes a lost answer and an error count, not a crashed run."""

    def run(case: Case, rate: float, target: int) -> Output:
        try:
            return side(case, rate, target)
        except Exception as error:
            print(f"  {name} failed on {case.name}: {type(error).__name__}: {error}", file=sys.stderr)
            return Output("", 0.0, error=f"{type(error).__name__}: {error}")

    return run


def lingua_side(compressor: Any, options: Any) -> Side:
    from lingua_core import Prompt

    def compress(case: Case, rate: float, _target: int) -> Output:
        prompt = Prompt(contexts=case.contexts, instruction=case.instruction, question=case.question)
        started = time.perf_counter()
        result = compressor.compress(prompt, rate=rate, method="longllmlingua", options=options)
        seconds = time.perf_counter() - started
        return Output(result.compressed_text, seconds, result.kept_spans, dict(result.details))

    return compress


def reference_side(dtype: str) -> Side:
    import torch

    from bench.reference import load_reference
    from bench.run_reference import reference_settings
    from lingua_core.embedded import embedded_model_dir

    reference = load_reference(embedded_model_dir(), dtype={"bf16": torch.bfloat16, "fp32": torch.float32}[dtype])
    settings = reference_settings(question_aware=True)

    def compress(case: Case, rate: float, _target: int) -> Output:
        started = time.perf_counter()
        out = reference.compress_prompt(
            list(case.contexts), instruction=case.instruction, question=case.question, rate=rate, **settings
        )
        return Output(out["compressed_prompt"], time.perf_counter() - started)

    return compress


def random_drop(case: Case, target_tokens: int, seed: int) -> str:
    """Drop whole words of the contexts in a seeded random order until the prompt, instruction and
    question whole, costs at most ``target_tokens``; the number dropped is found by bisection."""
    body = SEPARATOR.join(case.contexts)
    words = [m.span() for m in re.finditer(r"\S+\s*", body)]
    order = list(range(len(words)))
    random.Random(seed).shuffle(order)

    def build(dropped: int) -> str:
        gone = set(order[:dropped])
        kept_body = "".join(body[s:e] for i, (s, e) in enumerate(words) if i not in gone).strip()
        return SEPARATOR.join(p for p in (case.instruction, kept_body, case.question) if p)

    low, high = 0, len(words)
    while low < high:
        middle = (low + high) // 2
        if count_tokens(build(middle), ENCODING) <= target_tokens:
            high = middle
        else:
            low = middle + 1
    return build(low)


def random_side(case: Case, _rate: float, target: int) -> Output:
    started = time.perf_counter()
    text = random_drop(case, target, RANDOM_SEED ^ zlib.crc32(case.name.encode()))
    return Output(text, time.perf_counter() - started)
