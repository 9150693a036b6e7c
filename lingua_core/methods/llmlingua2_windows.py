"""LLMLingua-2, text to encoder windows: words, chunks and their sub-tokens.

Apart from the model pass and the budget because classifier training cuts and tokenizes
its labelled texts through here too, so it learns on exactly the windows it will score.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.errors import ModelError
from lingua_core.models import LoadedModel
from lingua_core.sentences import split_sentences
from lingua_core.words import Words, split_words

__all__ = ["Chunk", "chunk_words", "encode_windows", "pretokenized_words"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


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


def _reference_cuts(words: Words) -> IntArray:
    """After every ``.`` or newline word: where the reference lets a chunk end."""
    ends = [
        i + 1
        for i, (a, b) in enumerate(zip(words.starts.tolist(), words.ends.tolist()))
        if words.text[a:b] in {".", "\n"}
    ]
    return np.asarray(ends, dtype=np.int64)


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
