"""Check that the transformers-5 KV-cache shim in ``bench/reference.py`` leaves the reference's numbers intact.

Not part of the test suite (needs the model folder and the installed reference). Asserts:
1. the reference ``get_ppl(..., granularity="token")`` on a ~600-token text equals a plain HF
   forward's per-token cross-entropy, bit for bit (same kernels, same input);
2. the cached path the reference uses in its iterative loop (first chunk, then the rest with the
   returned tuple cache, re-sliced as the reference does) equals the same two chunks run through
   transformers 5's native ``DynamicCache``, bit for bit, and the one-shot losses to within
   dtype rounding (bf16 logits are coarse: chunked attention sums in another order).

Usage: python bench/check_reference_shim.py --model-dir DIR [--dtype bf16|fp32]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from transformers import DynamicCache

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import shared_data_dir
from reference import load_reference

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
# Chunked vs one-shot attention sums in a different order; allow dtype-level rounding only.
CHUNK_TOL = {"bf16": 0.5, "fp32": 1e-3}


def main() -> None:
    """Run both checks and print the largest differences."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--tokens", type=int, default=600)
    args = ap.parse_args()

    ref = load_reference(args.model_dir, dtype=DTYPES[args.dtype])
    pc, tok, model = ref.inner, ref.inner.tokenizer, ref.inner.model
    source = (shared_data_dir() / "gsm8k" / "prompt_hardest.txt").read_text()
    text = tok.decode(tok(source, add_special_tokens=False).input_ids[: args.tokens])

    # 1. one-shot: reference vs plain HF forward (no cache, no shim involvement in inputs).
    ref_loss = pc.get_ppl(text, granularity="token")
    enc = tok(text, return_tensors="pt")
    hf_forward = type(model).forward  # the class's own forward, bypassing the shim on the instance
    with torch.no_grad():
        logits = hf_forward(model, enc.input_ids, attention_mask=enc.attention_mask, use_cache=False).logits
    plain = torch.nn.functional.cross_entropy(logits[0, :-1], enc.input_ids[0, 1:], reduction="none")
    n = enc.input_ids.shape[1]
    assert ref_loss.shape == plain.shape == (n - 1,), (ref_loss.shape, plain.shape, n)
    assert torch.equal(ref_loss, plain), (ref_loss - plain).abs().max()
    print(f"one-shot: {n} tokens, reference get_ppl == plain HF cross-entropy (exact)")

    # 2. cached continuation through the legacy-tuple interface the reference uses.
    half = n // 2
    ids, mask = enc.input_ids, enc.attention_mask
    first, past = pc.get_ppl("", "token", ids, mask, end=half, return_kv=True)
    assert isinstance(past, tuple) and isinstance(past[0], tuple) and past[0][0].shape[2] == half
    sliced = [[k[:, :, :half], v[:, :, :half]] for k, v in past]  # the reference re-slices lists
    rest = pc.get_ppl("", "token", ids, mask, past_key_values=sliced, return_kv=False)
    with torch.no_grad():
        cache = DynamicCache()
        hf_forward(model, ids[:, :half], attention_mask=mask[:, :half], past_key_values=cache, use_cache=True)
        tail = hf_forward(model, ids[:, half:], attention_mask=mask, past_key_values=cache, use_cache=True).logits
    native = torch.nn.functional.cross_entropy(tail[0, :-1], ids[0, half + 1 :], reduction="none")
    assert torch.equal(rest, native), (rest - native).abs().max()
    print("cached continuation: reference (tuple cache via shim) == native DynamicCache (exact)")
    chunked = torch.cat([first, plain[half - 1 : half], rest])  # boundary token is not scored by either call
    diff = (chunked - plain).abs()
    diff[half - 1] = 0
    print(f"chunked vs one-shot: max |diff| {diff.max().item():.2e}, mean {diff.mean().item():.2e} ({args.dtype})")
    assert diff.max().item() <= CHUNK_TOL[args.dtype]
    print(
        f"forward calls counted: {ref.stats.calls}, tokens fed {ref.stats.tokens_fed}, "
        f"cached attended {ref.stats.cached_tokens}"
    )
    print("OK")


if __name__ == "__main__":
    main()
