"""Speed and memory: Lingua vs the reference vs a bare forward pass, one table from one run.

Every cell is measured in its own child process, so peak RSS belongs to that run alone
(model included, model loading excluded from the seconds). Both sides use the embedded
SmolLM2 in the same dtype (bf16 by default; the reference takes it through
``model_config={"torch_dtype": ...}``) and the same settings:

- plain: LLMLingua, the reference's ``compress_prompt`` defaults;
- question-aware: LongLLMLingua with the settings its README recommends (contrastive
  perplexity, documents sorted by relevance, dynamic ratio 0.3, budget +100).

    .venv/bin/python bench/compress.py [--rate 0.33] [--repeats 2] [--prompts gsm8k rag10k] [--dtype bf16]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.children import peak_rss_mb, run_child  # noqa: E402


def _dtype(name: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp32": torch.float32}[name]


def run_one(side: str, prompt_name: str, mode: str, rate: float, dtype: str, repeats: int) -> dict[str, Any]:
    """Runs inside the child: load, warm up once, time ``repeats`` compressions, report."""
    import torch

    from bench.data import load_prompt
    from lingua_core.embedded import embedded_model_dir

    torch.manual_seed(0)
    prompt = load_prompt(prompt_name)
    model_dir = embedded_model_dir()
    question_aware = mode == "question-aware"
    if side == "reference":
        from bench.reference import load_reference

        ref = load_reference(model_dir, dtype=_dtype(dtype))
        from bench.run_reference import QUESTION_AWARE

        kwargs: dict[str, Any] = dict(QUESTION_AWARE) if question_aware else {}

        def compress() -> dict[str, Any]:
            out = ref.compress_prompt(
                prompt.contexts, instruction=prompt.instruction, question=prompt.question, rate=rate, **kwargs
            )
            return {
                "compressed_tokens": out["compressed_tokens"],
                "origin_tokens": out["origin_tokens"],
                "text": out["compressed_prompt"],
            }
    elif side == "lingua":
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

        def compress() -> dict[str, Any]:
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
    else:  # the floor: one forward over the prompt's tokens, in context-window-sized calls
        from lingua_core.models import load_model

        lm = load_model(str(model_dir), dtype=_dtype(dtype))
        ids = torch.tensor(lm.tokenizer(prompt.text()).input_ids)

        def compress() -> dict[str, Any]:
            with torch.inference_mode():
                for start in range(0, ids.shape[0], lm.max_positions):
                    lm.model(ids[None, start : start + lm.max_positions])
            return {"compressed_tokens": 0, "origin_tokens": int(ids.shape[0]), "text": ""}

    compress()  # warm-up: first-call allocations and lazy kernels are not what users wait for
    times, out = [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        out = compress()
        times.append(time.perf_counter() - started)
    peak_mb = peak_rss_mb()
    answer_kept = bool(prompt.answer) and prompt.answer in out["text"]
    return {
        "seconds": min(times),
        "peak_rss_mb": peak_mb,
        "compressed_tokens": out["compressed_tokens"],
        "origin_tokens": out["origin_tokens"],
        "answer_kept": answer_kept,
    }


def child(side: str, prompt_name: str, mode: str, rate: float, dtype: str, repeats: int) -> dict[str, Any]:
    return run_child(__file__, side, prompt_name, mode, str(rate), dtype, str(repeats))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        side, prompt_name, mode, rate, dtype, repeats = sys.argv[2:8]
        print(json.dumps(run_one(side, prompt_name, mode, float(rate), dtype, int(repeats))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.33)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    parser.add_argument("--prompts", nargs="+", default=["gsm8k", "rag10k"])
    parser.add_argument("--modes", nargs="+", default=["plain", "question-aware"])
    args = parser.parse_args()
    print(
        f"rate {args.rate}, {args.dtype}, min of {args.repeats} runs after a warm-up; seconds exclude model loading",
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
        "ref RSS MB",
        "lingua RSS MB",
        "ref tokens",
        "lingua tokens",
        "answer kept ref/lingua",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for prompt_name in args.prompts:
        bare = child("bare", prompt_name, "plain", args.rate, args.dtype, args.repeats)
        for mode in args.modes:
            ref = child("reference", prompt_name, mode, args.rate, args.dtype, args.repeats)
            ours = child("lingua", prompt_name, mode, args.rate, args.dtype, args.repeats)
            cells = (
                prompt_name,
                mode,
                bare["origin_tokens"],
                f"{bare['seconds']:.2f}",
                f"{ref['seconds']:.2f}",
                f"{ours['seconds']:.2f}",
                f"{ours['seconds'] / ref['seconds']:.2f}",
                f"{ours['seconds'] / bare['seconds']:.2f}",
                f"{ref['peak_rss_mb']:.0f}",
                f"{ours['peak_rss_mb']:.0f}",
                ref["compressed_tokens"],
                ours["compressed_tokens"],
                f"{ref['answer_kept']}/{ours['answer_kept']}",
            )
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
            print(lines[-1], file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
