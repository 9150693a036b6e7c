"""Time the reference on one prompt against a bare one-call forward over the same tokens, per dtype.

The bare forward is the floor a compressor that scores every token once must pay; the gap to
the reference is what its repeated forwards (context ranking, a first full pass, re-forwarded
windows) and Python overhead cost. This machine's timings are noisy (shared host), so each
measurement is repeated and min and median are reported.

Usage: python bench/time_reference.py --model-dir DIR [--prompt gsm8k] [--rate 0.5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import PROMPTS, load_prompt
from reference import load_reference
from run_reference import DTYPES, run


def _summary(samples: list[float]) -> dict[str, float]:
    return {"min": round(min(samples), 3), "median": round(statistics.median(samples), 3)}


def time_dtype(
    model_dir: str, dtype_name: str, prompt_name: str, rate: float, repeats: int, question_aware: bool
) -> dict[str, Any]:
    """Reference compress_prompt vs a bare forward of the whole prompt, for one dtype."""
    ref = load_reference(model_dir, dtype=DTYPES[dtype_name])
    prompt = load_prompt(prompt_name)
    model, tok = ref.inner.model, ref.inner.tokenizer
    enc = tok(prompt.text(), return_tensors="pt")
    hf_forward = type(model).forward  # bypass the counting shim

    run(ref, prompt, rate, question_aware)  # warm-up (allocator, oneDNN kernels)
    ref_times, last = [], None
    for _ in range(repeats):
        last = run(ref, prompt, rate, question_aware)
        ref_times.append(last["seconds"])
    bare_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with torch.no_grad():
            hf_forward(model, enc.input_ids, attention_mask=enc.attention_mask, use_cache=False)
        bare_times.append(time.perf_counter() - t0)
    assert last is not None
    fwd = last["forward"]
    return {
        "dtype": dtype_name,
        "prompt_model_tokens": int(enc.input_ids.shape[1]),
        "reference_seconds": _summary(ref_times),
        "reference_forward_calls": fwd["calls"],
        "reference_tokens_fed": fwd["tokens_fed"],
        "reference_cached_tokens_attended": fwd["cached_tokens"],
        "reference_forward_seconds_last": fwd["forward_seconds"],
        "bare_forward_one_call_seconds": _summary(bare_times),
        "compressed_tokens": last["compressed_tokens"],
        "origin_tokens": last["origin_tokens"],
    }


def main() -> None:
    """CLI entry point: bf16 then fp32."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--prompt", default="gsm8k", choices=sorted(PROMPTS))
    ap.add_argument("--rate", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--question-aware", action="store_true")
    ap.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["bf16", "fp32"])
    args = ap.parse_args()
    results = [
        time_dtype(args.model_dir, d, args.prompt, args.rate, args.repeats, args.question_aware) for d in args.dtypes
    ]
    print(
        json.dumps(
            {
                "prompt": args.prompt,
                "rate": args.rate,
                "question_aware": args.question_aware,
                "torch_threads": torch.get_num_threads(),
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
