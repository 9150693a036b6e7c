"""Run the reference implementation (PyPI ``llmlingua==0.2.2``) on this machine, for comparison only.

Dev-only harness: the product never imports this. ``llmlingua`` 0.2.2 was written for
transformers 4.46 and an online machine, so three things are adapted here and nowhere else:

* tiktoken: its constructor calls ``tiktoken.encoding_for_model("gpt-3.5-turbo")``, which downloads.
  We point ``TIKTOKEN_CACHE_DIR`` at Lingua's prepared rank files (``lingua_core.paths.tiktoken_dir()``,
  filled by ``scripts/prepare_tiktoken.py``) unless the user already set it.
* KV cache: it passes ``past_key_values`` as a list of per-layer ``[k, v]`` pairs, reads
  ``past_key_values[0][0].shape[2]``, slices/concatenates k and v per layer, and expects
  ``response.past_key_values`` back in that form. Transformers 5 removed the legacy-tuple path
  (no ``from_legacy_cache``/``to_legacy_cache``; ``LlamaModel`` only takes a ``Cache``), so we wrap
  the model's ``forward`` on the instance: tuple caches in -> ``DynamicCache`` (built from the
  per-layer ``(k, v)`` pairs, exactly what 4.46's ``from_legacy_cache`` did), ``DynamicCache`` out ->
  tuple of ``(layer.keys, layer.values)`` (what 4.46's ``to_legacy_cache`` returned). Same tensors,
  so the numbers are the reference's own (checked by ``bench/check_reference_shim.py``).
* The same wrapper counts forward calls, tokens fed and cached tokens attended, because how
  often the reference re-forwards text is the key input to our speed design.

``use_sentence_level_filter`` must stay False: it needs NLTK punkt data, which cannot be fetched here.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from llmlingua import PromptCompressor

REPO_ROOT = Path(__file__).resolve().parents[1]
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def _default_tiktoken_dir() -> Path:
    """Lingua's prepared rank files; imported from the repo so bench and product agree."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from lingua_core.paths import tiktoken_dir

    return tiktoken_dir()


def ensure_tiktoken_offline() -> Path:
    """Set ``TIKTOKEN_CACHE_DIR`` (keeping a user's own value) and fail early if cl100k is missing.

    Without the file tiktoken would try to download and fail deep inside the reference's constructor.
    """
    cache = os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_default_tiktoken_dir()))
    needed = Path(cache) / hashlib.sha1(_CL100K_URL.encode()).hexdigest()
    if not needed.is_file():
        raise FileNotFoundError(
            f"tiktoken cl100k_base ranks not found at {needed}; run scripts/prepare_tiktoken.py "
            "(or set TIKTOKEN_CACHE_DIR / LINGUA_CACHE_DIR to a prepared cache)"
        )
    return Path(cache)


@dataclass
class ForwardStats:
    """What the reference asked of the model: the cost driver we want to beat."""

    calls: int = 0
    tokens_fed: int = 0  # new tokens run through the model (batch * sequence)
    cached_tokens: int = 0  # past tokens attended from the KV cache, summed over calls
    seconds: float = 0.0
    per_call: list[tuple[int, int, float]] = field(default_factory=list)  # (fed, cached, seconds)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (per-call detail kept short)."""
        return {
            "calls": self.calls,
            "tokens_fed": self.tokens_fed,
            "cached_tokens": self.cached_tokens,
            "forward_seconds": round(self.seconds, 4),
            "per_call_fed_cached_seconds": [(f, c, round(t, 3)) for f, c, t in self.per_call],
        }


def _legacy_kv_forward(model: torch.nn.Module, stats: ForwardStats) -> Callable[..., Any]:
    """Build the instance ``forward`` that speaks 4.46's tuple cache on top of transformers 5."""
    from transformers import DynamicCache

    original = model.forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        past = kwargs.get("past_key_values")
        legacy_in = isinstance(past, (list, tuple))
        if legacy_in:
            # DynamicCache(ddp_cache_data) fills one DynamicLayer per (k, v) pair via update(),
            # i.e. a concatenation onto an empty tensor: the same values, as in from_legacy_cache.
            kwargs["past_key_values"] = DynamicCache([(k, v) for k, v in past])
        input_ids = args[0] if args else kwargs.get("input_ids")
        fed = int(input_ids.numel()) if input_ids is not None else 0
        cached = int(past[0][0].shape[2]) * (input_ids.shape[0] if input_ids is not None else 1) if legacy_in else 0
        t0 = time.perf_counter()
        out = original(*args, **kwargs)
        elapsed = time.perf_counter() - t0
        stats.seconds += elapsed
        stats.calls += 1
        stats.tokens_fed += fed
        stats.cached_tokens += cached
        stats.per_call.append((fed, cached, elapsed))
        cache = getattr(out, "past_key_values", None)
        if isinstance(cache, DynamicCache):
            # 4.46 returned the legacy form whenever it was given a tuple or None.
            out.past_key_values = tuple((layer.keys, layer.values) for layer in cache.layers)
        return out

    return forward


class ReferenceCompressor:
    """Thin pass-through to the reference ``PromptCompressor`` plus forward-call accounting."""

    def __init__(self, inner: PromptCompressor, stats: ForwardStats) -> None:
        self.inner = inner
        self.stats = stats

    def compress_prompt(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call the reference unchanged; the sentence filter is refused (needs NLTK punkt data)."""
        if kwargs.get("use_sentence_level_filter"):
            raise ValueError("use_sentence_level_filter needs NLTK punkt data, unavailable offline")
        return self.inner.compress_prompt(*args, **kwargs)

    def reset_stats(self) -> None:
        """Start counting afresh (e.g. before timing one call)."""
        self.stats.calls = self.stats.tokens_fed = self.stats.cached_tokens = 0
        self.stats.seconds = 0.0
        self.stats.per_call.clear()


def load_reference(
    model_dir: str | Path,
    dtype: torch.dtype = torch.bfloat16,
    llmlingua2: bool = False,
) -> ReferenceCompressor:
    """Load ``llmlingua.PromptCompressor`` on CPU from a local model folder, shimmed for transformers 5.

    For ``llmlingua2=True`` the folder must hold a token-classification model (no KV cache is
    used there, so only the call counter applies), and its path must contain
    ``xlm-roberta-large`` or ``bert-base-multilingual-cased``: the reference picks its
    token-to-word merging rule from ``model_name`` and raises NotImplementedError otherwise.
    (Loading and the forward run on transformers 5; untested end to end, no such model here.)
    """
    ensure_tiktoken_offline()
    from llmlingua import PromptCompressor  # imports nltk at module import

    # A fresh dict each time: the reference mutates model_config (pops torch_dtype).
    model_config: dict[str, Any] = {"torch_dtype": dtype, "trust_remote_code": False}
    inner = PromptCompressor(
        model_name=str(model_dir),
        device_map="cpu",
        model_config=model_config,
        use_llmlingua2=llmlingua2,
    )
    inner.model.eval()
    stats = ForwardStats()
    inner.model.forward = _legacy_kv_forward(inner.model, stats)
    return ReferenceCompressor(inner, stats)
