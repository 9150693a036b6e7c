"""Lingua's compression engine: LLMLingua, LongLLMLingua and LLMLingua-2 behind one small API.

    from lingua_core import Compressor
    compressor = Compressor.load("embedded")
    result = compressor.compress(text, rate=0.33)

Nothing here knows about editors; the language server and the CLI are thin layers on top.

Names are imported on first use (PEP 562): ``import lingua_core.tokens`` must not pull in
torch and transformers (2-3 s), or the language server could not answer a hover quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lingua_core.api import Compressor
    from lingua_core.errors import AssetError, InputError, LinguaError, ModelError
    from lingua_core.methods.base import Method
    from lingua_core.methods.llmlingua import LLMLinguaOptions, Reorder
    from lingua_core.progress import CompressionCancelled
    from lingua_core.prompt import Prompt
    from lingua_core.protect import ProtectOptions
    from lingua_core.result import CompressionResult, WordScore
    from lingua_core.tokens import count_tokens

_HOMES = {
    "Compressor": "lingua_core.api",
    "Method": "lingua_core.methods.base",
    "AssetError": "lingua_core.errors",
    "InputError": "lingua_core.errors",
    "LinguaError": "lingua_core.errors",
    "ModelError": "lingua_core.errors",
    "CompressionCancelled": "lingua_core.progress",
    "LLMLinguaOptions": "lingua_core.methods.llmlingua",
    "Reorder": "lingua_core.methods.llmlingua",
    "Prompt": "lingua_core.prompt",
    "ProtectOptions": "lingua_core.protect",
    "CompressionResult": "lingua_core.result",
    "WordScore": "lingua_core.result",
    "count_tokens": "lingua_core.tokens",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lingua_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "AssetError",
    "CompressionCancelled",
    "CompressionResult",
    "Compressor",
    "InputError",
    "LLMLinguaOptions",
    "LinguaError",
    "Method",
    "ModelError",
    "Prompt",
    "ProtectOptions",
    "Reorder",
    "WordScore",
    "count_tokens",
]
