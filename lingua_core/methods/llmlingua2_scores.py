"""LLMLingua-2, encoder windows to word keep-probabilities.

Apart from the budget rules because training's evaluation and the benchmarks read the
classifier's word probabilities exactly as inference does, with no selection in the way.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lingua_core.errors import ModelError
from lingua_core.methods.llmlingua2_options import LLMLingua2Options
from lingua_core.methods.llmlingua2_windows import encode_windows
from lingua_core.methods.steps import run_alone
from lingua_core.models import LoadedModel
from lingua_core.progress import CompressionCancelled, Progress
from lingua_core.words import Aggregation, Words, aggregate_by, overlap_pairs

__all__ = ["KeepProbabilitiesAsk", "aggregate", "keep_probabilities", "score", "score_steps"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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


@dataclass(frozen=True)
class KeepProbabilitiesAsk:
    """A prompt's encoder windows, whose keep probabilities prompts can share forwards for
    (``lingua_core.methods.steps``): a short document is one window, and a forward over one
    short window wastes most of a CPU."""

    sequences: list[list[int]]
    batch_size: int
    progress: Progress | None = None

    def alone(self, lm: LoadedModel, cancelled: Callable[[], bool] | None) -> list[FloatArray]:
        return keep_probabilities(lm, self.sequences, self.batch_size, self.progress, cancelled)

    @classmethod
    def together(
        cls, lm: LoadedModel, asks: Sequence[KeepProbabilitiesAsk], cancelled: Callable[[], bool] | None
    ) -> list[list[FloatArray]]:
        every = [sequence for ask in asks for sequence in ask.sequences]
        probabilities = keep_probabilities(lm, every, max(ask.batch_size for ask in asks), None, cancelled)
        answers, start = [], 0
        for ask in asks:
            answers.append(probabilities[start : start + len(ask.sequences)])
            start += len(ask.sequences)
        return answers


def score(
    lm: LoadedModel,
    all_words: list[Words],
    options: LLMLingua2Options,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> list[tuple[FloatArray, BoolArray, IntArray]]:
    """Per context: word keep-probabilities, which words the model saw, each word's chunk."""
    result: list[tuple[FloatArray, BoolArray, IntArray]] = run_alone(
        score_steps(lm, all_words, options, progress), lm, cancelled
    )
    return result


def score_steps(
    lm: LoadedModel, all_words: list[Words], options: LLMLingua2Options, progress: Progress | None
) -> Generator[KeepProbabilitiesAsk, list[FloatArray], list[tuple[FloatArray, BoolArray, IntArray]]]:
    """``score`` as steps: the windows' keep probabilities are asked for, not computed."""
    chunks = encode_windows(lm, all_words, options.max_seq_len, options.per_chunk)
    token_probs = yield KeepProbabilitiesAsk([c.ids for c in chunks], options.batch_size, progress)
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
