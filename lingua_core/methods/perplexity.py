"""Perplexity of many short texts at once: the coarse (context and sentence) budget controllers.

The reference scores each demonstration or document with its own forward pass. Batching
them by similar length, with right padding and an attention mask, gives the same numbers
in a fraction of the time: on a CPU the per-call overhead and the small matrix shapes of
one-by-one scoring waste most of the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

FloatArray = npt.NDArray[np.float64]

TOKENS_PER_BATCH = 4096
# What one more forward call costs, in tokens: the fixed work per layer (kernel launches, the
# Python of the model's forward) that a batch pays whatever its size; measured on a 2-core CPU.
CALL_OVERHEAD_TOKENS = 64
LOGIT_ROWS = 1024  # positions whose vocabulary-wide logits exist at once (1024 x 49k x 2 B = 100 MB)


def next_token_losses(model: Any, ids: torch.Tensor, mask: torch.Tensor, cache: Any = None) -> torch.Tensor:
    """Cross-entropy of tokens 1..n-1 of each row where ``mask[:, 1:]`` is set; elsewhere 0.

    Rows are right-padded, so under causal attention no real token ever sees the padding:
    no attention mask is needed, which keeps the fast causal attention kernels. Logits are
    computed only for the positions asked for, a slice at a time: the vocabulary projection
    is a fifth of a small LM's work per token, and a question-aware ranking needs it only
    on the question's tokens. A ``CompressedCache`` given as ``cache`` keeps the keys and
    values of the rows (the iterative step starts from it).
    """
    targets = ids[:, 1:]
    valid = mask[:, 1:].bool()
    losses = torch.zeros(targets.shape, dtype=torch.float32, device=ids.device)
    head = model.get_output_embeddings()
    body = getattr(model, "model", None)
    if head is None or body is None:
        kept = {} if cache is None else cache.forward_kwargs()
        logits = model(input_ids=ids, **kept).logits[:, :-1]
        full = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        return torch.where(valid, full.float(), losses)
    kept = {} if cache is None else cache.forward_kwargs()
    hidden = body(input_ids=ids, **kept).last_hidden_state[:, :-1][valid]
    wanted = targets[valid]
    parts = []
    for start in range(0, hidden.shape[0], LOGIT_ROWS):
        logits = head(hidden[start : start + LOGIT_ROWS])
        parts.append(torch.nn.functional.cross_entropy(logits, wanted[start : start + LOGIT_ROWS], reduction="none"))
    losses[valid] = torch.cat(parts).float() if parts else losses[valid]
    return losses


def mean_losses(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    device: Any,
    max_positions: int,
    condition: str | None = None,
    tokens_per_batch: int = TOKENS_PER_BATCH,
) -> FloatArray:
    """Mean next-token loss of each text, or of ``condition`` appended after it.

    With ``condition`` (LongLLMLingua's question), the mean runs over the condition's tokens
    only: how well the text prepares the model for the question. A text with nothing to
    score gets NaN.
    """
    sequences: list[list[int]] = []
    scored_from: list[int] = []
    for text in texts:
        ids = list(tokenizer(text if condition is None else text + condition).input_ids)[:max_positions]
        sequences.append(ids)
        if condition is None:
            scored_from.append(0)
        else:
            # The first loss position that predicts a condition token, as the reference counts it.
            scored_from.append(max(0, len(tokenizer(text).input_ids) - 1))
    result = np.full(len(texts), np.nan)
    for batch in length_buckets([len(seq) for seq in sequences], tokens_per_batch):
        _score_batch(model, sequences, scored_from, batch, result, device)
    return result


def length_buckets(
    lengths: Sequence[int], tokens_per_batch: int, call_overhead: int = CALL_OVERHEAD_TOKENS
) -> list[list[int]]:
    """Group texts into right-padded batches so that padding plus per-call overhead is least.

    Every padded position costs as much as a real token, and GSM8K's demonstrations range
    from 250 to 470 tokens: one batch padded to the longest wastes 40% of the pass, one call
    per text pays the per-call overhead eight times. Over the texts sorted by length, the
    best split into contiguous runs is a small dynamic programme (a run costs its rows times
    its longest length, plus ``call_overhead``), with at most ``tokens_per_batch`` padded
    positions in a run.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    sizes = np.asarray([max(1, lengths[i]) for i in order], dtype=np.int64)
    count = sizes.shape[0]
    best = np.zeros(count + 1, dtype=np.int64)  # best[j]: least cost of the first j texts
    start_of = np.zeros(count + 1, dtype=np.int64)
    for end in range(1, count + 1):
        width = int(sizes[end - 1])
        rows = max(1, min(end, tokens_per_batch // width))
        starts = np.arange(end - rows, end)
        costs = best[starts] + (end - starts) * width + call_overhead
        pick = int(np.argmin(costs))
        best[end], start_of[end] = costs[pick], starts[pick]
    buckets: list[list[int]] = []
    end = count
    while end > 0:
        start = int(start_of[end])
        buckets.append([order[i] for i in range(start, end)])
        end = start
    return buckets[::-1]


@torch.inference_mode()
def _score_batch(
    model: Any,
    sequences: list[list[int]],
    scored_from: list[int],
    batch: list[int],
    result: FloatArray,
    device: Any,
) -> None:
    width = max(len(sequences[i]) for i in batch)
    if width < 2:
        return
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, index in enumerate(batch):
        seq = sequences[index]
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        # mask[:, 1:] selects the loss positions: token t's loss sits at index t - 1
        mask[row, scored_from[index] + 1 : len(seq)] = 1
    ids, mask = ids.to(device), mask.to(device)
    losses = next_token_losses(model, ids, mask)
    valid = mask[:, 1:].bool()
    for row, index in enumerate(batch):
        row_losses = losses[row][valid[row]]
        if row_losses.numel():
            # Averaged in the model's dtype, as the reference does: its rounding decides ties
            # between near-equal contexts, and ties are broken by position.
            result[index] = float(row_losses.to(model.dtype).mean())
