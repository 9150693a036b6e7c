"""What a prompt costs and whether it fits: input prices and context windows of target models.

Prices are USD per million input tokens at the standard (non-batch, uncached) rate, as listed
by vendors, 2025. Where a vendor charges more for long prompts (Gemini above 128k/200k
tokens), the table holds the base rate: the figure is an estimate for showing savings, not an
invoice, and users can correct any price with ``overrides``. Context windows are the vendor's
total for input plus output, so a prompt below it can still leave too little room to answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lingua_core.errors import InputError
from lingua_core.tokens import counts_exactly, encoding_for_model


@dataclass(frozen=True)
class ModelPricing:
    """One target model; ``context_window`` is None only for a model known from overrides."""

    name: str
    usd_per_million_input: float
    context_window: int | None
    encoding: str
    # Whether ``encoding`` is the model's own tokenizer; if not (Claude, Gemini), counts are
    # an estimate in the closest encoding that runs offline.
    exact_counts: bool = True


# name: (USD per 1M input tokens, context window in tokens)
_TABLE: dict[str, tuple[float, int]] = {
    # OpenAI
    "gpt-5": (1.25, 400_000),
    "gpt-5.1": (1.25, 400_000),
    "gpt-5-mini": (0.25, 400_000),
    "gpt-5-nano": (0.05, 400_000),
    "gpt-4.1": (2.00, 1_047_576),
    "gpt-4.1-mini": (0.40, 1_047_576),
    "gpt-4.1-nano": (0.10, 1_047_576),
    "gpt-4o": (2.50, 128_000),
    "gpt-4o-mini": (0.15, 128_000),
    "o1": (15.00, 200_000),
    "o1-mini": (1.10, 128_000),
    "o3": (2.00, 200_000),
    "o3-mini": (1.10, 200_000),
    "o4-mini": (1.10, 200_000),
    "gpt-4-turbo": (10.00, 128_000),
    "gpt-4": (30.00, 8_192),
    "gpt-4-32k": (60.00, 32_768),
    "gpt-3.5-turbo": (0.50, 16_385),
    # Anthropic
    "claude-opus-4-5": (5.00, 200_000),
    "claude-opus-4-1": (15.00, 200_000),
    "claude-opus-4": (15.00, 200_000),
    "claude-3-opus": (15.00, 200_000),
    "claude-sonnet-4-5": (3.00, 200_000),
    "claude-sonnet-4": (3.00, 200_000),
    "claude-3-7-sonnet": (3.00, 200_000),
    "claude-3-5-sonnet": (3.00, 200_000),
    "claude-haiku-4-5": (1.00, 200_000),
    "claude-3-5-haiku": (0.80, 200_000),
    "claude-3-haiku": (0.25, 200_000),
    # Google
    "gemini-3-pro": (2.00, 1_048_576),
    "gemini-2.5-pro": (1.25, 1_048_576),
    "gemini-2.5-flash": (0.30, 1_048_576),
    "gemini-2.5-flash-lite": (0.10, 1_048_576),
    "gemini-2.0-flash": (0.10, 1_048_576),
    "gemini-2.0-flash-lite": (0.075, 1_048_576),
    "gemini-1.5-pro": (1.25, 2_097_152),
    "gemini-1.5-flash": (0.075, 1_048_576),
}

# Names people use for a table entry that prefix matching would get wrong or miss.
_ALIASES: dict[str, str] = {
    "gpt-4-turbo-preview": "gpt-4-turbo",
    "gpt-4-1106-preview": "gpt-4-turbo",
    "gpt-4-0125-preview": "gpt-4-turbo",
    "chatgpt-4o": "gpt-4o",
    # A bare family name means its newest model.
    "claude-opus": "claude-opus-4-5",
    "claude-sonnet": "claude-sonnet-4-5",
    "claude-haiku": "claude-haiku-4-5",
}

# A prefix matches only up to one of these, so "gpt-4" is not taken for "gpt-4.5" or "gpt-4o".
_BOUNDARIES = ("-", ":", "@")


def _normalise(model: str) -> str:
    """One spelling per model: case, provider prefixes and separators people vary."""
    key = model.strip().lower().replace(" ", "-").replace("_", "-")
    key = key.rsplit("/", 1)[-1].removeprefix("ft:")  # "openai/gpt-4o", "models/gemini-..."
    if "claude" in key:  # "us.anthropic.claude-..." (Bedrock), "claude-3.5-sonnet" (OpenRouter)
        key = key[key.index("claude") :].replace(".", "-")
    return key


def _match(key: str, names: Mapping[str, object]) -> str | None:
    """The longest name that is ``key`` or a prefix of it ending at a boundary."""
    matches = [name for name in names if key == name or (key.startswith(name) and key[len(name)] in _BOUNDARIES)]
    return max(matches, key=len, default=None)


def known_models() -> list[str]:
    """Every name ``lookup`` accepts without overrides (table entries and aliases)."""
    return sorted({*_TABLE, *_ALIASES})


def lookup(model: str, overrides: Mapping[str, float] | None = None) -> ModelPricing:
    """Price and context window of ``model``; dated snapshots resolve to their family entry.

    ``overrides`` maps model names to USD per million input tokens. They are matched like table
    names and win ties, so ``{"gpt-4o": 2.0}`` reprices "gpt-4o-2024-08-06" but not the longer
    match "gpt-4o-mini"; a model only the overrides know gets ``context_window`` None.
    """
    key = _normalise(model)
    if not key:
        raise InputError("no target model given")
    user = {_normalise(name): float(price) for name, price in (overrides or {}).items()}
    for name, price in user.items():
        if price < 0:
            raise InputError(f"price override for {name!r} is negative ({price})")

    known = _match(key, {**_TABLE, **_ALIASES})
    override = _match(key, user)
    canonical = _ALIASES.get(known, known) if known else None
    if override is not None and (known is None or len(override) >= len(known)):
        price = user[override]
        window = _TABLE[canonical][1] if canonical else None
        name = canonical or override
    elif canonical is not None:
        price, window = _TABLE[canonical]
        name = canonical
    else:
        raise InputError(
            f"unknown target model {model!r}; known: {', '.join(known_models())} (or give its price as an override)"
        )
    return ModelPricing(name, price, window, encoding_for_model(name), counts_exactly(name))


def cost_usd(tokens: int, model: str, overrides: Mapping[str, float] | None = None) -> float:
    """USD for sending ``tokens`` input tokens to ``model``."""
    if tokens < 0:
        raise InputError(f"token count cannot be negative ({tokens})")
    return tokens * lookup(model, overrides).usd_per_million_input / 1_000_000
