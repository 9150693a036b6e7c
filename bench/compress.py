"""Speed and memory: Lingua vs the reference vs a bare forward pass, one table from one run.

Every cell is measured in its own child process, so peak RSS belongs to that run alone
(model included, model loading excluded from the seconds). Both sides use the embedded
SmolLM2 in the same dtype (bf16 by default; the reference takes it through
``model_config={"torch_dtype": ...}``) and the same settings:

- plain: LLMLingua, the reference's ``compress_prompt`` defaults;
- question-aware: LongLLMLingua with the settings its README recommends (contrastive
  perplexity, documents sorted by relevance, dynamic ratio 0.3, budget +100).

    .venv/bin/python bench/compress.py [--rate 0.33] [--repeats 5] [--prompts gsm8k rag10k] [--dtype bf16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.children import peak_rss_mb, run_child  # noqa: E402

SIDES = ("bare", "reference", "lingua")


def _dtype(name: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp32": torch.float32}[name]


def build_side(side: str, prompt_name: str, mode: str, rate: float, dtype: str) -> Callable[[], dict[str, Any]]:
    """Load one side and return its compression as a call (model loading happens here, untimed)."""
    import torch

    from bench.data import load_prompt
    from lingua_core.embedded import embedded_model_dir

    torch.manual_seed(0)
    prompt = load_prompt(prompt_name)
    model_dir = embedded_model_dir()
    question_aware = mode == "question-aware"
    if side == "reference":
        from bench.reference import load_reference
        from bench.run_reference import QUESTION_AWARE

        ref = load_reference(model_dir, dtype=_dtype(dtype))
        kwargs: dict[str, Any] = dict(QUESTION_AWARE) if question_aware else {}

        def compress_reference() -> dict[str, Any]:
            out = ref.compress_prompt(
                prompt.contexts, instruction=prompt.instruction, question=prompt.question, rate=rate, **kwargs
            )
            return {
                "compressed_tokens": out["compressed_tokens"],
                "origin_tokens": out["origin_tokens"],
                "text": out["compressed_prompt"],
            }

        return compress_reference
    if side == "lingua":
        from lingua_core import Compressor, LLMLinguaOptions, Prompt, ProtectOptions, Reorder

        compressor = Compressor.load(str(model_dir), dtype=_dtype(dtype))
        # the reference keeps no negations, headings or role lines
        protect = ProtectOptions(keep_negations=False, keep_headings=False, keep_role_markers=False)
        options = (
            LLMLinguaOptions(reorder=Reorder.SORT, dynamic_ratio=0.3, protect=protect)
            if question_aware
            else LLMLinguaOptions(protect=protect)
        )
        structured = Prompt(tuple(prompt.contexts), prompt.instruction, prompt.question)

        def compress_lingua() -> dict[str, Any]:
            result = compressor.compress(
                structured,
                rate=rate,
                method="longllmlingua" if question_aware else "llmlingua",
                encoding="cl100k_base",
                options=options,
            )
            return {
                "compressed_tokens": result.compressed_tokens,
                "origin_tokens": result.origin_tokens,
                "text": result.compressed_text,
            }

        return compress_lingua
    # the floor: one forward over the prompt's tokens, in context-window-sized calls
    from lingua_core.models import load_model

    lm = load_model(str(model_dir), dtype=_dtype(dtype))
    ids = torch.tensor(lm.tokenizer(prompt.text()).input_ids)

    def forward_bare() -> dict[str, Any]:
        with torch.inference_mode():
            for start in range(0, ids.shape[0], lm.max_positions):
                lm.model(ids[None, start : start + lm.max_positions])
        return {"compressed_tokens": 0, "origin_tokens": int(ids.shape[0]), "text": ""}

    return forward_bare


def time_interleaved(prompt_name: str, mode: str, rate: float, dtype: str, repeats: int) -> dict[str, Any]:
    """All three sides in one process, timed in turn, round after round; the minimum of each.

    This host is shared: the same matrix product runs at 200 or 900 GMAC/s from one second
    to the next. Timing the sides in separate processes, minutes apart, let that drift into
    the ratios; interleaving them exposes every side to the same conditions.
    """
    sides = {side: build_side(side, prompt_name, mode, rate, dtype) for side in SIDES}
    outputs = {side: run() for side, run in sides.items()}  # warm-up
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(repeats):
        for side, run in sides.items():
            started = time.perf_counter()
            outputs[side] = run()
            times[side].append(time.perf_counter() - started)
    from bench.data import load_prompt

    prompt = load_prompt(prompt_name)
    return {
        side: {
            "seconds": min(times[side]),
            "median_seconds": statistics.median(times[side]),
            "compressed_tokens": outputs[side]["compressed_tokens"],
            "origin_tokens": outputs[side]["origin_tokens"],
            "answer_kept": bool(prompt.answer) and prompt.answer in outputs[side]["text"],
        }
        for side in SIDES
    }


def peak_of(side: str, prompt_name: str, mode: str, rate: float, dtype: str) -> dict[str, Any]:
    """Runs inside a child: one side alone, one warm-up and one compression; its peak RSS."""
    run = build_side(side, prompt_name, mode, rate, dtype)
    run()
    run()
    return {"peak_rss_mb": peak_rss_mb()}


def child(kind: str, *args: str) -> dict[str, Any]:
    return run_child(__file__, kind, *args)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, prompt_name, mode, rate, dtype, repeats = sys.argv[2:8]
        if kind == "timing":
            print(json.dumps(time_interleaved(prompt_name, mode, float(rate), dtype, int(repeats))))
        else:
            print(json.dumps(peak_of(kind, prompt_name, mode, float(rate), dtype)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.33)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--prompts", nargs="+", default=["gsm8k", "rag10k"])
    parser.add_argument("--modes", nargs="+", default=["plain", "question-aware"])
    args = parser.parse_args()
    print(
        f"rate {args.rate}, {args.dtype}; the three sides timed in turn in one process, {args.repeats} rounds after "
        "a warm-up, min (and median) of each; seconds exclude model loading; peak RSS from one child per side",
        file=sys.stderr,
    )
    header = (
        "prompt",
        "mode",
        "LM tokens",
        "bare fwd s",
        "reference s",
        "lingua s",
        "lingua/ref",
        "lingua/bare",
        "median lingua/ref",
        "median lingua/bare",
        "ref RSS MB",
        "lingua RSS MB",
        "ref tokens",
        "lingua tokens",
        "answer kept ref/lingua",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for prompt_name in args.prompts:
        for mode in args.modes:
            common = (prompt_name, mode, str(args.rate), args.dtype, str(args.repeats))
            timing = child("timing", *common)
            bare, ref, ours = timing["bare"], timing["reference"], timing["lingua"]
            rss = {side: child(side, *common)["peak_rss_mb"] for side in ("reference", "lingua")}
            cells = (
                prompt_name,
                mode,
                bare["origin_tokens"],
                f"{bare['seconds']:.2f}",
                f"{ref['seconds']:.2f}",
                f"{ours['seconds']:.2f}",
                f"{ours['seconds'] / ref['seconds']:.2f}",
                f"{ours['seconds'] / bare['seconds']:.2f}",
                f"{ours['median_seconds'] / ref['median_seconds']:.2f}",
                f"{ours['median_seconds'] / bare['median_seconds']:.2f}",
                f"{rss['reference']:.0f}",
                f"{rss['lingua']:.0f}",
                ref["compressed_tokens"],
                ours["compressed_tokens"],
                f"{ref['answer_kept']}/{ours['answer_kept']}",
            )
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
            print(lines[-1], file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
