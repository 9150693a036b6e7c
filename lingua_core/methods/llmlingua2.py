"""LLMLingua-2: keep or drop whole words by a token classifier's keep probability.

The data path:

1. :func:`split_words`: words with exact char spans. Words are the unit of keep/drop, so a
   word is never cut, and the compressed text is a concatenation of original substrings.
2. :func:`chunk_words`: word ranges that fit the encoder window, cut at sentence ends where
   possible (the reference cuts at "." or "\\n" tokens), else between words.
3. :func:`keep_probabilities`: one batched, length-sorted forward pass per group of chunks
   (padding only to each batch's longest chunk, not to 512); softmax over the two labels,
   label 1 = keep, per sub-token.
4. :func:`aggregate`: sub-token probabilities to word probabilities through the tokenizer's
   character offsets, which works the same for WordPiece, SentencePiece and byte-level BPE
   without knowing the model's name.
5. Selection: by default ONE budget across all chunks (the reference thresholds each chunk
   on its own, so a chunk of filler keeps as much as a chunk of facts); words are taken in
   probability order until their cost in the *target* tokenizer reaches the budget.
   ``per_chunk=True`` reproduces the reference's per-chunk percentile for comparisons.

Word splitting (decided here, documented because it shapes every output):

* Words are whitespace-separated runs, with punctuation at the *edges* of a run split off
  as words of their own (runs of the same character stay together: "...", "**"); the
  reference's tokenizers do the same, so "end." can lose its word and keep its period.
  Punctuation *inside* a run stays attached ("3.14", "don't", "GPT-4", "a/b"), so dropping
  a word never glues two others together or turns "3.14" into "314". A run made only of
  punctuation ("->", "---", a CJK comma) is one word. Emoji and other symbols that are not
  math or currency signs stay attached, so emoji sequences are never split.
* CJK ideographs, kana and bopomofo are one word per character (as mBERT's tokenizer
  splits them): these scripts do not separate words with spaces, and a run would be a
  whole sentence. Hangul is written with spaces and follows the whitespace rule. Other
  scripts without spaces (Thai, Lao, ...) get one word per run; compression there is coarse.
* A force token made only of whitespace ("\\n") becomes a word of its own wherever it
  occurs, so that it can be kept; other whitespace belongs to the word after it.

Force tokens: every occurrence of each string in the text is kept, and a word that shares a
character with an occurrence is kept whole ("words that are or contain it"). The reference
gets the same effect by rewriting each force token to an added special token; a word that
merely contains one ("3.14" for ".") is kept here because words are never split.
``drop_consecutive`` then drops a word that *equals* a force token when the kept word before
it (in the same context) is the same string, as the reference does ("\\n\\n\\n" -> "\\n").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.assemble import kept_spans
from lingua_core.budget import fit_to_budget
from lingua_core.errors import InputError, ModelError
from lingua_core.methods.base import BudgetAsk, WordDecision
from lingua_core.models import LoadedModel, ModelKind
from lingua_core.progress import CompressionCancelled, Progress
from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.protect import ProtectOptions, find_protected_spans, holds_template_markup
from lingua_core.result import WordScore
from lingua_core.segments import find_segment_tags, parse_segments
from lingua_core.sentences import split_sentences
from lingua_core.tokens import count_tokens, get_encoding
from lingua_core.words import Aggregation, Words, aggregate_by, overlap_pairs, split_words, word_mask

__all__ = [
    "Aggregation",
    "Chunk",
    "LLMLingua2Options",
    "LLMLingua2Outcome",
    "Words",
    "aggregate",
    "chunk_words",
    "compress_llmlingua2",
    "encode_windows",
    "keep_probabilities",
    "kept_spans",
    "overlap_pairs",
    "split_words",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_MAX_SEQ_LEN = 512  # the window LLMLingua-2's checkpoints were trained with


@dataclass(frozen=True)
class LLMLingua2Options:
    """Knobs of the LLMLingua-2 pass; the defaults follow the reference except where noted."""

    aggregation: Aggregation = Aggregation.MEAN
    force_tokens: tuple[str, ...] = ("\n",)  # the reference's default is none; line structure matters in prompts
    force_reserve_digit: bool = False
    drop_consecutive: bool = False
    per_chunk: bool = False  # the reference's per-chunk threshold instead of one global budget
    batch_size: int = 16  # chunks per forward pass
    max_seq_len: int = DEFAULT_MAX_SEQ_LEN  # encoder window, capped by the model's positions
    protect: ProtectOptions = field(default_factory=ProtectOptions)
    return_word_scores: bool = False
    # Coarse filter over the contexts (documents) before the word level; when on and neither
    # context budget is given, the reference's defaults apply: (rate + 1) / 2, or 2 x target.
    use_context_filter: bool = False
    context_rate: float | None = None
    context_target_tokens: int | None = None
    force_context_ids: tuple[int, ...] = ()


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


# --- words as the reference cuts them ---------------------------------------------------


def pretokenized_words(text: str, tokenizer: Any, force_tokens: Sequence[str] = ()) -> Words:
    """Words as the tokenizer's own pre-tokenizer cuts them (the reference's word unit).

    The reference merges sub-tokens into words by the tokenizer's continuation marks, so a
    BERT word stops at every punctuation mark (``don ' t``) and an XLM-R word at whitespace.
    Used by ``per_chunk`` so that comparisons weigh the same units; falls back to
    :func:`split_words` for a tokenizer without a fast pre-tokenizer.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    if pre is None:
        return split_words(text, force_tokens)
    spans = [(start, end) for _, (start, end) in pre.pre_tokenize_str(text)]
    spans = [(start, end) for start, end in _non_space_pieces(text, spans) if end > start]
    whitespace = [t for t in force_tokens if t and not t.strip()]
    if whitespace:
        pattern = re.compile("|".join(re.escape(t) for t in sorted(set(whitespace), key=len, reverse=True)))
        spans.extend(m.span() for m in pattern.finditer(text))
        spans.sort()
    array = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    return Words(text, array[:, 0].copy(), array[:, 1].copy())


_NON_SPACE_RE = re.compile(r"\S+")


def _non_space_pieces(text: str, spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Pieces without whitespace: a Metaspace piece starts at its space and keeps newlines."""
    for start, end in spans:
        for match in _NON_SPACE_RE.finditer(text, start, end):
            yield match.span()


# --- chunks --------------------------------------------------------------------------------


def _model_window(lm: LoadedModel, max_seq_len: int) -> int:
    """Positions a chunk may use, specials included.

    RoBERTa-style encoders number positions from ``padding_idx + 1``, so a checkpoint with
    514 position embeddings takes 512 tokens; the embedding says so, the name need not.
    """
    window = min(max_seq_len, lm.max_positions)
    model_max = getattr(lm.tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        window = min(window, model_max)
    embeddings = getattr(getattr(lm.model, "base_model", None), "embeddings", None)
    positions = getattr(embeddings, "position_embeddings", None)
    padding_idx = getattr(positions, "padding_idx", None)
    size = getattr(positions, "num_embeddings", None)
    if isinstance(padding_idx, int) and isinstance(size, int):
        window = min(window, size - padding_idx - 1)
    return window


@dataclass(frozen=True)
class _TextTokens:
    """One pass of the tokenizer over a whole context: ids and absolute char offsets."""

    ids: list[int]
    offsets: IntArray  # (n, 2)


def _tokenize_whole(tokenizer: Any, words: Words) -> _TextTokens:
    encoded = tokenizer(words.text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    return _TextTokens(list(encoded["input_ids"]), np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2))


def _tokens_per_word(words: Words, tokens: _TextTokens) -> IntArray:
    """Model tokens each word needs, from the pass over the whole text.

    Whitespace-only tokens ("▁", "Ċ") are charged to the word after them, so the estimate
    errs long; :func:`_encode_chunks` checks the real count anyway.
    """
    word = np.searchsorted(words.ends, tokens.offsets[:, 0], side="right")
    word = np.minimum(word, len(words) - 1)
    return np.bincount(word, minlength=len(words)).astype(np.int64)


def _slices_are_exact(tokenizer: Any) -> bool:
    """Whether a chunk's tokens equal the whole text's tokens over the chunk's span.

    True for WordPiece (BERT, mBERT, MiniLM): it splits at whitespace and punctuation
    before the model sees a character, so cutting between words changes nothing. A
    SentencePiece or byte-level BPE tokenizer marks a word's leading space in the token,
    which a chunk starting at that word lacks: those chunks are tokenized afresh.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return type(getattr(backend, "model", None)).__name__ == "WordPiece"


def _slice_chunks(
    tokenizer: Any, contexts: list[Words], tokens: list[_TextTokens], ranges: list[tuple[int, int, int]], window: int
) -> list[Chunk] | None:
    """Chunks cut out of the whole-text tokens as ``[CLS] tokens [SEP]``, saving a second
    tokenizer pass; None when that layout is not the tokenizer's or a chunk does not fit
    (the estimate was off), so the caller falls back to re-encoding."""
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls_id is None or sep_id is None or tokenizer.num_special_tokens_to_add(pair=False) != 2:
        return None
    done: list[Chunk] = []
    for context, first, last in ranges:
        words, text_tokens = contexts[context], tokens[context]
        starts = text_tokens.offsets[:, 0]
        lo = int(np.searchsorted(starts, int(words.starts[first]), side="left"))
        hi = int(np.searchsorted(starts, int(words.ends[last - 1]), side="left"))
        inner = text_tokens.ids[lo:hi]
        row = [cls_id, *inner, sep_id]
        if len(row) > window:
            return None
        mask = np.zeros(len(row), dtype=bool)
        mask[[0, -1]] = True
        offsets = np.zeros((len(row), 2), dtype=np.int64)
        offsets[~mask] = text_tokens.offsets[lo:hi]
        done.append(Chunk(context, first, last, row, offsets, mask))
    return done


def chunk_words(
    words: Words, tokens_per_word: IntArray, budget: int, cuts: IntArray | None = None, cut_reach: int = 0
) -> list[tuple[int, int]]:
    """Word ranges ``[first, last)`` of at most ``budget`` estimated tokens each.

    A chunk ends at the last sentence end that fits (sentences as :func:`split_sentences`
    finds them, or the word indices ``cuts``), else at the last word that fits; a single word
    longer than the budget is a chunk of its own (its tail is not scored, see
    :func:`_encode_chunks`). ``cut_reach`` lets a chunk run that many tokens past the budget
    when it then ends at a cut: the reference's chunker does so by one token, and the
    encoder truncates that token.
    """
    count = len(words)
    if count == 0:
        return []
    if cuts is None:
        sentence_starts = np.asarray([start for start, _ in split_sentences(words.text)], dtype=np.int64)
        cuts = np.unique(np.searchsorted(words.starts, sentence_starts, side="left"))
    cumulative = np.concatenate(([0], np.cumsum(tokens_per_word)))
    chunks: list[tuple[int, int]] = []
    first = 0
    while first < count:
        last = int(np.searchsorted(cumulative, cumulative[first] + budget, side="right")) - 1
        if last >= count:
            chunks.append((first, count))
            break
        last = max(last, first + 1)
        if cut_reach:
            far = int(np.searchsorted(cumulative, cumulative[first] + budget + cut_reach, side="right")) - 1
            at = int(np.searchsorted(cuts, min(far, count), side="right")) - 1
            if at >= 0 and cuts[at] > last:
                chunks.append((first, int(cuts[at])))
                first = int(cuts[at])
                continue
        at = int(np.searchsorted(cuts, last, side="right")) - 1
        if at >= 0 and cuts[at] > first:
            last = int(cuts[at])
        chunks.append((first, last))
        first = last
    return chunks


@dataclass(frozen=True)
class Chunk:
    """One encoder window: a word range of one context and its tokens."""

    context: int
    first: int  # word range [first, last) of the context
    last: int
    ids: list[int]
    offsets: IntArray  # absolute char ranges in the context, (n, 2); specials are (0, 0)
    special: BoolArray


def _encode(tokenizer: Any, texts: list[str]) -> tuple[list[list[int]], list[IntArray], list[BoolArray]]:
    encoded = tokenizer(
        texts,
        add_special_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,
    )
    ids = [list(row) for row in encoded["input_ids"]]
    offsets = [np.asarray(row, dtype=np.int64).reshape(-1, 2) for row in encoded["offset_mapping"]]
    special = [np.asarray(row, dtype=bool) for row in encoded["special_tokens_mask"]]
    return ids, offsets, special


def _encode_chunks(
    tokenizer: Any, contexts: list[Words], ranges: list[tuple[int, int, int]], window: int, overshoot: int = 0
) -> list[Chunk]:
    """Tokenize each chunk with its specials; split any the estimate got wrong.

    Tokenizing a chunk alone can differ from the whole-text estimate at its edges (a
    SentencePiece "▁" in front), so a chunk over the window is halved at a word boundary
    and retried. A single word over the window keeps its first ``window`` tokens.
    """
    done: list[Chunk] = []
    pending = ranges
    while pending:
        texts = []
        for context, first, last in pending:
            words = contexts[context]
            texts.append(words.text[int(words.starts[first]) : int(words.ends[last - 1])])
        ids, offsets, special = _encode(tokenizer, texts)
        retry: list[tuple[int, int, int]] = []
        for (context, first, last), row, offset, mask in zip(pending, ids, offsets, special):
            if len(row) > window + overshoot and last - first > 1:
                middle = (first + last) // 2
                retry.extend([(context, first, middle), (context, middle, last)])
                continue
            if len(row) > window:
                keep = [*range(window - 1), len(row) - 1] if mask[-1] else list(range(window))
                row = [row[i] for i in keep]
                offset, mask = offset[keep], mask[keep]
            base = int(contexts[context].starts[first])
            absolute = np.where(mask[:, None], 0, offset + base).astype(np.int64)
            done.append(Chunk(context, first, last, row, absolute, mask))
        pending = retry
    done.sort(key=lambda c: (c.context, c.first))
    return done


# --- inference -----------------------------------------------------------------------------


def keep_probabilities(
    lm: LoadedModel,
    sequences: Sequence[list[int]],
    batch_size: int,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[FloatArray]:
    """Label-1 probability of every token of every sequence.

    Sequences are sorted by length and each batch is padded only to its longest member:
    a prompt's last chunk is usually short, and padding everything to 512 as the reference
    does costs up to a full extra forward pass per batch on a CPU.
    """
    import torch

    pad_id = lm.tokenizer.pad_token_id
    pad_id = 0 if pad_id is None else int(pad_id)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out: list[FloatArray] = [np.zeros(0)] * len(sequences)
    done = 0
    for begin in range(0, len(order), max(1, batch_size)):
        if cancelled is not None and cancelled():
            raise CompressionCancelled()
        batch = order[begin : begin + max(1, batch_size)]
        longest = max(len(sequences[i]) for i in batch)
        ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, index in enumerate(batch):
            length = len(sequences[index])
            ids[row, :length] = torch.as_tensor(sequences[index], dtype=torch.long)
            mask[row, :length] = 1
        # Rows of one length need no mask, and without one attention takes its fast kernels.
        uniform = all(len(sequences[i]) == longest for i in batch)
        with torch.inference_mode():
            logits = lm.model(
                input_ids=ids.to(lm.device), attention_mask=None if uniform else mask.to(lm.device)
            ).logits
        if logits.shape[-1] < 2:
            raise ModelError("LLMLingua-2 needs a token classifier with 2 labels (drop, keep).")
        probs = logits.float().softmax(dim=-1)[..., 1].cpu().double().numpy()
        for row, index in enumerate(batch):
            out[index] = probs[row, : len(sequences[index])]
        done += len(batch)
        if progress is not None:
            progress(done, len(sequences))
    return out


def aggregate(
    words: Words, starts: IntArray, ends: IntArray, probs: FloatArray, how: Aggregation
) -> tuple[FloatArray, BoolArray]:
    """Word probabilities from token probabilities; tokens must be in text order.

    Returns the probabilities and which words had any token (the rest are NaN: characters
    the tokenizer drops, such as a lone zero-width joiner, or forced whitespace words).
    """
    count = len(words)
    token, word = overlap_pairs(words, starts, ends)
    scored = np.bincount(word, minlength=count) > 0
    result = aggregate_by(probs[token], word, count, how)
    return result, scored


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


def _consecutive_duplicates(keep: BoolArray, equals: IntArray, droppable: BoolArray) -> IntArray:
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


def encode_windows(lm: LoadedModel, all_words: list[Words], max_seq_len: int, per_chunk: bool = False) -> list[Chunk]:
    """Every context cut into encoder windows and tokenized, specials included.

    Classifier training encodes its labelled texts through here too, so a model learns on
    exactly the windows and sub-tokens it will score at inference.
    """
    window = _model_window(lm, max_seq_len)
    room = window - int(lm.tokenizer.num_special_tokens_to_add(pair=False))
    if room < 8:
        raise ModelError(f"The encoder window ({window} positions) is too small for LLMLingua-2.")
    tokens = [_tokenize_whole(lm.tokenizer, words) for words in all_words]
    ranges = [
        (i, first, last)
        for i, words in enumerate(all_words)
        if len(words)
        for first, last in chunk_words(
            words,
            _tokens_per_word(words, tokens[i]),
            room,
            _reference_cuts(words) if per_chunk else None,
            cut_reach=1 if per_chunk else 0,
        )
    ]
    # The reference rule re-tokenizes each chunk's text, as the reference does.
    if not per_chunk and _slices_are_exact(lm.tokenizer):
        sliced = _slice_chunks(lm.tokenizer, all_words, tokens, ranges, window)
        if sliced is not None:
            return sliced
    return _encode_chunks(lm.tokenizer, all_words, ranges, window, overshoot=1 if per_chunk else 0)


def _score(
    lm: LoadedModel,
    all_words: list[Words],
    options: LLMLingua2Options,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> list[tuple[FloatArray, BoolArray, IntArray]]:
    """Per context: word keep-probabilities, which words the model saw, each word's chunk."""
    chunks = encode_windows(lm, all_words, options.max_seq_len, options.per_chunk)
    token_probs = keep_probabilities(lm, [c.ids for c in chunks], options.batch_size, progress, cancelled)
    by_context: dict[int, list[int]] = {}
    for k, c in enumerate(chunks):
        by_context.setdefault(c.context, []).append(k)
    results = []
    for i, words in enumerate(all_words):
        mine = by_context.get(i, [])
        chunk_of = np.zeros(len(words), dtype=np.int64)
        if not mine:
            results.append((np.full(len(words), 0.5), np.zeros(len(words), dtype=bool), chunk_of))
            continue
        offsets = np.concatenate([chunks[k].offsets[~chunks[k].special] for k in mine])
        probs = np.concatenate([token_probs[k][~chunks[k].special] for k in mine])
        prob, scored = aggregate(words, offsets[:, 0], offsets[:, 1], probs, options.aggregation)
        for k in mine:
            chunk_of[chunks[k].first : chunks[k].last] = k
        # Words the model never saw take their chunk's mean: neutral in the heat view.
        sums = np.bincount(chunk_of[scored], weights=prob[scored], minlength=len(chunks))
        counts = np.bincount(chunk_of[scored], minlength=len(chunks))
        chunk_mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.5)
        results.append((np.where(scored, prob, chunk_mean[chunk_of]), scored, chunk_of))
    return results


def _reference_cuts(words: Words) -> IntArray:
    """After every ``.`` or newline word: where the reference lets a chunk end."""
    ends = [
        i + 1
        for i, (a, b) in enumerate(zip(words.starts.tolist(), words.ends.tolist()))
        if words.text[a:b] in {".", "\n"}
    ]
    return np.asarray(ends, dtype=np.int64)


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
            duplicates = _consecutive_duplicates(keep, pool.equals, pool.droppable)
            if duplicates.size == 0 or options.per_chunk:
                break
            blocked[duplicates] = True
            keep = once()
        keep[_consecutive_duplicates(keep, pool.equals, pool.droppable)] = False
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


def _select_words(
    lm: LoadedModel,
    contexts: Sequence[str],
    rate: float | None,
    target_tokens: int | None,
    encoding: str,
    options: LLMLingua2Options,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> _Selection:
    _validate(rate, target_tokens, contexts)
    if lm.kind is not ModelKind.TOKEN_CLASSIFIER:
        raise ModelError(f"LLMLingua-2 needs a token classifier; {lm.name} is a {lm.kind.value}.")
    force_tokens = tuple(dict.fromkeys(t for t in options.force_tokens if t))
    if options.per_chunk:
        all_words = [pretokenized_words(text, lm.tokenizer, force_tokens) for text in contexts]
    else:
        all_words = [split_words(text, force_tokens) for text in contexts]
    scored = _score(lm, all_words, options, progress, cancelled)

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
    compress_instruction = prompt.compress_instruction and bool(prompt.instruction)
    contexts = [prompt.instruction, *prompt.contexts] if compress_instruction else list(prompt.contexts)
    origin_tokens = count_tokens(prompt.text, ask.encoding)
    target = ask.target_tokens if ask.target_tokens is not None else max(1, round(origin_tokens * (ask.rate or 1.0)))
    fixed_parts = [p for p in (None if compress_instruction else prompt.instruction, prompt.question) if p]
    fixed_tokens = sum(count_tokens(p + SEPARATOR, ask.encoding) for p in fixed_parts)
    context_target = max(1, target - fixed_tokens)
    selection = _select_words(lm, contexts, None, context_target, ask.encoding, options, progress, cancelled)
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
        scores=_fit_scores(pool, selection.keep, options),
        fixed=pool.fixed,
        kept_contexts=kept,
        context_starts=tuple(starts),
        heat=np.nan_to_num(pool.prob, nan=0.5),
        exact_budget=not options.per_chunk,
        details={"context_scores": [float(x) for x in selection.context_scores]},
    )


def _fit_scores(pool: _Pool, keep: BoolArray, options: LLMLingua2Options) -> FloatArray:
    """The words' probabilities for the budget fit; duplicates ``drop_consecutive`` removed may not come back."""
    scores = np.nan_to_num(pool.prob, nan=0.5)
    if options.drop_consecutive:
        dropped_duplicates = ~keep & (pool.equals >= 0) & pool.droppable
        scores = np.where(dropped_duplicates, -np.inf, scores)
    return scores


def compress_llmlingua2(
    lm: LoadedModel,
    contexts: Sequence[str],
    *,
    rate: float | None = None,
    target_tokens: int | None = None,
    encoding: str = "o200k_base",
    options: LLMLingua2Options = LLMLingua2Options(),
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
    selection = _select_words(lm, contexts, rate, target_tokens, encoding, options, progress, cancelled)
    pool = selection.pool
    keep = selection.keep
    if not options.per_chunk and selection.desired > 0:
        keep = fit_to_budget(
            keep,
            _fit_scores(pool, keep, options),
            pool.fixed,
            lambda mask: pool.count(pool.spans(mask), encoding),
            max(1, round(selection.desired)),
        )
        if options.drop_consecutive:  # words the fit dropped can bring two copies together
            keep[_consecutive_duplicates(keep, pool.equals, pool.droppable)] = False
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
