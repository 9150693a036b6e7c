"""Compress one benchmark prompt with the reference (llmlingua 0.2.2) and print JSON.

Plain mode is LLMLingua with its ``compress_prompt`` defaults (``rank_method="llmlingua"``, the
context-level filter on when there are several contexts, ``iterative_size=200``). Question-aware
mode is LongLLMLingua with the settings its README recommends. Output: the compressed prompt,
the reference's token counts (GPT cl100k), wall-clock seconds, and the model-forward accounting.

Usage: python bench/run_reference.py --model-dir DIR --prompt gsm8k --rate 0.5 [--question-aware] [--dtype bf16|fp32]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import PROMPTS, EvalPrompt, load_prompt
from reference import ReferenceCompressor, load_reference

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}

# LongLLMLingua README ("To try LongLLMLingua ..."), llmlingua 0.2.2 package description.
QUESTION_AWARE: dict[str, Any] = {
    "rank_method": "longllmlingua",
    "condition_in_question": "after_condition",
    "condition_compare": True,
    "reorder_context": "sort",
    "dynamic_context_compression_ratio": 0.3,
    "context_budget": "+100",
}


def reference_settings(question_aware: bool) -> dict[str, Any]:
    """Keyword arguments for ``compress_prompt`` in either mode (sentence filter always off)."""
    settings: dict[str, Any] = {"use_sentence_level_filter": False}
    if question_aware:
        settings.update(QUESTION_AWARE)
    else:
        settings["rank_method"] = "llmlingua"
    return settings


def run(ref: ReferenceCompressor, prompt: EvalPrompt, rate: float, question_aware: bool) -> dict[str, Any]:
    """Compress once, timing the whole call and counting model forwards."""
    settings = reference_settings(question_aware)
    ref.reset_stats()
    t0 = time.perf_counter()
    out = ref.compress_prompt(
        prompt.contexts,
        instruction=prompt.instruction,
        question=prompt.question,
        rate=rate,
        **settings,
    )
    seconds = time.perf_counter() - t0
    tok = ref.inner.tokenizer
    return {
        "prompt": prompt.name,
        "mode": "longllmlingua" if question_aware else "llmlingua",
        "rate": rate,
        "settings": settings,
        "seconds": round(seconds, 3),
        "origin_tokens": out["origin_tokens"],
        "compressed_tokens": out["compressed_tokens"],
        "achieved_rate": out["rate"],
        "model_tokens_in": len(tok(prompt.text(), add_special_tokens=False).input_ids),
        "model_tokens_out": len(tok(out["compressed_prompt"], add_special_tokens=False).input_ids),
        "answer_kept": (prompt.answer in out["compressed_prompt"]) if prompt.answer else None,
        "forward": ref.stats.as_dict(),
        "compressed_prompt": out["compressed_prompt"],
    }


def main() -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--prompt", default="gsm8k", choices=sorted(PROMPTS))
    ap.add_argument("--rate", type=float, default=0.5)
    ap.add_argument("--question-aware", action="store_true")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--torch-threads", type=int, default=0, help="0 keeps torch's default")
    args = ap.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    t0 = time.perf_counter()
    ref = load_reference(args.model_dir, dtype=DTYPES[args.dtype])
    load_seconds = time.perf_counter() - t0
    result = run(ref, load_prompt(args.prompt), args.rate, args.question_aware)
    result = {"dtype": args.dtype, "load_seconds": round(load_seconds, 3), **result}
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
