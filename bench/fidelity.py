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

from bench.data import EvalPrompt, load_prompt
from bench.reference import load_reference
from lingua_core import Compressor, LLMLinguaOptions, Prompt, ProtectOptions
from lingua_core.embedded import embedded_model_dir
from lingua_core.methods.iterative import IterativeSettings, Scoring, ThresholdPool
from lingua_core.pieces import tokenize

SEP = "\n\n"
# The reference protects nothing and decides per token with next-token scores: those are
# Lingua's reference-compatible settings; its own defaults are measured by bench/quality.py.
AS_REFERENCE = ProtectOptions.nothing()
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


class ReferenceKeepRecorder:
    """Which token positions the reference keeps, read off its own calls (plain mode).

    Its output is decoded text, and matching that back to tokens is ambiguous (a lone space
    token or the space inside " points"?). Instead, wrap the two methods that decide: at the
    start of the token-level pass every position is alive; each ``get_compressed_input`` call
    keeps the positions whose loss beats the threshold inside the current window, exactly
    the mask the reference builds there, so the surviving positions can be followed through.
    """

    def __init__(self, inner: Any) -> None:
        self.positions: np.ndarray = np.zeros(0, dtype=np.int64)
        self.count = 0
        iterate, cut = inner.iterative_compress_prompt, inner.get_compressed_input

        def iterative(context: list[str], *args: Any, **kwargs: Any) -> Any:
            ids = inner.tokenizer("\n\n".join(context), add_special_tokens=False).input_ids
            self.count = len(ids)
            self.positions = np.arange(len(ids))
            return iterate(context, *args, **kwargs)

        def compressed_input(
            loss: Any,
            input_ids: Any,
            attention_mask: Any,
            end: int = 200,
            iterative_size: int = 200,
            threshold: float = 0.5,
            keep_flag: Any = None,
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            if kwargs.get("self_loss") is not None or keep_flag is not None:
                raise NotImplementedError("the recorder follows plain mode only")
            above = np.concatenate([(loss > threshold).cpu().numpy(), [True]])
            above[end:] = True
            above[: max(0, end - iterative_size)] = True
            width = int(input_ids.shape[1])
            above = np.concatenate([above, np.ones(max(0, width - above.shape[0]), dtype=bool)])[:width]
            self.positions = self.positions[above]
            return cut(loss, input_ids, attention_mask, end, iterative_size, threshold, keep_flag, *args, **kwargs)

        inner.iterative_compress_prompt = iterative
        inner.get_compressed_input = compressed_input

    def keep_mask(self) -> np.ndarray:
        mask = np.zeros(self.count, dtype=bool)
        mask[self.positions] = True
        return mask


def reference_char_mask(prompt: EvalPrompt, used: list[int], keep: np.ndarray, tokenizer: Any) -> np.ndarray:
    """Characters of the contexts region that the reference kept."""
    region, starts = context_region(prompt)
    kept_text = SEP.join(prompt.contexts[i] for i in used)
    tokens = tokenize(tokenizer, kept_text)
    assert len(tokens) == keep.shape[0], (len(tokens), keep.shape)
    spans = tokens.kept_spans(keep)
    mask = np.zeros(len(region), dtype=bool)
    local = 0
    for i in used:
        length = len(prompt.contexts[i])
        for s, e in spans:
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
    recorder = ReferenceKeepRecorder(reference.inner)
    ours = Compressor.load(str(model_dir), dtype=torch.bfloat16)
    # The reference's token rule: next-token scores, per-token decisions (Scoring.NEXT_TOKEN).
    compat = IterativeSettings(reference_windows=True, scoring=Scoring.NEXT_TOKEN)
    variants = {
        "default": LLMLinguaOptions(
            protect=AS_REFERENCE, iterative=IterativeSettings(scoring=Scoring.NEXT_TOKEN), min_sentence_rate=0.0
        ),
        "compat": LLMLinguaOptions(iterative=compat, protect=AS_REFERENCE),
        "compat_exact": LLMLinguaOptions(iterative=replace(compat, reuse_kv=False), protect=AS_REFERENCE),
        "compat_window_pool": LLMLinguaOptions(
            iterative=replace(compat, pool=ThresholdPool.WINDOW), protect=AS_REFERENCE
        ),
    }
    rows = []
    for name in args.prompts:
        prompt = load_prompt(name)
        region, _ = context_region(prompt)
        spans = word_spans(region)
        for rate in args.rates:
            used_log.clear()
            ref = reference.compress_prompt(
                prompt.contexts, instruction=prompt.instruction, question=prompt.question, rate=rate
            )
            used = used_log[-1] if used_log else list(range(len(prompt.contexts)))
            ref_mask = reference_char_mask(prompt, used, recorder.keep_mask(), ours.lm.tokenizer)
            ref_words = words_kept(ref_mask, spans)
            row = {
                "prompt": name,
                "rate": rate,
                "words": len(spans),
                "ref_kept": ref_words.mean(),
                "ref_tokens": ref["compressed_tokens"],
            }
            for label, options in variants.items():
                result = ours.compress(
                    Prompt(tuple(prompt.contexts), prompt.instruction, prompt.question),
                    rate=rate,
                    method="llmlingua",
                    exact_budget=False,
                    options=options,
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
        share = float((agree * weights).sum() / weights.sum())
        print(f"{variant}: word agreement {share:.3%} over {int(weights.sum())} words")


if __name__ == "__main__":
    main()
