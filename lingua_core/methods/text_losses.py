"""The whole text under the small LM, once: each token's surprisal given everything before it.

The coarse step ranks sentences by these losses; the iterative step then starts on the same
text, and its first window, before anything is dropped, is that very prefix under the same
model. Keeping the cache of the coarse forward's first window lets the iterative step take
that window's losses and keys from it instead of running the forward a second time (about a
quarter of a 500-token compression on a CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.methods.kv_cache import CompressedCache
from lingua_core.methods.perplexity import TOKENS_PER_BATCH, length_buckets, next_token_losses
from lingua_core.progress import CompressionCancelled

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Enough for the iterative step's first window, which is a few hundred tokens (a window that
# ends inside a long word stretches up to four times its size).
PREFIX_TOKENS = 2048


@dataclass
class ScoredPrefix:
    """The first ``length`` tokens of the text: their losses (NaN for the first) and cache."""

    losses: FloatArray
    cache: CompressedCache
    length: int

    def shared(self, fed: IntArray) -> int:
        """How many of ``fed`` (token indices) are the text's own first tokens, as this forward saw them."""
        count = min(int(fed.shape[0]), self.length)
        mismatch = np.flatnonzero(fed[:count] != np.arange(count))
        return int(mismatch[0]) if mismatch.size else count


class TextLosses:
    """Each token's surprisal in context, computed on first use and kept."""

    def __init__(self, lm: Any, ids: Any, cancelled: Callable[[], bool] | None = None) -> None:
        self.lm = lm
        self.ids = ids
        self.cancelled = cancelled
        self._losses: FloatArray | None = None
        self._prefix: ScoredPrefix | None = None

    @classmethod
    def known(cls, lm: Any, ids: Any, losses: FloatArray, prefix: ScoredPrefix) -> TextLosses:
        """Losses computed elsewhere (a forward over several texts at once, ``score_together``)."""
        made = cls(lm, ids)
        made._losses, made._prefix = losses, prefix
        return made

    def losses(self) -> FloatArray:
        if self._losses is None:
            self._losses = self._compute()
        return self._losses

    def prefix(self) -> ScoredPrefix | None:
        """The first window's forward, if the losses were computed (the coarse step may not need them)."""
        return self._prefix

    def _compute(self) -> FloatArray:
        import torch

        lm = self.lm
        count = len(self.ids)
        losses = np.full(count, np.nan)
        window = max(2, min(lm.max_positions, 2048))
        with torch.inference_mode():
            for start in range(0, count, window):
                if self.cancelled is not None and self.cancelled():
                    raise CompressionCancelled()
                piece = torch.as_tensor(self.ids[start : start + window], dtype=torch.long, device=lm.device)[None]
                if piece.shape[1] < 2:
                    continue
                cache = CompressedCache(lm.model) if start == 0 else None
                mask = torch.ones_like(piece)
                losses[start + 1 : start + piece.shape[1]] = (
                    next_token_losses(lm.model, piece, mask, cache)[0].double().cpu().numpy()
                )
                if cache is not None:
                    length = min(piece.shape[1], PREFIX_TOKENS)
                    cache.truncate(length)
                    self._prefix = ScoredPrefix(losses[:length], cache, length)
        return losses


def score_together(
    lm: Any, texts: Sequence[Any], cancelled: Callable[[], bool] | None = None, tokens_per_batch: int = TOKENS_PER_BATCH
) -> list[TextLosses]:
    """``TextLosses`` of many texts (token ids), from forwards over several texts at once.

    On a CPU a forward over one short text wastes most of the machine (small matrix products,
    the per-layer overhead of every call); right-padded rows of similar length fill it. Each
    text keeps its own prefix cache, cut from its row, so its iterative step starts from it as
    it would alone. Texts longer than one forward takes are left to compute their own.
    """
    import torch

    result = [TextLosses(lm, ids, cancelled) for ids in texts]
    window = max(2, min(lm.max_positions, 2048))
    fitting = [i for i, ids in enumerate(texts) if 2 <= len(ids) <= window]
    buckets = length_buckets([len(texts[i]) for i in fitting], tokens_per_batch)
    with torch.inference_mode():
        for bucket in buckets:
            if cancelled is not None and cancelled():
                raise CompressionCancelled()
            rows = [fitting[k] for k in bucket]
            width = max(len(texts[i]) for i in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for row, index in enumerate(rows):
                ids[row, : len(texts[index])] = torch.as_tensor(np.asarray(texts[index]), dtype=torch.long)
                mask[row, : len(texts[index])] = 1
            cache = CompressedCache(lm.model)
            losses = next_token_losses(lm.model, ids.to(lm.device), mask.to(lm.device), cache).double().cpu().numpy()
            for row, index in enumerate(rows):
                count = len(texts[index])
                text_losses = np.full(count, np.nan)
                text_losses[1:] = losses[row, : count - 1]
                length = min(count, PREFIX_TOKENS)
                prefix = ScoredPrefix(text_losses[:length], cache.row(row, length), length)
                result[index] = TextLosses.known(lm, texts[index], text_losses, prefix)
    return result


@dataclass(frozen=True)
class TextLossesAsk:
    """A method's ask for its text's ``TextLosses`` (``lingua_core.methods.steps``)."""

    ids: Any

    def alone(self, lm: Any, cancelled: Callable[[], bool] | None) -> TextLosses:
        return TextLosses(lm, self.ids, cancelled)  # computed when (and if) read

    @classmethod
    def together(cls, lm: Any, asks: Sequence[TextLossesAsk], cancelled: Callable[[], bool] | None) -> list[TextLosses]:
        return score_together(lm, [ask.ids for ask in asks], cancelled)
