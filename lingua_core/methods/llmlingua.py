"""LLMLingua and LongLLMLingua: coarse budget control, then iterative token-level compression.

The data path, top to bottom:

1. ``plan_budget``: lengths in the small LM's tokens, and the token budget for the contexts
   once instruction and question are kept whole.
2. ``select_contexts``: rank demonstrations/documents by perplexity (or, question-aware, by
   how well each prepares the model for the question) and keep the best until the budget
   (plus slack) is spent; optionally reorder them and give each its own ratio.
3. ``select_sentences`` (optional): the same inside the kept contexts, sentence by sentence;
   ``drop_sentences``: whole sentences out first when the budget would shred them all.
4. ``compress_contexts``: per-token target ratios (global, per context, per
   ``<llmlingua>`` segment), protected spans forced, then ``iterative.compress_tokens``.

It is one file because these four steps are one data path, read top to bottom; the parts
that stand alone (the iterative pass, the coarse units, the KV cache, perplexity batching,
question relevance) live in their own modules.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.methods.base import BudgetAsk, WordDecision
from lingua_core.methods.coarse_units import drop_units, ending_inside, merge_spans, must_keep
from lingua_core.methods.iterative import IterativeSettings, Scoring, compress_tokens
from lingua_core.methods.perplexity import mean_losses
from lingua_core.methods.question_relevance import QUESTION_HINT, QuestionRelevance
from lingua_core.methods.steps import DecisionSteps, decide_alone
from lingua_core.methods.text_losses import TextLosses, TextLossesAsk
from lingua_core.pieces import TokenizedText, span_mask, tokenize, word_units
from lingua_core.progress import Progress
from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.protect import ProtectOptions, find_protected_spans
from lingua_core.relevance import RankMethod
from lingua_core.segments import parse_segments
from lingua_core.sentences import split_sentences
from lingua_core.tokens import count_tokens
from lingua_core.words import Words, overlap_pairs, split_words, word_mask

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class Reorder(enum.Enum):
    """Where kept documents go: LongLLMLingua puts the most relevant first, against 'lost in the middle'."""

    ORIGINAL = "original"
    SORT = "sort"
    TWO_STAGE = "two_stage"


@dataclass(frozen=True)
class LLMLinguaOptions:
    question_aware: bool = False
    # Question-aware ranking of documents, sentences and records (``lingua_core.relevance``).
    rank_method: RankMethod = RankMethod.FUSED
    embedder: str = "embedded"  # the sentence embedder of the embedding and fused rankings
    # Question-aware: in this many of the best-ranked documents, the sentence most relevant
    # to the question is kept whole.
    answer_documents: int = 3
    # ... and the best-ranked document is kept whole; these take at most this share of the budget.
    top_document_share: float = 0.5
    contrastive: bool = True  # question-aware token scores: loss without minus loss with the question
    use_context_filter: bool = True
    use_sentence_filter: bool = False
    use_token_filter: bool = True
    context_budget: int = 100  # extra LM tokens the coarse filter may keep beyond the target
    sentence_budget_ratio: float = 1.4
    reorder: Reorder = Reorder.ORIGINAL
    dynamic_ratio: float = 0.0  # LongLLMLingua: ratio spread between the best and worst kept context
    iterative: IterativeSettings = field(default_factory=IterativeSettings)
    # Coarse sentence step: whole sentences go first when the budget would leave the kept
    # sentences less than this share of their unprotected tokens (0 turns it off).
    min_sentence_rate: float = 0.4
    # A sentence's closing mark (". ? ! : ;") survives with it: one token that tells the LLM
    # where a thought ends, which a small LM finds predictable and would drop.
    keep_sentence_ends: bool = True
    protect: ProtectOptions = field(default_factory=ProtectOptions)


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


@dataclass(frozen=True)
class ContextChoice:
    order: list[int]  # the kept contexts' indices, in output order
    offsets: list[float]  # each one's ratio offset (budget by rank)
    ranked: list[int]  # the kept contexts, best first (empty when nothing was ranked)


def select_contexts(
    lm: Any,
    prompt: Prompt,
    budget: Budget,
    options: LLMLinguaOptions,
    relevance: QuestionRelevance | None = None,
) -> ContextChoice:
    """The contexts to keep: ranked by ``relevance`` to the question, or by perplexity without one."""
    count = len(prompt.contexts)
    everything = ContextChoice(list(range(count)), [0.0] * count, [0] if count == 1 else [])
    if count <= 1 or not options.use_context_filter:
        return everything
    remaining = (budget.target if budget.target >= 0 else 100.0) + options.context_budget
    fits = sum(budget.contexts) <= remaining
    if fits and options.reorder is Reorder.ORIGINAL and options.dynamic_ratio <= 0 and relevance is None:
        # Everything fits and nothing depends on the order: the ranking pass (a full forward
        # over every context) would change nothing.
        return everything
    if relevance is not None:
        scores = relevance(prompt.contexts)
    else:
        # Plain: the most surprising demonstrations carry the most information.
        losses = mean_losses(lm.model, lm.tokenizer, prompt.contexts, device=lm.device, max_positions=lm.max_positions)
        scores = np.nan_to_num(losses, nan=0.0)
    ranking = sorted(range(count), key=lambda i: -scores[i])
    used = [i for i in range(count) if must_keep(prompt.contexts[i], options.protect)]
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
    return ContextChoice(order, offsets, in_rank_order)


def question_relevance(lm: Any, prompt: Prompt, options: LLMLinguaOptions) -> QuestionRelevance | None:
    """The question-aware ranking, or None when the method or the prompt has no question."""
    if not (options.question_aware and prompt.question.strip()):
        return None
    return QuestionRelevance(lm, prompt.question, options.rank_method, options.embedder)


def _kept_whole(
    prompt: Prompt,
    tokens: TokenizedText,
    budget: Budget,
    choice: ContextChoice,
    labels: list[int],
    starts: list[int],
    relevance: QuestionRelevance,
    options: LLMLinguaOptions,
) -> list[tuple[int, int]]:
    """Budget by rank, question-aware: the best document whole, and the answer sentence of
    the next ones, best first, while they take at most ``top_document_share`` of the budget
    (the rest of it still buys the other documents' key words)."""
    top = [label for label in choice.ranked[: max(1, options.answer_documents)] if label in labels]
    if not top:
        return []
    room = options.top_document_share * max(0.0, budget.target)
    candidates: list[tuple[int, int]] = []
    first_start = starts[labels.index(top[0])]
    candidates.append((first_start, first_start + len(prompt.contexts[top[0]])))
    if options.answer_documents > 0:
        parts = [(starts[labels.index(label)], prompt.contexts[label]) for label in top]
        candidates.extend(answer_sentences(parts, relevance))  # the best document's own comes first
    whole: list[tuple[int, int]] = []
    for span in candidates:
        if any(s <= span[0] and span[1] <= e for s, e in whole):
            continue  # the answer sentence of a document already kept whole
        cost = float(span_mask(tokens, [span]).sum())
        if cost <= room:
            whole.append(span)
            room -= cost
    return sorted(whole)


def answer_sentences(parts: list[tuple[int, str]], relevance: QuestionRelevance) -> list[tuple[int, int]]:
    """In each (start, text) part, the sentence most relevant to the question, as a text span,
    in the parts' order.

    The answer to a question usually sits in the one sentence of the best documents that
    shares its terms or its meaning; cutting words inside that sentence is how a kept
    document loses the answer (``SM-8501`` kept, the date after it dropped). These
    sentences are kept whole, like protected text.
    """
    candidates: list[tuple[int, int, int]] = []  # (part, start, end)
    texts: list[str] = []
    for index, (start, text) in enumerate(parts):
        sentences = split_sentences(text)
        # Each sentence is scored with the document's first one before it (its title or
        # lead), so that a title repeating the question's words does not outrank the
        # sentence that answers it: what differs between candidates is their own text.
        lead = text[: sentences[0][1]].strip() if sentences else ""
        for number, (s, e) in enumerate(sentences):
            candidates.append((index, start + s, start + e))
            texts.append(text[s:e] if number == 0 else f"{lead} {text[s:e]}")
    if not candidates:
        return []
    scores = relevance.units(texts)
    best: dict[int, tuple[float, int, int]] = {}
    for (part, s, e), score in zip(candidates, scores.tolist()):
        if part not in best or score > best[part][0]:
            best[part] = (score, s, e)
    return [(s, e) for _, (_, s, e) in sorted(best.items())]  # in the parts' order


def select_sentences(
    lm: Any, contexts: list[str], target: float, options: LLMLinguaOptions, question: str
) -> list[list[tuple[int, int]]]:
    """Per context, the sentences to drop (character spans): the least informative go first,
    until what is left is ``sentence_budget_ratio`` x the target.

    Spans, not shortened texts: the dropped sentences join the same excluded mask as the
    coarse sentence step, so the kept words still map back to the user's text."""
    spans = [split_sentences(text) for text in contexts]
    sentences = [text[s:e] for text, sp in zip(contexts, spans) for s, e in sp]
    if len(sentences) <= 1:
        return [[] for _ in contexts]
    condition = question + QUESTION_HINT if options.question_aware and question else None
    losses = mean_losses(
        lm.model, lm.tokenizer, sentences, device=lm.device, max_positions=lm.max_positions, condition=condition
    )
    losses = np.nan_to_num(losses, nan=0.0)
    direction = 1.0 if condition is not None else -1.0
    ranking = sorted(range(len(sentences)), key=lambda i: direction * losses[i])
    keep = [must_keep(s, options.protect) for s in sentences]
    remaining = (target if target >= 0 else 100.0) * options.sentence_budget_ratio
    for index in ranking:
        remaining -= lm_length(lm.tokenizer, sentences[index])
        keep[index] = True
        if remaining < 0:
            break
    dropped: list[list[tuple[int, int]]] = []
    position = 0
    for sp in spans:
        dropped.append([span for i, span in enumerate(sp) if not keep[position + i]])
        position += len(sp)
    return dropped


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
) -> WordDecision:
    """Run the whole LLMLingua pipeline over the prompt's contexts (budget in small-LM tokens)."""
    return decide_alone(context_steps(lm, prompt, rate, target_tokens, options, progress, cancelled), lm, cancelled)


def context_steps(
    lm: Any,
    prompt: Prompt,
    rate: float | None,
    target_tokens: float | None,
    options: LLMLinguaOptions,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DecisionSteps:
    """``compress_contexts`` as steps (``lingua_core.methods.steps``): it yields the text's
    ``TextLossesAsk`` once, where the coarse step and the first iterative window would read
    the text's losses, and takes them from whoever drives it."""
    budget = plan_budget(lm.tokenizer, prompt, rate, target_tokens)
    relevance = question_relevance(lm, prompt, options)
    choice = select_contexts(lm, prompt, budget, options, relevance)
    contexts = [prompt.contexts[i] for i in choice.order]
    offsets = list(choice.offsets)
    labels = list(choice.order)  # each part's index in the prompt; -1 is the instruction
    if prompt.compress_instruction and prompt.instruction:
        contexts = [prompt.instruction, *contexts]
        offsets = [0.0, *offsets]
        labels = [-1, *labels]
    kept = [(c, o, label) for c, o, label in zip(contexts, offsets, labels) if c]
    text = SEPARATOR.join(c for c, _, _ in kept)
    starts, position = [], 0
    for context, _, _ in kept:
        starts.append(position)
        position += len(context) + len(SEPARATOR)
    filtered: list[tuple[int, int]] = []
    if options.use_sentence_filter:
        chosen = select_sentences(lm, [c for c, _, _ in kept], budget.target, options, prompt.question)
        filtered = [(start + s, start + e) for start, spans in zip(starts, chosen) for s, e in spans]
    tokens = tokenize(lm.tokenizer, text)
    words = split_words(text)
    reference = options.iterative.scoring is Scoring.NEXT_TOKEN
    token_unit, word_unit = word_units(tokens, words)
    protected_spans = find_protected_spans(text, options.protect)  # once: the scan is the costly part
    fixed_words = word_mask(words, [(span.start, span.end) for span in protected_spans])
    if relevance is not None:
        whole = _kept_whole(prompt, tokens, budget, choice, labels, starts, relevance, options)
        fixed_words |= word_mask(words, whole)
    if options.keep_sentence_ends and not reference:
        fixed_words |= sentence_end_marks(words)
    forced = np.zeros(len(tokens), dtype=bool)
    if len(words):
        unit_fixed = np.zeros(int(word_unit[-1]) + 1, dtype=bool)
        np.logical_or.at(unit_fixed, word_unit, fixed_words)
        forced = (
            unit_fixed[token_unit]
            if not reference
            else span_mask(tokens, [(span.start, span.end) for span in protected_spans])
        )
    excluded = span_mask(tokens, filtered) if filtered else np.zeros(len(tokens), dtype=bool)
    dropped_spans = list(filtered)
    if relevance is None and not reference and len(tokens) > 1:
        text_losses = yield TextLossesAsk(tokens.ids)
    else:
        # Question-aware ranking and the reference's scoring never read these losses.
        text_losses = TextLosses(lm, tokens.ids, cancelled)
    if options.min_sentence_rate > 0 and not reference and len(tokens):
        dropped_spans += drop_units(
            lm,
            tokens,
            forced,
            budget.target,
            options.min_sentence_rate,
            options.protect,
            protected_spans,
            relevance=None if relevance is None else relevance.units,
            cancelled=cancelled,
            already=excluded,
            text_losses=text_losses,
        )
        dropped_spans = merge_spans(dropped_spans)
        excluded |= ending_inside(tokens.ends, dropped_spans)
    if reference:
        # The reference estimates each context at its length plus 2 for the separator.
        lengths = [lm_length(lm.tokenizer, c) + 2 for c, _, _ in kept]
        base_ratio = (budget.target / (sum(lengths) - int(excluded.sum()) + 1)) if lengths else 1.0
    else:
        # Protected tokens are kept whatever their score: the ratio is the share of the
        # *free* tokens (outside dropped sentences) that the rest of the budget buys.
        free_active = float((~forced & ~excluded).sum())
        base_ratio = (budget.target - float((forced & ~excluded).sum())) / max(1.0, free_active)
    base_ratio = min(1.0, max(0.0, base_ratio))
    ratio, verbatim = _token_ratios(
        tokens, starts, base_ratio, [o for _, o, _ in kept], rate if rate is not None else base_ratio
    )
    forced |= verbatim
    if not options.use_token_filter:
        token_keep = ~excluded
        token_scores = np.full(len(tokens), np.inf)
    else:
        condition = None
        if options.question_aware and options.contrastive and prompt.question:
            condition = np.asarray(lm.tokenizer(prompt.question + SEPARATOR).input_ids, dtype=np.int64)
        token_keep, token_scores = compress_tokens(
            lm.model,
            tokens.ids,
            ratio,
            forced,
            device=lm.device,
            max_positions=lm.max_positions,
            settings=options.iterative,
            condition=condition,
            unit=None if reference else token_unit,
            excluded=excluded,
            primed=text_losses.prefix(),
            progress=progress,
            cancelled=cancelled,
        )
    pairs = overlap_pairs(words, tokens.starts, tokens.ends)
    word_keep, word_scores = _to_words(len(words), pairs, token_keep, token_scores)
    word_fixed = fixed_words | _to_words(len(words), pairs, verbatim, token_scores)[0]
    # Whole words inside what the coarse steps dropped: a token straddling a dropped record's
    # comma and the kept record before it must not take the kept record's punctuation along.
    word_dropped = ending_inside(words.ends, dropped_spans)
    word_keep &= ~word_dropped
    word_scores[word_dropped] = -np.inf
    word_fixed &= ~word_dropped
    kept_indices = tuple(label for _, _, label in kept)
    return WordDecision(
        words=words,
        keep=word_keep,
        scores=word_scores,
        fixed=word_fixed,
        kept_contexts=kept_indices,
        context_starts=tuple(starts),
        heat=_percentiles(word_scores),
        exact_budget=not reference,
        details={"lm_tokens": len(tokens), "dropped_sentences": int(word_dropped.sum())},
    )


def _percentiles(scores: FloatArray) -> FloatArray:
    """Each word's score as its rank among the text's words, in [0, 1]: a heat view for surprisal."""
    if scores.size == 0:
        return scores
    ranks = np.argsort(np.argsort(scores, kind="stable"), kind="stable")
    return ranks / max(1, scores.size - 1)


def run(
    lm: Any,
    prompt: Prompt,
    ask: BudgetAsk,
    options: LLMLinguaOptions,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> WordDecision:
    """LLMLingua (and LongLLMLingua with ``options.question_aware``) behind the method seam."""
    return decide_alone(run_steps(lm, prompt, ask, options, progress, cancelled), lm, cancelled)


def run_steps(
    lm: Any,
    prompt: Prompt,
    ask: BudgetAsk,
    options: LLMLinguaOptions,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DecisionSteps:
    lm_target = None
    if ask.target_tokens is not None:
        # The controller counts in the small LM's tokens; scale the target into them.
        lm_total = max(1, lm_length(lm.tokenizer, prompt.text))
        lm_target = ask.target_tokens * lm_total / max(1, count_tokens(prompt.text, ask.encoding))
    rate = ask.rate if ask.target_tokens is None else None
    return context_steps(lm, prompt, rate, lm_target, options, progress, cancelled)


def run_question_aware(
    lm: Any,
    prompt: Prompt,
    ask: BudgetAsk,
    options: LLMLinguaOptions,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> WordDecision:
    return decide_alone(run_question_aware_steps(lm, prompt, ask, options, progress, cancelled), lm, cancelled)


def run_question_aware_steps(
    lm: Any,
    prompt: Prompt,
    ask: BudgetAsk,
    options: LLMLinguaOptions,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DecisionSteps:
    if not options.question_aware:
        options = replace(options, question_aware=True)
    return run_steps(lm, prompt, ask, options, progress, cancelled)


def _to_words(
    count: int, pairs: tuple[IntArray, IntArray], token_flags: BoolArray, token_scores: FloatArray
) -> tuple[BoolArray, FloatArray]:
    """A word is kept when any of its tokens is; its score is its best token's.

    ``pairs``: (token, word) index pairs of every token and the words it overlaps.
    """
    token_index, word_index = pairs
    keep = np.zeros(count, dtype=bool)
    np.logical_or.at(keep, word_index, token_flags[token_index])
    scores = np.full(count, -np.inf)
    np.maximum.at(scores, word_index, token_scores[token_index])
    return keep, scores


_SENTENCE_MARKS = frozenset(".?!:;\u3002\uff01\uff1f")


def sentence_end_marks(words: Words) -> BoolArray:
    """Words that are the closing punctuation of a sentence (the last word before its end)."""
    marks = np.zeros(len(words), dtype=bool)
    if not len(words):
        return marks
    ends = np.asarray([end for _, end in split_sentences(words.text)], dtype=np.int64)
    last = np.searchsorted(words.ends, ends, side="right") - 1
    for index in np.unique(last[last >= 0]).tolist():
        word = words.text[int(words.starts[index]) : int(words.ends[index])]
        if word and all(ch in _SENTENCE_MARKS for ch in word):
            marks[index] = True
    return marks
