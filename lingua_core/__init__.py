"""Lingua's compression engine: LLMLingua, LongLLMLingua and LLMLingua-2 behind one small API.

    from lingua_core import Compressor
    compressor = Compressor.load("embedded")
    result = compressor.compress(text, rate=0.33)

Nothing here knows about editors; the language server and the CLI are thin layers on top.
"""

from lingua_core.api import Compressor, Method
from lingua_core.errors import AssetError, InputError, LinguaError, ModelError
from lingua_core.methods.iterative import CompressionCancelled
from lingua_core.methods.llmlingua import LLMLinguaOptions, Reorder
from lingua_core.prompt import Prompt
from lingua_core.protect import ProtectOptions
from lingua_core.result import CompressionResult, WordScore
from lingua_core.tokens import count_tokens

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
