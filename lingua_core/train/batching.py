"""Batches for token-level training: grouped by length, padded, labels masked.

Both trainers (the LLMLingua-2 classifier and the causal LM's alignment) learn from
examples that are token ids with one label per token, so they share how those become
tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

IGNORE_INDEX = -100  # the label cross-entropy skips: padding, specials, untrained tokens


class LabelledTokens(Protocol):
    @property
    def input_ids(self) -> Sequence[int]: ...

    @property
    def labels(self) -> Sequence[int]: ...


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: Sequence[int]) -> list[list[int]]:
    """Shuffled batches of similar lengths, so padding costs little; the same seed gives the same
    batches, which is what lets a resumed run skip exactly the batches already seen.

    Examples are shuffled, sorted by length inside windows of 50 batches (so an epoch is not
    ordered short to long), cut into batches, and the batches shuffled again.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths)).tolist()
    window = batch_size * 50
    batches: list[list[int]] = []
    for begin in range(0, len(order), window):
        group = sorted(order[begin : begin + window], key=lambda i: -lengths[i])
        batches.extend(group[k : k + batch_size] for k in range(0, len(group), batch_size))
    return [batches[i] for i in rng.permutation(len(batches)).tolist()]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches in length order, for evaluation: the least padding, no randomness needed."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


def collate(examples: Sequence[LabelledTokens], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors; padding is masked out of attention and of the loss."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        size = len(example.input_ids)
        ids[row, :size] = torch.tensor(example.input_ids, dtype=torch.long)
        labels[row, :size] = torch.tensor(example.labels, dtype=torch.long)
        mask[row, :size] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
