"""What a compression at a given rate would leave, before running the model.

Hovers and budget hints project savings without a forward pass. Rate times size is the
answer only when the text can shrink that far: protected spans (code blocks, template
fields, facts, structure) are kept whatever the rate, so they set a floor that the engine's
own budget rule stops at too (and reports in ``details.budget_note``).
"""

from __future__ import annotations

from lingua_core.protect import ProtectOptions, find_protected_spans
from lingua_core.tokens import count_tokens

__all__ = ["projected_tokens", "protected_tokens"]


def protected_tokens(text: str, protect: ProtectOptions, encoding: str = "o200k_base") -> int:
    """Tokens of ``text`` that no compression drops: its protected spans, each counted alone."""
    return sum(count_tokens(text[span.start : span.end], encoding) for span in find_protected_spans(text, protect))


def projected_tokens(tokens: int, rate: float, floor: int = 0) -> int:
    """Tokens left after compressing ``tokens`` at ``rate`` (rounded as the engine rounds its
    target), never below the protected ``floor`` nor above the original."""
    if not tokens:
        return 0
    return min(tokens, max(1, round(tokens * rate), floor))
