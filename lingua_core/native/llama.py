"""The Llama decoder in plain torch, with the call surface the compression methods use.

What the methods need of a causal LM: ``model(input_ids, position_ids, attention_mask,
logits_to_keep, cache)`` returning logits, ``model.model(input_ids)`` returning the final
hidden states (the coarse step projects only the positions it scores), the output
projection, the rotary inverse frequencies (the compressed KV cache re-rotates kept keys),
and a cache whose per-layer keys and values can be cut and moved. Names of the modules
follow the checkpoint's tensor names, so a state dict loads as it is stored.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

Rotary = tuple[torch.Tensor, torch.Tensor]  # cos and sin tables for the positions fed
Mask = torch.Tensor | None  # which keys each query sees; None: plain causal attention


class NativeConfig(types.SimpleNamespace):
    """A checkpoint's ``config.json`` as attributes, the way the methods read a config."""

    @property
    def head_dim_value(self) -> int:
        return int(getattr(self, "head_dim", None) or self.hidden_size // self.num_attention_heads)

    @property
    def rope_theta_value(self) -> float:
        parameters = getattr(self, "rope_parameters", None) or {}
        return float(parameters.get("rope_theta") or getattr(self, "rope_theta", None) or 10000.0)


@dataclass
class BodyOutput:
    last_hidden_state: torch.Tensor


@dataclass
class CausalOutput:
    logits: torch.Tensor


class CacheLayer:
    """One layer's keys and values, (rows, kv heads, positions, head dim); None until fed."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is not None and self.values is not None:
            keys = torch.cat((self.keys, keys), dim=-2)
            values = torch.cat((self.values, values), dim=-2)
        self.keys, self.values = keys, values
        return keys, values


class NativeCache:
    """The same shape of cache as transformers' DynamicCache: ``layers[i].keys/values``."""

    def __init__(self, layers: int) -> None:
        self.layers = [CacheLayer() for _ in range(layers)]

    def get_seq_length(self) -> int:
        keys = self.layers[0].keys if self.layers else None
        return 0 if keys is None else int(keys.shape[-2])

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Append to one layer, as DynamicCache.update does."""
        return self.layers[layer_idx].append(keys, values)


def _weight(*shape: int) -> nn.Parameter:
    """A placeholder without storage or initialisation: the checkpoint's tensor replaces it
    (``load_state_dict(assign=True)``). torch.nn's layers would draw random weights first,
    which on the meta device alone pulls in torch's compiler stack (2 s of imports)."""
    return nn.Parameter(torch.empty(*shape, device="meta"), requires_grad=False)


class Linear(nn.Module):
    def __init__(self, inputs: int, outputs: int, bias: bool) -> None:
        super().__init__()
        self.weight = _weight(outputs, inputs)
        self.bias = _weight(outputs) if bias else None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.weight, self.bias)


class Embedding(nn.Module):
    def __init__(self, count: int, size: int) -> None:
        super().__init__()
        self.weight = _weight(count, size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = _weight(size)
        self.eps = eps

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # In fp32 whatever the model's dtype, as transformers computes it: bf16 variance
        # would change which tokens tie.
        dtype = hidden.dtype
        wide = hidden.float()
        wide = wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * wide.to(dtype)


class RotaryEmbedding(nn.Module):
    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.inv_freq: torch.Tensor
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin tables (rows, 1, positions, head dim), computed in fp32 then cast."""
        angles = positions[..., None].float() * self.inv_freq.to(positions.device)
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, config: NativeConfig) -> None:
        super().__init__()
        self.heads = int(config.num_attention_heads)
        self.kv_heads = int(getattr(config, "num_key_value_heads", None) or self.heads)
        self.head_dim = config.head_dim_value
        bias = bool(getattr(config, "attention_bias", False))
        hidden = int(config.hidden_size)
        self.q_proj = Linear(hidden, self.heads * self.head_dim, bias=bias)
        self.k_proj = Linear(hidden, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = Linear(hidden, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = Linear(self.heads * self.head_dim, hidden, bias=bias)

    def forward(self, hidden: torch.Tensor, rotary: Rotary, mask: Mask, cache: CacheLayer | None) -> torch.Tensor:
        rows, length, _ = hidden.shape
        q = self.q_proj(hidden).view(rows, length, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(hidden).view(rows, length, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(hidden).view(rows, length, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k, v = cache.append(k, v)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=mask is None and length > 1,
            enable_gqa=self.kv_heads != self.heads,
        )
        projected: torch.Tensor = self.o_proj(out.transpose(1, 2).reshape(rows, length, -1))
        return projected


class MLP(nn.Module):
    def __init__(self, config: NativeConfig) -> None:
        super().__init__()
        bias = bool(getattr(config, "mlp_bias", False))
        hidden, inner = int(config.hidden_size), int(config.intermediate_size)
        self.gate_proj = Linear(hidden, inner, bias=bias)
        self.up_proj = Linear(hidden, inner, bias=bias)
        self.down_proj = Linear(inner, hidden, bias=bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        projected: torch.Tensor = self.down_proj(F.silu(self.gate_proj(hidden)) * self.up_proj(hidden))
        return projected


class DecoderLayer(nn.Module):
    def __init__(self, config: NativeConfig) -> None:
        super().__init__()
        eps = float(config.rms_norm_eps)
        self.input_layernorm = RMSNorm(int(config.hidden_size), eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(int(config.hidden_size), eps)
        self.mlp = MLP(config)

    def forward(self, hidden: torch.Tensor, rotary: Rotary, mask: Mask, cache: CacheLayer | None) -> torch.Tensor:
        hidden = hidden + self.self_attn(self.input_layernorm(hidden), rotary, mask, cache)
        mixed: torch.Tensor = hidden + self.mlp(self.post_attention_layernorm(hidden))
        return mixed


def attention_mask_for(
    past: int, length: int, rows: int, padding: torch.Tensor | None, device: torch.device
) -> torch.Tensor | None:
    """The boolean mask (rows, 1, length, past + length) a forward needs, or None for SDPA's
    own causal mask: that one is aligned top-left, right only when nothing is cached."""
    if padding is None and (past == 0 or length == 1):
        return None
    queries = torch.arange(past, past + length, device=device)
    keys = torch.arange(past + length, device=device)
    allowed = (keys[None, :] <= queries[:, None])[None, None].expand(rows, 1, length, past + length)
    if padding is not None:
        allowed = allowed & padding[:, None, None, :].to(device=device, dtype=torch.bool)
    return allowed


class LlamaBody(nn.Module):
    def __init__(self, config: NativeConfig) -> None:
        super().__init__()
        self.embed_tokens = Embedding(int(config.vocab_size), int(config.hidden_size))
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(int(config.num_hidden_layers)))
        self.norm = RMSNorm(int(config.hidden_size), float(config.rms_norm_eps))
        self.rotary_emb = RotaryEmbedding(config.head_dim_value, config.rope_theta_value)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: NativeCache | None = None,
        use_cache: bool = True,
    ) -> BodyOutput:
        """``use_cache`` is accepted for the transformers call convention, as the runner's is."""
        rows, length = input_ids.shape
        past = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + length, device=input_ids.device)[None].expand(rows, -1)
        hidden = self.embed_tokens(input_ids)
        rotary = self.rotary_emb(position_ids, hidden.dtype)
        mask = attention_mask_for(past, length, rows, attention_mask, input_ids.device)
        for index, layer in enumerate(self.layers):
            hidden = layer(hidden, rotary, mask, cache.layers[index] if cache is not None else None)
        return BodyOutput(self.norm(hidden))


class LlamaRunner(nn.Module):
    """A Llama causal LM; ``model`` and ``lm_head`` are named as in the checkpoint."""

    def __init__(self, config: NativeConfig) -> None:
        super().__init__()
        self.config = config
        self.model = LlamaBody(config)
        self.lm_head = Linear(int(config.hidden_size), int(config.vocab_size), bias=False)

    @property
    def dtype(self) -> torch.dtype:
        return self.model.embed_tokens.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def new_cache(self) -> NativeCache:
        return NativeCache(len(self.model.layers))

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        cache: NativeCache | None = None,
        use_cache: bool = True,
    ) -> CausalOutput:
        """Logits at every position, the last ``logits_to_keep`` ones, or the ones indexed.

        ``use_cache`` is accepted for the transformers call convention: a given cache is
        always read and extended.
        """
        hidden = self.model(input_ids, position_ids, attention_mask, cache).last_hidden_state
        if isinstance(logits_to_keep, int):
            hidden = hidden[:, -logits_to_keep:] if logits_to_keep else hidden
        else:
            hidden = hidden[:, logits_to_keep]
        return CausalOutput(self.lm_head(hidden))
