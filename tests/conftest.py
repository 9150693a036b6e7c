"""Shared fixtures: the real embedded model (loaded once per session) and tiny models built here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = Path(os.environ.get("LINGUA_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def compressor():  # type: ignore[no-untyped-def]
    """The embedded SmolLM2 compressor; the set-up command prepares it before tests run."""
    from lingua_core import Compressor

    return Compressor.load("embedded")


@pytest.fixture(scope="session")
def gsm8k_prompt() -> str:
    return (FIXTURES / "gsm8k_prompt_hardest.txt").read_text(encoding="utf-8")


def tiny_llama(path: Path, layers: int = 2, seed: int = 0) -> Path:
    """A random-weight Llama small enough to build in a test, with a real (embedded) tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from lingua_core.embedded import embedded_model_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
