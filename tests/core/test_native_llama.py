"""The native Llama runner computes what transformers computes, and the cold path skips transformers.

Compared on the real embedded SmolLM2 (fp32, where both must agree to rounding) and on
random tiny Llamas for the shapes the embedded one lacks (an untied head, shards, a
context window small enough to evict from).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lingua_core import Compressor
from lingua_core.errors import ModelError
from lingua_core.models import LoadedModel, load_model
from lingua_core.native.llama import LlamaRunner
from lingua_core.native.loading import native_problem
from tests.conftest import tiny_llama

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT.parent / "shared" / "data" / "prompts"
SAMPLE = ROOT / "scripts" / "sample_prompt.md"


@pytest.fixture(scope="module")
def both() -> tuple[LoadedModel, LoadedModel]:
    native = load_model("embedded", device="cpu", dtype="fp32", backend="native")
    reference = load_model("embedded", device="cpu", dtype="fp32", backend="transformers")
    assert isinstance(native.model, LlamaRunner) and not isinstance(reference.model, LlamaRunner)
    return native, reference


def _transformers_cache(model: Any) -> Any:
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def test_auto_runs_the_embedded_model_natively(tmp_path: Path) -> None:
    assert native_problem(tmp_path) is not None  # a folder without a config is not taken
    lm = load_model("embedded", device="cpu", dtype="fp32")
    assert isinstance(lm.model, LlamaRunner)
    assert lm.max_positions == 8192


@torch.inference_mode()
def test_logits_match_transformers_on_the_embedded_model(both: tuple[LoadedModel, LoadedModel]) -> None:
    native, reference = both
    ids = torch.tensor([native.tokenizer(SAMPLE.read_text(encoding="utf-8")).input_ids[:300]])
    full = native.model(input_ids=ids).logits
    assert torch.allclose(full, reference.model(input_ids=ids).logits, atol=1e-4, rtol=0)
    hidden = native.model.model(input_ids=ids).last_hidden_state
    assert torch.allclose(hidden, reference.model.model(input_ids=ids).last_hidden_state, atol=1e-4, rtol=0)

    # Continued from a cache, at given positions, with logits only where asked.
    mine, theirs = native.model.new_cache(), _transformers_cache(reference.model)
    native.model(input_ids=ids[:, :120], cache=mine)
    reference.model(input_ids=ids[:, :120], cache=theirs)
    assert mine.get_seq_length() == 120
    picked = torch.tensor([0, 7, 179])
    positions = torch.arange(120, 300)[None]
    ours = native.model(input_ids=ids[:, 120:], position_ids=positions, cache=mine, logits_to_keep=picked).logits
    expected = reference.model(
        input_ids=ids[:, 120:], position_ids=positions, cache=theirs, logits_to_keep=picked
    ).logits
    assert ours.shape == (1, 3, expected.shape[-1])
    assert torch.allclose(ours, expected, atol=1e-4, rtol=0)
    assert torch.allclose(mine.layers[5].keys, theirs.layers[5].keys, atol=1e-4, rtol=0)

    # Two rows, the first with its opening entries hidden (the question-aware stream).
    rows = ids[:, :200].expand(2, -1)
    mask = torch.ones(2, 200, dtype=torch.long)
    mask[0, :30] = 0
    ours = native.model(input_ids=rows, attention_mask=mask).logits
    assert torch.allclose(ours, reference.model(input_ids=rows, attention_mask=mask).logits, atol=1e-4, rtol=0)


def _prompt_texts() -> list[str]:
    texts = [SAMPLE.read_text(encoding="utf-8"), "<|im_start|>user\nHi<|im_end|>", "  é 👍🏽 日本語\r\n\tx", ""]
    texts += [path.read_text(encoding="utf-8") for path in sorted(PROMPTS.glob("*/*.md"))[:6]]
    return texts


def test_the_tokenizer_encodes_as_transformers_does(both: tuple[LoadedModel, LoadedModel]) -> None:
    native, reference = both
    for text in _prompt_texts():
        assert native.tokenizer(text).input_ids == list(reference.tokenizer(text).input_ids)
        ours = native.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        theirs = reference.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        assert ours["input_ids"] == list(theirs["input_ids"])
        assert [tuple(pair) for pair in ours["offset_mapping"]] == [tuple(pair) for pair in theirs["offset_mapping"]]


def test_compressions_are_the_same_on_both_backends(both: tuple[LoadedModel, LoadedModel]) -> None:
    native, reference = Compressor(both[0]), Compressor(both[1])
    sample = SAMPLE.read_text(encoding="utf-8")
    for method, text in (("llmlingua", sample), ("longllmlingua", sample + "\n\nHow do I pair the hub?")):
        ours = native.compress(text, rate=0.33, method=method)
        theirs = reference.compress(text, rate=0.33, method=method)
        assert ours.compressed_text == theirs.compressed_text, method
        assert ours.compressed_tokens < 0.5 * ours.origin_tokens


def test_an_untied_sharded_llama_with_a_small_window_compresses_the_same(tmp_path: Path) -> None:
    # An untied output head, weights in shards, and a text longer than the 512-token window,
    # so that the kept prefix is evicted from and re-rotated.
    folder = tiny_llama(tmp_path / "tiny", layers=2)
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(folder).save_pretrained(tmp_path / "sharded", max_shard_size="300KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "sharded" / name).write_bytes((folder / name).read_bytes())
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    native = load_model(str(tmp_path / "sharded"), device="cpu", dtype="fp32")
    reference = load_model(str(tmp_path / "sharded"), device="cpu", dtype="fp32", backend="transformers")
    assert isinstance(native.model, LlamaRunner)
    assert native.model.lm_head.weight is not native.model.model.embed_tokens.weight
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in sorted(PROMPTS.glob("graphrag/*.txt"))[:3])
    ours = Compressor(native).compress(text, rate=0.4, method="llmlingua")
    theirs = Compressor(reference).compress(text, rate=0.4, method="llmlingua")
    assert ours.origin_tokens > 1500
    assert ours.compressed_text == theirs.compressed_text


def test_a_llama_the_runner_does_not_compute_goes_through_transformers(tmp_path: Path) -> None:
    folder = tiny_llama(tmp_path / "scaled", layers=1)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["rope_parameters"] = {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert native_problem(folder) == "RoPE type linear"
    assert not isinstance(load_model(str(folder), device="cpu").model, LlamaRunner)
    with pytest.raises(ModelError, match=r"native backend cannot run .*RoPE type linear"):
        load_model(str(folder), device="cpu", backend="native")


def test_a_bad_backend_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINGUA_BACKEND", "onnx")
    with pytest.raises(ModelError, match="Unknown backend 'onnx'"):
        load_model("embedded")


def test_a_cold_compression_imports_no_transformers() -> None:
    # What makes a cold `lingua compress` seconds faster: neither transformers' model
    # classes nor torch's compiler stack are imported on the way.
    script = (
        "import sys\n"
        "from lingua_core import Compressor\n"
        "result = Compressor.load('embedded').compress(open(sys.argv[1]).read(), rate=0.33)\n"
        "assert result.compressed_tokens < result.origin_tokens\n"
        "print(sorted(m for m in sys.modules if m == 'transformers' or m.startswith('torch._dynamo')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(SAMPLE)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
