"""LLMLingua-2, word probabilities to the keep mask under the budget.

Apart from tokenization and the model pass because the budget rules (one global budget or
the reference's per-chunk percentile, force tokens, segments, the context filter) are what
changes most, and can be read and tested here without an encoder in mind.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.assemble import kept_spans
from lingua_core.errors import InputError, ModelError
from lingua_core.methods.llmlingua2_options import LLMLingua2Options
from lingua_core.methods.llmlingua2_scores import KeepProbabilitiesAsk, score_steps
from lingua_core.methods.llmlingua2_windows import pretokenized_words
from lingua_core.methods.steps import run_alone
from lingua_core.models import LoadedModel, ModelKind
from lingua_core.progress import Progress
from lingua_core.protect import find_protected_spans, holds_template_markup
from lingua_core.segments import find_segment_tags, parse_segments
from lingua_core.tokens import get_encoding
from lingua_core.words import Words, split_words, word_mask

__all__ = ["consecutive_duplicates", "fit_scores", "select_words"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --- budgets and selection -----------------------------------------------------------------


def _unit_costs(words: Words, encoding: str) -> IntArray:
    """Target-tokenizer tokens of each word with its leading whitespace (each distinct one once).

    Words repeat a lot, so encoding the distinct units one by one beats a batched call,
    whose thread pool costs more per short string than the encoding itself.
    """
    enc = get_encoding(encoding)
    units = words.units()
    counts = {unit: len(enc.encode_ordinary(unit)) for unit in dict.fromkeys(units)}
    return np.asarray([counts[u] for u in units], dtype=np.int64).reshape(-1)


def _reference_weights(words: Words, tokenizer: Any) -> FloatArray:
    """Per-chunk percentile weights as the reference computes them, for comparisons.

    The reference weighs each word by its gpt-3.5 (cl100k) tokens counted on the word as its
    own tokenizer rebuilt it: no leading space, normalised (lower-cased by an uncased BERT),
    which counts ``melanie`` as two tokens where `` Melanie`` in the text is one.
    """
    enc = get_encoding("cl100k_base")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    normalizer = getattr(backend, "normalizer", None)
    counts: dict[str, int] = {}
    out = np.empty(len(words), dtype=np.float64)
    for index, (start, end) in enumerate(zip(words.starts.tolist(), words.ends.tolist())):
        word = words.text[start:end].strip()
        if normalizer is not None and word:
            word = normalizer.normalize_str(word)
        if word not in counts:
            counts[word] = max(1, len(enc.encode_ordinary(word)))
        out[index] = counts[word]
    return out


def _take_in_order(order: IntArray, cost: FloatArray, budget: float, keep: BoolArray) -> None:
    """Keep the longest prefix of ``order`` whose cost is nearest to ``budget``."""
    if order.size == 0 or budget <= 0:
        return
    cumulative = np.cumsum(cost[order])
    n = int(np.searchsorted(cumulative, budget, side="right"))
    below = cumulative[n - 1] if n else 0.0
    if n < order.size and cumulative[n] - budget < budget - below:
        n += 1
    keep[order[:n]] = True


def _select_global(
    prob: FloatArray, cost: FloatArray, group: IntArray, budgets: dict[int, float], fixed: BoolArray, blocked: BoolArray
) -> BoolArray:
    """Per budget group, the fixed words plus the most probable others up to its budget."""
    keep = fixed & ~blocked
    for index, budget in budgets.items():
        members = group == index
        remaining = budget - float(cost[members & keep].sum())
        candidates = np.flatnonzero(members & ~keep & ~blocked)
        order = candidates[np.argsort(-prob[candidates], kind="stable")]
        _take_in_order(order, cost, remaining, keep)
    return keep


def _select_per_chunk(
    prob: FloatArray,
    cost: FloatArray,
    group: IntArray,
    rates: dict[int, float],
    fixed: BoolArray,
    chunk: IntArray,
    scored: BoolArray,
) -> BoolArray:
    """The reference's rule: in each chunk, keep words above the rate's token-weighted percentile.

    Forced words enter the pool at probability 1.0, and the percentile is the reference's
    ``int(100 * reduce_rate + 1)``, so the same inputs give the same cut. A word the encoder
    never saw (the token past a full window) is not in the reference's word list at all: it
    neither joins the pool nor survives.
    """
    keep = fixed.copy()
    pooled = np.where(fixed, 1.0, prob)
    for index, rate in rates.items():
        members = group == index
        if rate >= 1.0:
            keep |= members
            continue
        for chunk_id in np.unique(chunk[members]):
            sel = np.flatnonzero(members & (chunk == chunk_id) & (scored | fixed))
            if sel.size == 0:
                continue
            weights = np.maximum(cost[sel].astype(np.int64), 1)
            pool = np.repeat(pooled[sel], weights)
            threshold = float(np.percentile(pool, min(100, int(100 * (1.0 - rate) + 1))))
            chosen = (pooled[sel] > threshold) | ((threshold == 1.0) & (pooled[sel] == threshold))
            keep[sel[chosen]] = True
    return keep


def consecutive_duplicates(keep: BoolArray, equals: IntArray, droppable: BoolArray) -> IntArray:
    """Kept words equal to a force token right after a kept copy of the same token."""
    kept = np.flatnonzero(keep)
    key = equals[kept]
    previous = np.concatenate(([-1], key[:-1]))
    duplicate: BoolArray = (key >= 0) & (key == previous) & droppable[kept]
    result: IntArray = kept[duplicate].astype(np.int64)
    return result


# --- the pass ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    words: Words
    prob: FloatArray
    scored: BoolArray
    cost: FloatArray
    group: IntArray  # 0: the global budget; k > 0: a rated <llmlingua> segment; -1: kept verbatim
    must: BoolArray  # protected, or verbatim (group -1): never dropped
    forced: BoolArray  # force tokens and digits (drop_consecutive may still drop duplicates)
    equals: IntArray  # index of the force token the word is, or -1
    chunk: IntArray  # global chunk index of each word
    tokens: int  # target-encoding tokens of the whole context
    weight: FloatArray  # a word's weight in the per-chunk percentile (``per_chunk`` only)


def _validate(rate: float | None, target_tokens: int | None, contexts: Sequence[str]) -> None:
    if (rate is None) == (target_tokens is None):
        raise InputError("Give either a rate or a target token count (exactly one).")
    if rate is not None and (math.isnan(rate) or not 0.0 < rate <= 1.0):
        raise InputError(f"rate must be in (0, 1] (the share of tokens to keep); got {rate}.")
    if target_tokens is not None and target_tokens < 1:
        raise InputError(f"target tokens must be a positive whole number; got {target_tokens}.")
    if not all(isinstance(c, str) for c in contexts):
        raise InputError("contexts must be strings.")


def _force_marks(words: Words, force_tokens: Sequence[str], reserve_digit: bool) -> tuple[BoolArray, IntArray]:
    """Words touching a force-token occurrence (or holding a digit), and which token each equals."""
    text = words.text
    forced = np.zeros(len(words), dtype=bool)
    equals = np.full(len(words), -1, dtype=np.int64)
    tokens = [t for t in dict.fromkeys(force_tokens) if t]
    if tokens and len(words):
        pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))
        forced |= word_mask(words, [m.span() for m in pattern.finditer(text)])
        lookup = {t: i for i, t in enumerate(tokens)}
        candidates = np.flatnonzero(forced & (words.ends - words.starts <= max(map(len, tokens))))
        for w in candidates.tolist():
            equals[w] = lookup.get(text[int(words.starts[w]) : int(words.ends[w])], -1)
    if reserve_digit and len(words):
        forced |= word_mask(words, [m.span() for m in re.finditer(r"\d", text)])
    return forced, equals


def _groups(words: Words, next_group: int, tags_verbatim: bool) -> tuple[IntArray, dict[int, float]]:
    """Budget group of each word from the ``<llmlingua>`` segments, and the rated groups' rates.

    Group 0 shares the global budget, group k > 0 is a rated segment with its own budget, and
    -1 is kept verbatim outside every budget: ``compress=false`` content and, when they are
    protected, the tags themselves (markup, which the caller may strip, not prompt text).
    """
    group = np.zeros(len(words), dtype=np.int64)
    rates: dict[int, float] = {}
    for segment in parse_segments(words.text):
        if segment.compress and segment.rate is None:
            continue
        inside = (words.starts >= segment.start) & (words.starts < segment.end)
        if not segment.compress:
            group[inside] = -1
        else:
            group[inside] = next_group
            rates[next_group] = float(segment.rate or 1.0)
            next_group += 1
    if tags_verbatim:
        group[word_mask(words, find_segment_tags(words.text))] = -1
    return group, rates


def _pinned(text: str, state: _Context, index: int, options: LLMLingua2Options) -> bool:
    """A context the context filter must keep: asked for, or holding placeholders or verbatim segments."""
    if index in options.force_context_ids or bool((state.group < 0).any()):
        return True
    return holds_template_markup(text, options.protect)


def _select_contexts(
    states: list[_Context],
    texts: Sequence[str],
    scores: FloatArray,
    rate: float | None,
    target_tokens: int | None,
    options: LLMLingua2Options,
) -> list[int]:
    """Best-scoring contexts until the context-level budget, in original order."""
    count = len(states)
    if not options.use_context_filter or count <= 1:
        return list(range(count))
    tokens = np.asarray([c.tokens for c in states], dtype=np.float64)
    if options.context_target_tokens is not None:
        budget = float(options.context_target_tokens)
    elif options.context_rate is not None:
        budget = options.context_rate * float(tokens.sum())
    elif target_tokens is not None:
        budget = 2.0 * target_tokens
    else:
        budget = (float(rate or 1.0) + 1.0) / 2.0 * float(tokens.sum())
    keep = np.asarray([_pinned(text, c, i, options) for i, (text, c) in enumerate(zip(texts, states))], dtype=bool)
    order = np.argsort(-np.nan_to_num(scores, nan=0.0), kind="stable")
    order = order[~keep[order]].astype(np.int64)
    if not keep.any():
        keep[order[0]] = True  # never drop every context
        order = order[1:]
    _take_in_order(order, tokens, budget - float(tokens[keep].sum()), keep)
    return np.flatnonzero(keep).tolist()


@dataclass(frozen=True)
class _Pool:
    """The kept contexts' words side by side, as the selection sees them."""

    states: list[_Context]
    prob: FloatArray
    cost: FloatArray
    weight: FloatArray
    group: IntArray
    chunk: IntArray
    scored: BoolArray  # the model saw the word
    fixed: BoolArray  # kept whatever the budget
    droppable: BoolArray  # may be dropped as a consecutive duplicate
    equals: IntArray  # force token each word equals, numbered per context

    @classmethod
    def build(cls, states: list[_Context], force_count: int) -> _Pool:
        def cat(name: str, dtype: type[Any]) -> Any:
            parts = [getattr(state, name) for state in states]
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        group, must = cat("group", np.int64), cat("must", np.bool_)
        # Duplicates only collapse within a context, so each context numbers the tokens anew.
        equals = [np.where(c.equals >= 0, c.equals + force_count * j, -1) for j, c in enumerate(states)]
        return cls(
            states=states,
            prob=cat("prob", np.float64),
            cost=cat("cost", np.float64),
            weight=cat("weight", np.float64),
            group=group,
            chunk=cat("chunk", np.int64),
            scored=cat("scored", np.bool_),
            fixed=must | cat("forced", np.bool_) | (group < 0),
            droppable=~must & (group >= 0),
            equals=np.concatenate(equals).astype(np.int64) if equals else np.zeros(0, dtype=np.int64),
        )

    def spans(self, keep: BoolArray) -> list[list[tuple[int, int]]]:
        out, position = [], 0
        for state in self.states:
            out.append(kept_spans(state.words, keep[position : position + len(state.words)]))
            position += len(state.words)
        return out

    def count(self, spans: list[list[tuple[int, int]]], encoding: str) -> int:
        enc = get_encoding(encoding)
        return sum(
            len(enc.encode_ordinary("".join(c.words.text[s:e] for s, e in sp))) for c, sp in zip(self.states, spans)
        )


def _select(pool: _Pool, budgets: dict[int, float], rates: dict[int, float], options: LLMLingua2Options) -> BoolArray:
    """The keep mask under ``budgets`` (global) or ``rates`` (per chunk), duplicates collapsed."""
    blocked = np.zeros(pool.prob.shape[0], dtype=bool)

    def once() -> BoolArray:
        if options.per_chunk:
            return _select_per_chunk(pool.prob, pool.weight, pool.group, rates, pool.fixed, pool.chunk, pool.scored)
        return _select_global(pool.prob, pool.cost, pool.group, budgets, pool.fixed, blocked)

    keep = once()
    if options.drop_consecutive:
        for _ in range(3):  # let the budget a dropped duplicate freed go to other words
            duplicates = consecutive_duplicates(keep, pool.equals, pool.droppable)
            if duplicates.size == 0 or options.per_chunk:
                break
            blocked[duplicates] = True
            keep = once()
        keep[consecutive_duplicates(keep, pool.equals, pool.droppable)] = False
    return keep


@dataclass(frozen=True)
class _Selection:
    """The pass up to its first keep mask: what both entry points (seam and legacy) share."""

    contexts: tuple[str, ...]
    all_words: list[Words]
    states: list[_Context]
    kept_contexts: list[int]
    context_scores: FloatArray
    pool: _Pool
    keep: BoolArray
    origin_tokens: int
    target: float  # target-encoding tokens the contexts should reach
    desired: float  # the same, with verbatim and rated segments as they will be


def select_words(
    lm: LoadedModel,
    contexts: Sequence[str],
    rate: float | None,
    target_tokens: int | None,
    encoding: str,
    options: LLMLingua2Options,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> _Selection:
    selection: _Selection = run_alone(
        select_words_steps(lm, contexts, rate, target_tokens, encoding, options, progress), lm, cancelled
    )
    return selection


def select_words_steps(
    lm: LoadedModel,
    contexts: Sequence[str],
    rate: float | None,
    target_tokens: int | None,
    encoding: str,
    options: LLMLingua2Options,
    progress: Progress | None,
) -> Generator[KeepProbabilitiesAsk, Any, _Selection]:
    """``select_words`` as steps: the classifier's work is asked for (``lingua_core.methods.steps``)."""
    _validate(rate, target_tokens, contexts)
    if lm.kind is not ModelKind.TOKEN_CLASSIFIER:
        raise ModelError(f"LLMLingua-2 needs a token classifier; {lm.name} is a {lm.kind.value}.")
    force_tokens = tuple(dict.fromkeys(t for t in options.force_tokens if t))
    if options.per_chunk:
        all_words = [pretokenized_words(text, lm.tokenizer, force_tokens) for text in contexts]
    else:
        all_words = [split_words(text, force_tokens) for text in contexts]
    scored = yield from score_steps(lm, all_words, options, progress)

    enc = get_encoding(encoding)
    states: list[_Context] = []
    segment_rates: dict[int, float] = {}
    for words, (prob, seen, chunk_of) in zip(all_words, scored):
        group, rates = _groups(words, 1 + len(segment_rates), options.protect.keep_segment_tags)
        segment_rates.update(rates)
        protected = [(s.start, s.end) for s in find_protected_spans(words.text, options.protect)]
        forced, equals = _force_marks(words, force_tokens, options.force_reserve_digit)
        states.append(
            _Context(
                words=words,
                prob=prob,
                scored=seen,
                cost=(cost := _unit_costs(words, encoding).astype(np.float64)),
                weight=_reference_weights(words, lm.tokenizer) if options.per_chunk else cost,
                group=group,
                must=word_mask(words, protected) | (group < 0),
                forced=forced,
                equals=equals,
                chunk=chunk_of,
                tokens=len(enc.encode_ordinary(words.text)),
            )
        )
    context_scores = np.asarray(
        [float(c.prob[c.scored].mean()) if c.scored.any() else math.nan for c in states], dtype=np.float64
    )
    kept_contexts = _select_contexts(states, contexts, context_scores, rate, target_tokens, options)
    origin_tokens = sum(c.tokens for c in states)
    target = float(target_tokens) if target_tokens is not None else float(rate or 1.0) * origin_tokens

    pool = _Pool.build([states[i] for i in kept_contexts], max(1, len(force_tokens)))
    # Budgets are in summed per-word costs; ``scale`` converts them to measured tokens
    # (merges across word boundaries make the two differ by a few percent).
    scale = origin_tokens / max(1.0, float(sum(float(c.cost.sum()) for c in states)))
    rated = {g: r * float(pool.cost[pool.group == g].sum()) for g, r in segment_rates.items()}
    verbatim = float(pool.cost[pool.group < 0].sum())
    if rate is not None:
        main_budget = rate * float(sum(float(c.cost[c.group == 0].sum()) for c in states))
        desired = (main_budget + sum(rated.values()) + verbatim) * scale
        main_rate = rate
    else:
        main_budget = target / scale - sum(rated.values()) - verbatim
        desired = target
        main_rate = min(1.0, target / max(1.0, float(pool.cost.sum()) * scale))  # the reference's rate
    keep = _select(pool, {0: main_budget, **rated}, {0: main_rate, **segment_rates}, options)
    return _Selection(
        tuple(contexts), all_words, states, kept_contexts, context_scores, pool, keep, origin_tokens, target, desired
    )


def fit_scores(pool: _Pool, keep: BoolArray, options: LLMLingua2Options) -> FloatArray:
    """The words' probabilities for the budget fit; duplicates ``drop_consecutive`` removed may not come back."""
    scores = np.nan_to_num(pool.prob, nan=0.5)
    if options.drop_consecutive:
        dropped_duplicates = ~keep & (pool.equals >= 0) & pool.droppable
        scores = np.where(dropped_duplicates, -np.inf, scores)
    return scores
