"""Word-level agreement of Lingua's LLMLingua with the reference, same model, same settings.

For each prompt and rate, both compress the same instruction/contexts/question; each
original word of the contexts is *kept* when any of its characters survives. The table
gives the share of words on which both agree, and each side's share of kept words, for
Lingua's raw algorithm (``exact_budget=False``, as the reference has no budget correction)
in its fast default (KV reuse) and in the exact re-forward mode.

    .venv/bin/python bench/fidelity.py [--rates 0.5 0.33] [--prompts gsm8k bbh/date_understanding ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import EvalPrompt, load_prompt  # noqa: E402
from bench.reference import load_reference  # noqa: E402
from lingua_core import Compressor, LLMLinguaOptions, Prompt  # noqa: E402
from lingua_core.embedded import embedded_model_dir  # noqa: E402
from lingua_core.methods.iterative import IterativeSettings, ThresholdPool  # noqa: E402
from lingua_core.pieces import tokenize  # noqa: E402

SEP = "\n\n"
DEFAULT_PROMPTS = ["gsm8k", "bbh/date_understanding", "bbh/object_counting", "bbh/penguins_in_a_table", "kv75"]


def word_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def words_kept(char_kept: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    return np.array([bool(char_kept[s:e].any()) for s, e in spans], dtype=bool)


def context_region(prompt: EvalPrompt) -> tuple[str, list[int]]:
    """The contexts joined as both implementations join them, and each one's start."""
    starts, position = [], 0
    for context in prompt.contexts:
        starts.append(position)
        position += len(context) + len(SEP)
    return SEP.join(prompt.contexts), starts


def ours_char_mask(prompt: EvalPrompt, result: Any) -> np.ndarray:
    """Lingua's kept spans are over the full prompt text; cut out the contexts' region."""
    full = prompt.text()
    mask = np.zeros(len(full), dtype=bool)
    for s, e in result.kept_spans:
        mask[s:e] = True
    offset = len(prompt.instruction) + len(SEP) if prompt.instruction else 0
    region, _ = context_region(prompt)
    return mask[offset : offset + len(region)]


def reference_char_mask(prompt: EvalPrompt, output: str, used: list[int], tokenizer: Any) -> np.ndarray:
    """Recover which characters the reference kept from its decoded output.

    Its compressed contexts are the kept token ids of the kept contexts (joined by SEP) decoded;
    matching the output greedily against those tokens' pieces gives the keep mask.
    """
    region, starts = context_region(prompt)
    body = output
    if prompt.instruction and body.startswith(prompt.instruction):
        body = body[len(prompt.instruction) :].lstrip("\n")
    if prompt.question and body.endswith(prompt.question):
        body = body[: -len(prompt.question)].rstrip("\n")
    kept_text = SEP.join(prompt.contexts[i] for i in used)
    tokens = tokenize(tokenizer, kept_text)
    keep = np.zeros(len(tokens), dtype=bool)
    cursor = 0
    for i in range(len(tokens)):
        piece = tokens.piece(i)
        if piece and body.startswith(piece, cursor):
            keep[i] = True
            cursor += len(piece)
    mask = np.zeros(len(region), dtype=bool)
    # Map the kept text's characters back to the contexts' places in the full region.
    local = 0
    for i in used:
        length = len(prompt.contexts[i])
        for s, e in tokens.kept_spans(keep):
            a, b = max(s, local), min(e, local + length)
            if a < b:
                mask[starts[i] + a - local : starts[i] + b - local] = True
        local += length + len(SEP)
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 0.33])
    parser.add_argument("--prompts", nargs="+", default=DEFAULT_PROMPTS)
    args = parser.parse_args()
    torch.manual_seed(0)
    model_dir = embedded_model_dir()
    reference = load_reference(model_dir, dtype=torch.bfloat16)
    used_log: list[list[int]] = []
    original_budget = reference.inner.control_context_budget

    def recording_budget(*a: Any, **k: Any) -> Any:
        res = original_budget(*a, **k)
        used_log.append(list(res[2]))
        return res

    reference.inner.control_context_budget = recording_budget  # type: ignore[method-assign]
    ours = Compressor.load(str(model_dir), dtype=torch.bfloat16)
    variants = {
        "reuse_kv": LLMLinguaOptions(),
        "exact": LLMLinguaOptions(iterative=IterativeSettings(reuse_kv=False)),
        "window_pool": LLMLinguaOptions(iterative=IterativeSettings(pool=ThresholdPool.WINDOW)),
    }
    rows = []
    for name in args.prompts:
        prompt = load_prompt(name)
        region, _ = context_region(prompt)
        spans = word_spans(region)
        for rate in args.rates:
            used_log.clear()
            ref = reference.compress_prompt(prompt.contexts, instruction=prompt.instruction, question=prompt.question,
                                            rate=rate)
            used = used_log[-1] if used_log else list(range(len(prompt.contexts)))
            ref_words = words_kept(reference_char_mask(prompt, ref["compressed_prompt"], used, ours.lm.tokenizer), spans)
            row = {"prompt": name, "rate": rate, "words": len(spans), "ref_kept": ref_words.mean(),
                   "ref_tokens": ref["compressed_tokens"]}
            for label, options in variants.items():
                result = ours.compress(
                    Prompt(tuple(prompt.contexts), prompt.instruction, prompt.question),
                    rate=rate, method="llmlingua", exact_budget=False, options=replace(options),
                )
                our_words = words_kept(ours_char_mask(prompt, result), spans)
                row[f"{label}_agree"] = float((our_words == ref_words).mean())
                row[f"{label}_kept"] = float(our_words.mean())
                row[f"{label}_tokens"] = result.compressed_tokens
            rows.append(row)
            print(row, file=sys.stderr)
    header = ["prompt", "rate", "words", "ref_kept"] + [f"{v}_{m}" for v in variants for m in ("agree", "kept")]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{row[h]:.3f}" if isinstance(row[h], float) else str(row[h]) for h in header) + " |")
    for variant in variants:
        weights = np.array([r["words"] for r in rows], dtype=float)
        agree = np.array([r[f"{variant}_agree"] for r in rows])
        print(f"{variant}: word agreement {float((agree * weights).sum() / weights.sum()):.3%} over {int(weights.sum())} words")


if __name__ == "__main__":
    main()
