"""The LLMLingua-2 options, apart from the code that reads them.

The window, score and selection modules all take these options; defined here, below all of
them, they import it without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lingua_core.protect import ProtectOptions
from lingua_core.words import Aggregation

__all__ = ["DEFAULT_MAX_SEQ_LEN", "LLMLingua2Options"]


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
