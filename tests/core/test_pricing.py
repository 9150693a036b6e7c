"""Model names as people write them must find the right price and context window."""

from __future__ import annotations

import dataclasses

import pytest

from lingua_core import pricing
from lingua_core.errors import InputError
from lingua_core.tokens import RANK_FILES


@pytest.mark.parametrize(
    ("model", "name", "price", "window", "encoding"),
    [
        ("gpt-4o", "gpt-4o", 2.50, 128_000, "o200k_base"),
        ("gpt-4o-2024-08-06", "gpt-4o", 2.50, 128_000, "o200k_base"),
        ("GPT-4o-mini-2024-07-18", "gpt-4o-mini", 0.15, 128_000, "o200k_base"),
        ("openai/gpt-4.1", "gpt-4.1", 2.00, 1_047_576, "o200k_base"),
        ("gpt-4.1-mini", "gpt-4.1-mini", 0.40, 1_047_576, "o200k_base"),
        ("o3", "o3", 2.00, 200_000, "o200k_base"),
        ("o4-mini-2025-04-16", "o4-mini", 1.10, 200_000, "o200k_base"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo", 10.00, 128_000, "cl100k_base"),
        ("gpt-4-1106-preview", "gpt-4-turbo", 10.00, 128_000, "cl100k_base"),
        ("gpt-4-0613", "gpt-4", 30.00, 8_192, "cl100k_base"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo", 0.50, 16_385, "cl100k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::x1", "gpt-4o-mini", 0.15, 128_000, "o200k_base"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet", 3.00, 200_000, "o200k_base"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet", 3.00, 200_000, "o200k_base"),
        ("Claude Sonnet 4.5", "claude-sonnet-4-5", 3.00, 200_000, "o200k_base"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4", 3.00, 200_000, "o200k_base"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1", 15.00, 200_000, "o200k_base"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku", 0.80, 200_000, "o200k_base"),
        ("claude-haiku", "claude-haiku-4-5", 1.00, 200_000, "o200k_base"),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku", 0.25, 200_000, "o200k_base"),
        ("models/gemini-1.5-pro-002", "gemini-1.5-pro", 1.25, 2_097_152, "o200k_base"),
        ("gemini-2.5-flash", "gemini-2.5-flash", 0.30, 1_048_576, "o200k_base"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite", 0.10, 1_048_576, "o200k_base"),
    ],
)
def test_lookup(model: str, name: str, price: float, window: int, encoding: str) -> None:
    # Only OpenAI's models count in their own tokenizer here; the others' counts are estimates.
    exact = not name.startswith(("claude", "gemini"))
    assert pricing.lookup(model) == pricing.ModelPricing(name, price, window, encoding, exact)


def test_every_known_name_resolves_to_a_complete_entry() -> None:
    for model in pricing.known_models():
        entry = pricing.lookup(model)
        assert entry.usd_per_million_input > 0
        assert entry.context_window is not None and entry.context_window >= 8_192
        assert entry.encoding in RANK_FILES


@pytest.mark.parametrize("model", ["gpt-4.5-preview", "llama-3.1-70b", "gpt4o", "o2", "  "])
def test_unknown_model_is_an_input_error_listing_known_ones(model: str) -> None:
    with pytest.raises(InputError) as info:
        pricing.lookup(model)
    if model.strip():
        assert "gpt-4o-mini" in str(info.value) and "claude-sonnet-4-5" in str(info.value)


def test_override_reprices_a_model_and_its_snapshots_only() -> None:
    overrides = {"GPT-4o": 2.0}
    assert pricing.lookup("gpt-4o-2024-11-20", overrides).usd_per_million_input == 2.0
    assert pricing.lookup("gpt-4o-mini", overrides).usd_per_million_input == 0.15
    assert pricing.lookup("gpt-4o", overrides).context_window == 128_000


def test_override_of_a_snapshot_wins_over_its_family() -> None:
    overrides = {"gpt-4o-2024-05-13": 5.0}
    assert pricing.lookup("gpt-4o-2024-05-13", overrides) == pricing.ModelPricing("gpt-4o", 5.0, 128_000, "o200k_base")
    assert pricing.lookup("gpt-4o-2024-08-06", overrides).usd_per_million_input == 2.50


def test_override_adds_an_unknown_model() -> None:
    entry = pricing.lookup("my-local-llama-q4", {"my-local-llama": 0})
    assert entry == pricing.ModelPricing("my-local-llama", 0.0, None, "o200k_base", exact_counts=False)


def test_negative_override_is_refused() -> None:
    with pytest.raises(InputError, match="negative"):
        pricing.lookup("gpt-4o", {"gpt-4o": -1.0})


def test_cost_usd() -> None:
    assert pricing.cost_usd(1_000_000, "gpt-4o") == pytest.approx(2.50)
    assert pricing.cost_usd(2_500, "claude-sonnet-4-5") == pytest.approx(0.0075)
    assert pricing.cost_usd(1_000, "gpt-4o", {"gpt-4o": 1.0}) == pytest.approx(0.001)
    assert pricing.cost_usd(0, "gpt-4o") == 0.0
    assert isinstance(pricing.cost_usd(7, "o3"), float)
    with pytest.raises(InputError):
        pricing.cost_usd(-1, "gpt-4o")
    with pytest.raises(InputError):
        pricing.cost_usd(10, "no-such-model")


def test_model_pricing_is_frozen() -> None:
    entry = pricing.lookup("gpt-4o")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.usd_per_million_input = 0.0  # type: ignore[misc]
