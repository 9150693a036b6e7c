"""Where Lingua keeps files it prepares once and reuses: converted models, tokenizer ranks.

One directory, overridable with ``LINGUA_CACHE_DIR``, so that set-up, tests and the language
server all find the same prepared assets, and users can move them off a small home disk.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of Lingua's cache (not created here)."""
    explicit = os.environ.get("LINGUA_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lingua"


def tiktoken_dir() -> Path:
    """Rank files, named as tiktoken's own cache names them (sha1 of the official URL)."""
    return cache_dir() / "tiktoken"


def models_dir() -> Path:
    """Converted models (e.g. the embedded GGUF turned into a bf16 safetensors folder)."""
    return cache_dir() / "models"
