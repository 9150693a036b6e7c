"""Decide whether a model folder can run natively, and load it if so.

Only what this runner computes exactly like transformers is taken: a ``LlamaForCausalLM``
with SiLU, plain RoPE, safetensors weights that fill every module, and a tokenizer that
``tokenizer.json`` describes on its own. Anything else is answered with the reason, and the
caller loads the folder through transformers instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from lingua_core.native.llama import LlamaRunner, NativeConfig
from lingua_core.native.tokenizer import JsonTokenizer, plain_tokenizer_problem

WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
# Tensors older checkpoints store that the runner computes itself.
_DERIVED_SUFFIXES = (".rotary_emb.inv_freq",)


class NotNative(Exception):
    """The folder needs transformers; the message says why."""


def read_config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NotNative(f"config.json unreadable ({exc})") from exc
    if not isinstance(config, dict):
        raise NotNative("config.json is not an object")
    return config


def config_problem(config: dict[str, Any]) -> str | None:
    """Why this config describes a model the runner does not compute; None if it does."""
    if config.get("model_type") != "llama" or config.get("architectures") != ["LlamaForCausalLM"]:
        return f"architecture {config.get('architectures') or config.get('model_type')}"
    if config.get("auto_map"):
        return "the model asks for its own code"
    if config.get("hidden_act", "silu") != "silu":
        return f"activation {config.get('hidden_act')}"
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or rope.get("type") or "default"
    if rope_type != "default":
        return f"RoPE type {rope_type}"
    if int(config.get("pretraining_tp") or 1) != 1:
        return "tensor-parallel weights (pretraining_tp)"
    missing = [
        key
        for key in (
            "hidden_size",
            "num_attention_heads",
            "num_hidden_layers",
            "intermediate_size",
            "vocab_size",
            "rms_norm_eps",
        )
        if config.get(key) is None
    ]
    if missing:
        return f"config.json lacks {', '.join(missing)}"
    return None


def weight_files(folder: Path) -> list[Path]:
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS]
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NotNative(f"{WEIGHTS_INDEX} unreadable ({exc})") from exc
        files = [folder / shard for shard in shards]
        if all(path.is_file() for path in files):
            return files
    raise NotNative("no safetensors weights")


def native_problem(folder: Path) -> str | None:
    """Why the folder must go through transformers; None when the runner can take it."""
    try:
        problem = config_problem(read_config(folder))
        if problem is None:
            weight_files(folder)
    except NotNative as exc:
        return str(exc)
    return problem or plain_tokenizer_problem(folder)


def _state(files: list[Path], dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for path in files:
        for name, tensor in load_file(str(path), device="cpu").items():
            if not name.endswith(_DERIVED_SUFFIXES):
                state[name] = tensor.to(device=device, dtype=dtype)
    return state


def load_native(folder: Path, device: torch.device, dtype: torch.dtype) -> tuple[LlamaRunner, JsonTokenizer]:
    """The runner with the folder's weights, and its tokenizer; NotNative if the folder is not
    one the runner computes exactly."""
    problem = native_problem(folder)
    if problem is not None:
        raise NotNative(problem)
    config = NativeConfig(**read_config(folder))
    model = LlamaRunner(config)
    state = _state(weight_files(folder), dtype, device)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    if tied:
        state.pop("lm_head.weight", None)
    expected = set(model.state_dict()) - ({"lm_head.weight"} if tied else set())
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        names = sorted(missing)[:3] + sorted(unexpected)[:3]
        raise NotNative(f"weights do not match a Llama of this config ({', '.join(names)})")
    model.load_state_dict(state, strict=False, assign=True)
    if tied:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.model.rotary_emb.to(device)
    model.eval()
    return model, JsonTokenizer(folder)
