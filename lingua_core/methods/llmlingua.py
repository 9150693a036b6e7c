"""LLMLingua and LongLLMLingua: coarse budget control, then iterative token-level compression.

The data path, top to bottom:

1. ``plan_budget``: lengths in the small LM's tokens, and the token budget for the contexts
   once instruction and question are kept whole.
2. ``select_contexts``: rank demonstrations/documents by perplexity (or, question-aware, by
   how well each prepares the model for the question) and keep the best until the budget
   (plus slack) is spent; optionally reorder them and give each its own ratio.
3. ``select_sentences`` (optional): the same inside the kept contexts, sentence by sentence.
4. ``compress_context_tokens``: per-token target ratios (global, per context, per
   ``<llmlingua>`` segment), protected spans forced, then ``iterative.compress_tokens``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.methods.iterative import IterativeSettings, compress_tokens
from lingua_core.methods.perplexity import mean_losses
from lingua_core.pieces import TokenizedText, span_mask, tokenize
from lingua_core.progress import Progress
from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.protect import ProtectOptions, find_protected_spans
from lingua_core.segments import parse_segments
from lingua_core.sentences import split_sentences

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# LongLLMLingua appends this to the question when it asks which document answers it.
QUESTION_HINT = " We can get the answer to this question in the given documents."


class Reorder(enum.Enum):
    """Where kept documents go: LongLLMLingua puts the most relevant first, against 'lost in the middle'."""

    ORIGINAL = "original"
    SORT = "sort"
    TWO_STAGE = "two_stage"


@dataclass(frozen=True)
class LLMLinguaOptions:
    question_aware: bool = False
    contrastive: bool = True  # question-aware token scores: loss without minus loss with the question
    use_context_filter: bool = True
    use_sentence_filter: bool = False
    use_token_filter: bool = True
    context_budget: int = 100  # extra LM tokens the coarse filter may keep beyond the target
    sentence_budget_ratio: float = 1.4
    reorder: Reorder = Reorder.ORIGINAL
    dynamic_ratio: float = 0.0  # LongLLMLingua: ratio spread between the best and worst kept context
    iterative: IterativeSettings = field(default_factory=IterativeSettings)
    protect: ProtectOptions = field(default_factory=ProtectOptions)


@dataclass(frozen=True)
class ContextCompression:
    """The token-level outcome over the kept contexts, joined by ``SEPARATOR``."""

    tokens: TokenizedText
    keep: BoolArray
    scores: FloatArray
    forced: BoolArray
    kept_contexts: tuple[int, ...]  # indices into the prompt's contexts, in output order
    context_starts: tuple[int, ...]  # where each kept context starts in ``tokens.text``


@dataclass(frozen=True)
class Budget:
    instruction: int
    question: int
    contexts: tuple[int, ...]
    target: float  # LM tokens the contexts may keep


def lm_length(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text).input_ids) if text else 0


def plan_budget(tokenizer: Any, prompt: Prompt, rate: float | None, target_tokens: float | None) -> Budget:
    """The contexts' share of the budget, counted as the reference counts it (small-LM tokens)."""
    instruction = lm_length(tokenizer, prompt.instruction)
    question = lm_length(tokenizer, prompt.question)
    contexts = tuple(lm_length(tokenizer, c) for c in prompt.contexts)
    fixed = question + (0 if prompt.compress_instruction else instruction)
    if target_tokens is not None:
        target = target_tokens - fixed
    else:
        assert rate is not None
        target = (instruction + question + sum(contexts)) * rate - fixed
    return Budget(instruction, question, contexts, float(target))


def _protected(text: str, options: ProtectOptions) -> list[tuple[int, int]]:
    return [(span.start, span.end) for span in find_protected_spans(text, options)]


def _must_keep_context(text: str, options: ProtectOptions) -> bool:
    """A context holding a placeholder, a segment tag or an uncompressible segment is never dropped."""
    if any(span.kind in {"placeholder", "segment_tag"} for span in find_protected_spans(text, options)):
        return True
    return any(not segment.compress for segment in parse_segments(text))


def select_contexts(
    lm: Any,
    prompt: Prompt,
    budget: Budget,
    options: LLMLinguaOptions,
) -> tuple[list[int], list[float]]:
    """Indices of the contexts to keep, in output order, and each one's ratio offset."""
    count = len(prompt.contexts)
    if count <= 1 or not options.use_context_filter:
        return list(range(count)), [0.0] * count
    remaining = (budget.target if budget.target >= 0 else 100.0) + options.context_budget
    if sum(budget.contexts) <= remaining and options.reorder is Reorder.ORIGINAL and options.dynamic_ratio <= 0:
        # Everything fits and nothing depends on the order: the ranking pass (a full forward
        # over every context) would change nothing.
        return list(range(count)), [0.0] * count
    condition = None
    if options.question_aware and prompt.question:
        condition = prompt.question + QUESTION_HINT
    losses = mean_losses(
        lm.model, lm.tokenizer, prompt.contexts, device=lm.device, max_positions=lm.max_positions, condition=condition
    )
    losses = np.nan_to_num(losses, nan=0.0)
    # Plain: the most surprising demonstrations carry the most information. Question-aware:
    # the documents after which the question is least surprising are the relevant ones.
    direction = 1.0 if condition is not None else -1.0
    ranking = sorted(range(count), key=lambda i: direction * losses[i])
    used = [i for i in range(count) if _must_keep_context(prompt.contexts[i], options.protect)]
    for index in ranking:
        remaining -= budget.contexts[index]
        if index not in used:
            used.append(index)
        if remaining < 0:
            break
    in_rank_order = [i for i in ranking if i in used]
    if options.reorder is Reorder.ORIGINAL:
        order = sorted(used)
    elif options.reorder is Reorder.SORT:
        order = in_rank_order
    else:
        odd, even = in_rank_order[0::2], in_rank_order[1::2]
        order = odd + even[::-1]
    offsets = [0.0] * len(order)
    if options.dynamic_ratio > 0 and len(order) > 1:
        spread = options.dynamic_ratio
        steps = len(in_rank_order) - 1
        by_rank = {idx: spread - 2 * spread * rank / steps for rank, idx in enumerate(in_rank_order)}
        offsets = [by_rank[i] for i in order]
    return order, offsets


def select_sentences(
    lm: Any, contexts: list[str], target: float, options: LLMLinguaOptions, question: str
) -> list[str]:
    """Drop the least informative sentences first, keeping ``sentence_budget_ratio`` x the target."""
    spans = [split_sentences(text) for text in contexts]
    sentences = [text[s:e] for text, sp in zip(contexts, spans) for s, e in sp]
    if len(sentences) <= 1:
        return contexts
    condition = question + QUESTION_HINT if options.question_aware and question else None
    losses = mean_losses(
        lm.model, lm.tokenizer, sentences, device=lm.device, max_positions=lm.max_positions, condition=condition
    )
    losses = np.nan_to_num(losses, nan=0.0)
    direction = 1.0 if condition is not None else -1.0
    ranking = sorted(range(len(sentences)), key=lambda i: direction * losses[i])
    keep = [_must_keep_context(s, options.protect) for s in sentences]
    remaining = (target if target >= 0 else 100.0) * options.sentence_budget_ratio
    for index in ranking:
        remaining -= lm_length(lm.tokenizer, sentences[index])
        keep[index] = True
        if remaining < 0:
            break
    out: list[str] = []
    position = 0
    for sp in spans:
        out.append("".join(sentences[position + i] for i in range(len(sp)) if keep[position + i]))
        position += len(sp)
    return out


def _token_ratios(
    tokens: TokenizedText, starts: list[int], base_ratio: float, offsets: list[float], default_rate: float
) -> tuple[FloatArray, BoolArray]:
    """Per-token keep ratio and the tokens that ``compress=false`` segments force."""
    ratio = np.full(len(tokens), base_ratio)
    forced = np.zeros(len(tokens), dtype=bool)
    context_of = np.searchsorted(np.asarray(starts), tokens.starts, side="right") - 1
    for index, offset in enumerate(offsets):
        ratio[context_of == index] = min(1.0, max(0.0, base_ratio + offset))
    for segment in parse_segments(tokens.text):
        if segment.rate is None and segment.compress:
            continue
        inside = span_mask(tokens, [(segment.start, segment.end)])
        if not segment.compress:
            forced |= inside
        else:
            ratio[inside] = segment.effective_rate(default_rate)
    return ratio, forced


def compress_contexts(
    lm: Any,
    prompt: Prompt,
    rate: float | None,
    target_tokens: float | None,
    options: LLMLinguaOptions,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ContextCompression:
    """Run the whole LLMLingua pipeline over the prompt's contexts."""
    budget = plan_budget(lm.tokenizer, prompt, rate, target_tokens)
    order, offsets = select_contexts(lm, prompt, budget, options)
    contexts = [prompt.contexts[i] for i in order]
    if prompt.compress_instruction and prompt.instruction:
        contexts = [prompt.instruction, *contexts]
        offsets = [0.0, *offsets]
    if options.use_sentence_filter:
        contexts = select_sentences(lm, contexts, budget.target, options, prompt.question)
    kept = [(c, o) for c, o in zip(contexts, offsets) if c]
    text = SEPARATOR.join(c for c, _ in kept)
    starts, position = [], 0
    for context, _ in kept:
        starts.append(position)
        position += len(context) + len(SEPARATOR)
    tokens = tokenize(lm.tokenizer, text)
    # The reference estimates each context at its length plus 2 for the separator.
    lengths = [lm_length(lm.tokenizer, c) + 2 for c, _ in kept]
    base_ratio = budget.target / (sum(lengths) + 1) if lengths else 1.0
    base_ratio = min(1.0, max(0.0, base_ratio))
    ratio, forced = _token_ratios(
        tokens, starts, base_ratio, [o for _, o in kept], rate if rate is not None else base_ratio
    )
    forced |= span_mask(tokens, _protected(text, options.protect))
    if not options.use_token_filter:
        keep = np.ones(len(tokens), dtype=bool)
        scores = np.full(len(tokens), np.inf)
    else:
        condition = None
        if options.question_aware and options.contrastive and prompt.question:
            condition = np.asarray(lm.tokenizer(prompt.question + SEPARATOR).input_ids, dtype=np.int64)
        keep, scores = compress_tokens(
            lm.model,
            tokens.ids,
            ratio,
            forced,
            device=lm.device,
            max_positions=lm.max_positions,
            settings=options.iterative,
            condition=condition,
            progress=progress,
            cancelled=cancelled,
        )
    kept_indices = tuple(order) if not (prompt.compress_instruction and prompt.instruction) else (-1, *order)
    return ContextCompression(tokens, keep, scores, forced, kept_indices, tuple(starts))
