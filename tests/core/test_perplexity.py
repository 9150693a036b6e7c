"""The coarse controllers' batched perplexity: same numbers as one text at a time, less padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lingua_core.methods.perplexity import length_buckets, mean_losses
from lingua_core.models import load_model
from tests.conftest import tiny_llama

TEXTS = [
    "The committee met on Tuesday.",
    "Several members argued that the maintenance fund was too small, while others wanted more money for the "
    "library, and a few asked for both.",
    "They agreed.",
    "After two hours of discussion they agreed to raise the maintenance fund by ten percent and to revisit "
    "the library request in March, when the new figures would be in.",
    "The chair closed the meeting at half past nine.",
]


def _padded(buckets: list[list[int]], lengths: list[int]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in buckets)


def test_buckets_cover_every_text_once_within_the_cap() -> None:
    lengths = [467, 329, 329, 257, 333, 366, 306, 290]  # GSM8K's eight demonstrations
    buckets = length_buckets(lengths, 4096)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    assert all(len(b) * max(lengths[i] for i in b) <= 4096 for b in buckets)
    # One batch padded to the longest would hold 8 x 467 positions; the split pads far less.
    assert _padded(buckets, lengths) < 0.8 * 8 * 467


def test_buckets_trade_padding_for_calls() -> None:
    # Equal lengths: no padding to save, so one call; a lone giant gets a call of its own.
    assert len(length_buckets([50] * 40, 4096)) == 1
    buckets = length_buckets([10] * 20 + [3000], 4096)
    assert [len(b) for b in buckets] == [20, 1]
    # A text over the cap still gets scored, alone.
    assert length_buckets([5000, 20], 4096) == [[1], [0]]


@pytest.mark.parametrize("condition", [None, " Which fund grew?"])
def test_batched_losses_equal_one_text_at_a_time(tmp_path: Path, condition: str | None) -> None:
    lm = load_model(str(tiny_llama(tmp_path / "ppl", layers=2)), dtype="fp32")
    kwargs = dict(device=lm.device, max_positions=lm.max_positions, condition=condition)
    batched = mean_losses(lm.model, lm.tokenizer, TEXTS, **kwargs)  # type: ignore[arg-type]
    alone = np.array([mean_losses(lm.model, lm.tokenizer, [t], **kwargs)[0] for t in TEXTS])  # type: ignore[arg-type]
    np.testing.assert_allclose(batched, alone, rtol=1e-4)
    assert np.isfinite(batched).all()
