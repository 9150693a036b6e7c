"""The whole text under the small LM, once: each token's surprisal given everything before it.

The coarse step ranks sentences by these losses; the iterative step then starts on the same
text, and its first window, before anything is dropped, is that very prefix under the same
model. Keeping the cache of the coarse forward's first window lets the iterative step take
that window's losses and keys from it instead of running the forward a second time (about a
quarter of a 500-token compression on a CPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.methods.kv_cache import CompressedCache
from lingua_core.methods.perplexity import next_token_losses
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
