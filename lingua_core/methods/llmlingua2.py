"""LLMLingua-2: keep or drop whole words by a token classifier's keep probability.

The data path:

1. :func:`~lingua_core.words.split_words`: words with exact char spans. Words are the unit
   of keep/drop, so a word is never cut, and the compressed text is a concatenation of
   original substrings.
2. :func:`~lingua_core.methods.llmlingua2_windows.chunk_words`: word ranges that fit the
   encoder window, cut at sentence ends where possible (the reference cuts at "." or "\\n"
   tokens), else between words.
3. :func:`~lingua_core.methods.llmlingua2_scores.keep_probabilities`: one batched,
   length-sorted forward pass per group of chunks (padding only to each batch's longest
   chunk, not to 512); softmax over the two labels, label 1 = keep, per sub-token.
4. :func:`~lingua_core.methods.llmlingua2_scores.aggregate`: sub-token probabilities to word
   probabilities through the tokenizer's character offsets, which works the same for
   WordPiece, SentencePiece and byte-level BPE without knowing the model's name.
5. Selection (:mod:`~lingua_core.methods.llmlingua2_select`): by default ONE budget across
   all chunks (the reference thresholds each chunk on its own, so a chunk of filler keeps as
   much as a chunk of facts); words are taken in probability order until their cost in the
   *target* tokenizer reaches the budget. ``per_chunk=True`` reproduces the reference's
   per-chunk percentile for comparisons.

Words are split as :mod:`lingua_core.words` explains (edge punctuation apart, CJK per
character, whitespace force tokens as words).

Force tokens: every occurrence of each string in the text is kept, and a word that shares a
character with an occurrence is kept whole ("words that are or contain it"). The reference
gets the same effect by rewriting each force token to an added special token; a word that
merely contains one ("3.14" for ".") is kept here because words are never split.
``drop_consecutive`` then drops a word that *equals* a force token when the kept word before
it (in the same context) is the same string, as the reference does ("\\n\\n\\n" -> "\\n").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lingua_core.budget import fit_to_budget
from lingua_core.methods.base import BudgetAsk, WordDecision
from lingua_core.methods.llmlingua2_options import LLMLingua2Options
from lingua_core.methods.llmlingua2_select import (
    consecutive_duplicates,
    fit_scores,
    select_words,
    select_words_steps,
)
from lingua_core.methods.steps import DecisionSteps, decide_alone
from lingua_core.models import LoadedModel
from lingua_core.progress import Progress
from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.result import WordScore
from lingua_core.tokens import count_tokens
from lingua_core.words import Words

__all__ = [
    "LLMLingua2Options",
    "LLMLingua2Outcome",
    "compress_llmlingua2",
]


DEFAULT_OPTIONS = LLMLingua2Options()


@dataclass(frozen=True)
class LLMLingua2Outcome:
    """Per input context: the compressed text, the kept char ranges, and optionally the heat view.

    ``texts[i] == "".join(contexts[i][s:e] for s, e in kept_spans[i])``; a context the
    context filter dropped has ``""`` and no spans. Token counts are in the target encoding.
    """

    texts: tuple[str, ...]
    kept_spans: tuple[tuple[tuple[int, int], ...], ...]
    word_scores: tuple[tuple[WordScore, ...], ...] | None
    kept_contexts: tuple[int, ...]
    context_scores: tuple[float, ...]  # mean word keep-probability of each context
    origin_tokens: int
    compressed_tokens: int
    target_tokens: int


def run(
    lm: LoadedModel,
    prompt: Prompt,
    ask: BudgetAsk,
    options: LLMLingua2Options,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> WordDecision:
    """LLMLingua-2 behind the method seam: the instruction and question stay whole (unless the
    instruction is to be compressed), the contexts share the budget; the engine fits it."""
    return decide_alone(run_steps(lm, prompt, ask, options, progress, cancelled), lm, cancelled)


def run_steps(
    lm: LoadedModel,
    prompt: Prompt,
    ask: BudgetAsk,
    options: LLMLingua2Options,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DecisionSteps:
    """``run`` as steps: prompts in a batch share the classifier's forwards."""
    compress_instruction = prompt.compress_instruction and bool(prompt.instruction)
    contexts = [prompt.instruction, *prompt.contexts] if compress_instruction else list(prompt.contexts)
    origin_tokens = count_tokens(prompt.text, ask.encoding)
    target = ask.target_tokens if ask.target_tokens is not None else max(1, round(origin_tokens * (ask.rate or 1.0)))
    fixed_parts = [p for p in (None if compress_instruction else prompt.instruction, prompt.question) if p]
    fixed_tokens = sum(count_tokens(p + SEPARATOR, ask.encoding) for p in fixed_parts)
    context_target = max(1, target - fixed_tokens)
    selection = yield from select_words_steps(lm, contexts, None, context_target, ask.encoding, options, progress)
    pool = selection.pool
    # The kept contexts side by side, as one text joined like the prompt's parts.
    pieces, starts, position = [], [], 0
    for state in pool.states:
        starts.append(position)
        pieces.append(state.words.text)
        position += len(state.words.text) + len(SEPARATOR)
    text = SEPARATOR.join(pieces)
    word_starts = (
        np.concatenate([s.words.starts + o for s, o in zip(pool.states, starts)])
        if pieces
        else np.zeros(0, dtype=np.int64)
    )
    word_ends = (
        np.concatenate([s.words.ends + o for s, o in zip(pool.states, starts)])
        if pieces
        else np.zeros(0, dtype=np.int64)
    )
    words = Words(text, word_starts.astype(np.int64), word_ends.astype(np.int64))
    offset = 1 if compress_instruction else 0
    kept = tuple(i - offset for i in selection.kept_contexts)
    return WordDecision(
        words=words,
        keep=selection.keep,
        scores=fit_scores(pool, selection.keep, options),
        fixed=pool.fixed,
        kept_contexts=kept,
        context_starts=tuple(starts),
        heat=np.nan_to_num(pool.prob, nan=0.5),
        exact_budget=not options.per_chunk,
        details={"context_scores": [float(x) for x in selection.context_scores]},
    )


def compress_llmlingua2(
    lm: LoadedModel,
    contexts: Sequence[str],
    *,
    rate: float | None = None,
    target_tokens: int | None = None,
    encoding: str = "o200k_base",
    options: LLMLingua2Options = DEFAULT_OPTIONS,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LLMLingua2Outcome:
    """Compress each context by dropping low-probability words, under one shared budget.

    ``rate`` is the share of target-encoding tokens to keep over all contexts (text inside
    a rated ``<llmlingua>`` segment keeps that segment's rate instead); ``target_tokens`` is
    the total to aim for. With the context filter the budget still counts against all the
    original contexts, so the output size does not depend on the filter. The size is then
    fitted by the engine's one budget rule (:func:`lingua_core.budget.fit_to_budget`),
    except in the reference's ``per_chunk`` mode. Raises InputError for bad budgets or
    ``<llmlingua>`` tags, ModelError for a model that is not a 2-label token classifier,
    CompressionCancelled when ``cancelled()`` turns true between batches.
    """
    selection = select_words(lm, contexts, rate, target_tokens, encoding, options, progress, cancelled)
    pool = selection.pool
    keep = selection.keep
    if not options.per_chunk and selection.desired > 0:
        keep = fit_to_budget(
            keep,
            fit_scores(pool, keep, options),
            pool.fixed,
            lambda mask: pool.count(pool.spans(mask), encoding),
            max(1, round(selection.desired)),
        )
        if options.drop_consecutive:  # words the fit dropped can bring two copies together
            keep[consecutive_duplicates(keep, pool.equals, pool.droppable)] = False
    spans = pool.spans(keep)
    measured = pool.count(spans, encoding)

    texts = [""] * len(contexts)
    all_spans: list[tuple[tuple[int, int], ...]] = [()] * len(contexts)
    context_keep = [np.zeros(len(w), dtype=bool) for w in selection.all_words]
    position = 0
    for index, state, context_spans in zip(selection.kept_contexts, pool.states, spans):
        context_keep[index] = keep[position : position + len(state.words)]
        position += len(state.words)
        texts[index] = "".join(contexts[index][s:e] for s, e in context_spans)
        all_spans[index] = tuple(context_spans)
    word_scores = None
    if options.return_word_scores:
        word_scores = tuple(
            tuple(
                WordScore(s, e, p, k)
                for s, e, p, k in zip(c.words.starts.tolist(), c.words.ends.tolist(), c.prob.tolist(), flags.tolist())
            )
            for c, flags in zip(selection.states, context_keep)
        )
    return LLMLingua2Outcome(
        texts=tuple(texts),
        kept_spans=tuple(all_spans),
        word_scores=word_scores,
        kept_contexts=tuple(selection.kept_contexts),
        context_scores=tuple(float(s) for s in selection.context_scores),
        origin_tokens=selection.origin_tokens,
        compressed_tokens=measured,
        target_tokens=round(selection.target),
    )
