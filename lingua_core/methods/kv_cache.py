"""The causal LM's KV cache over the *compressed* prefix, kept up to date in one pass.

Iterative compression scores each window of tokens given what was already kept. The
reference gets the cache of the kept tokens by forwarding each compressed window a second
time. Here the kept tokens' keys and values are taken from the window's own forward and
moved to their new, contiguous positions by rotating the keys by the position shift (RoPE
rotations compose, so a key rotated for position p becomes the key for position p' after a
rotation by p' - p). Layer 0 is then exact; deeper layers keep a trace of the dropped
tokens they attended to, which the fidelity bench measures against the reference.

Models without rotary position embeddings (or with partial rotary) get the exact fallback:
the kept tokens are re-forwarded together with the next window.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

# Architectures whose attention applies full-width rotate-half RoPE to keys stored in the cache.
ROTARY_MODEL_TYPES = frozenset(
    {
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "olmo",
        "olmo2",
        "granite",
        "smollm3",
        "cohere",
        "starcoder2",
        "helium",
        "glm",
        "exaone",
    }
)


def supports_rerotation(model: Any) -> bool:
    config = model.config
    if getattr(config, "model_type", None) not in ROTARY_MODEL_TYPES:
        return False
    if float(getattr(config, "partial_rotary_factor", 1.0) or 1.0) != 1.0:
        return False
    if getattr(config, "use_sliding_window", False) or (
        config.model_type in {"mistral", "mixtral", "gemma2", "starcoder2"} and getattr(config, "sliding_window", None)
    ):
        return False  # sliding-window layers drop old entries themselves; keep the exact path
    inner = getattr(model, "model", None)
    return inner is not None and hasattr(inner, "rotary_emb")


def cache_keyword(model: Any) -> str:
    """The forward argument that takes a cache: transformers 5.x renamed ``past_key_values``
    to ``cache`` and warns on the old name, while early 5.x releases know only the old one."""
    parameters = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def new_cache(model: Any) -> Any:
    """An empty cache of the model's own kind: the native runner's, else transformers'."""
    own = getattr(model, "new_cache", None)
    if callable(own):
        return own()
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class CompressedCache:
    """A DynamicCache whose entries are only the kept tokens, at contiguous positions."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.cache = new_cache(model)
        self.rerotate = supports_rerotation(model)
        self.keyword = cache_keyword(model)
        rotary = model.model.rotary_emb if self.rerotate else None
        self._inv_freq = rotary.inv_freq.float() if rotary is not None else None

    def forward_kwargs(self) -> dict[str, Any]:
        """Arguments that make a forward call read and extend this cache."""
        return {self.keyword: self.cache, "use_cache": True}

    def _layers(self) -> list[Any]:
        """Per-layer caches; only the attention layers' ``keys``/``values`` are touched."""
        return list(self.cache.layers)

    def __len__(self) -> int:
        return int(self.cache.get_seq_length())

    def _rotation(self, shift: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of a rotation by ``shift`` positions (n,), the same for every layer."""
        assert self._inv_freq is not None
        angles = shift.to(device, torch.float32)[:, None] * self._inv_freq.to(device)[None, :]
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    @staticmethod
    def _rotate(keys: torch.Tensor, rotation: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Rotate keys (batch, heads, n, dim) by a precomputed ``_rotation``."""
        cos, sin = rotation
        k = keys.float()
        return (k * cos + _rotate_half(k) * sin).to(keys.dtype)

    def keep(self, base: int, kept: torch.Tensor) -> None:
        """After a forward appended a window at ``base``, keep only its tokens ``kept`` (local indices).

        Only valid when re-rotation is supported; the exact path calls ``truncate`` instead.
        """
        new_positions = torch.arange(kept.shape[0], device=kept.device)
        shift = new_positions - kept  # <= 0: kept tokens move left over the dropped ones
        rotation = self._rotation(shift, kept.device) if bool((shift != 0).any()) else None
        for layer in self._layers():
            keys, values = layer.keys, layer.values
            window_keys = keys[:, :, base + kept, :]
            if rotation is not None:
                window_keys = self._rotate(window_keys, rotation)
            layer.keys = torch.cat((keys[:, :, :base, :], window_keys), dim=-2)
            layer.values = torch.cat((values[:, :, :base, :], values[:, :, base + kept, :]), dim=-2)

    def repeat_rows(self, rows: int) -> None:
        """Copy a one-row cache into ``rows`` rows, to be continued separately."""
        for layer in self._layers():
            layer.keys = layer.keys.repeat(rows, 1, 1, 1)
            layer.values = layer.values.repeat(rows, 1, 1, 1)

    def row(self, index: int, length: int) -> CompressedCache:
        """Row ``index``'s first ``length`` entries as a one-row cache of their own.

        A right-padded batch of texts fed together: under causal attention each row's first
        entries are exactly what that text alone would have cached.
        """
        single = CompressedCache(self.model)
        for number, layer in enumerate(self._layers()):
            single.cache.update(
                layer.keys[index : index + 1, :, :length].clone(),
                layer.values[index : index + 1, :, :length].clone(),
                number,
            )
        return single

    def truncate(self, length: int) -> None:
        for layer in self._layers():
            layer.keys = layer.keys[:, :, :length, :]
            layer.values = layer.values[:, :, :length, :]

    def evict(self, sink: int, count: int) -> None:
        """Forget ``count`` entries after the first ``sink`` ones when the context window is full.

        Later entries move left by ``count`` positions, so the keys are re-rotated too.
        """
        if count <= 0:
            return
        rotation = None
        for layer in self._layers():
            keys, values = layer.keys, layer.values
            tail = keys[:, :, sink + count :, :]
            if self.rerotate and tail.shape[2]:
                if rotation is None:
                    rotation = self._rotation(torch.full((tail.shape[2],), -count), tail.device)
                tail = self._rotate(tail, rotation)
            layer.keys = torch.cat((keys[:, :, :sink, :], tail), dim=-2)
            layer.values = torch.cat((values[:, :, :sink, :], values[:, :, sink + count :, :]), dim=-2)
