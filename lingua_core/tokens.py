"""Token accounting: how many tokens a text costs in the target model's tokenizer.

Counts must be exact (they drive budgets, prices and context-window warnings) and must work
offline, so tiktoken encodings are built from rank files that ``scripts/prepare_tiktoken.py``
puts in ``tiktoken_dir()`` once, verified by sha256; nothing here ever downloads.
"""

from __future__ import annotations

import binascii
import contextlib
import copy
import functools
import hashlib
import marshal
import os
import sys
import tempfile
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import tiktoken
from tiktoken_ext import openai_public  # type: ignore[import-untyped,unused-ignore]

from lingua_core.errors import AssetError, InputError
from lingua_core.paths import tiktoken_dir

SETUP_HINT = "run the set-up: python scripts/prepare_tiktoken.py"


@dataclass(frozen=True)
class RankFile:
    """An official rank file: where OpenAI publishes it and what it must hash to."""

    url: str
    sha256: str

    @property
    def cache_name(self) -> str:
        """tiktoken's own cache key, so our folder also works as ``TIKTOKEN_CACHE_DIR``."""
        return hashlib.sha1(self.url.encode()).hexdigest()


_BLOB = "https://openaipublic.blob.core.windows.net/encodings"

# The encodings Lingua ships. Other tiktoken encodings only serve retired models.
RANK_FILES: dict[str, RankFile] = {
    "o200k_base": RankFile(
        f"{_BLOB}/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": RankFile(
        f"{_BLOB}/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}


def rank_file_path(name: str, directory: Path | None = None) -> Path:
    """Where the rank file for ``name`` lives (the set-up script writes it there)."""
    return (directory or tiktoken_dir()) / _rank_file(name).cache_name


def _rank_file(name: str) -> RankFile:
    try:
        return RANK_FILES[name]
    except KeyError:
        known = ", ".join(sorted(RANK_FILES))
        raise InputError(f"unknown tiktoken encoding {name!r}; known: {known}") from None


_PARSED_MAGIC = b"lingua-ranks 1"


def _parsed_path(name: str, directory: Path) -> Path:
    return rank_file_path(name, directory).with_name(f"{name}.parsed-py{sys.version_info[0]}{sys.version_info[1]}")


def _read_parsed(name: str, directory: Path) -> dict[bytes, int] | None:
    """The ranks as parsed before, if a copy for this rank file and this Python is there.

    Decoding 200k base64 lines costs 0.2-0.3 s of every cold ``lingua compress``; the parsed
    dict in marshal form loads in a fifth of that. The copy names the checked rank file it
    came from and carries its own checksum, so a stale, cut or foreign file is just ignored.
    """
    try:
        data = _parsed_path(name, directory).read_bytes()
    except OSError:
        return None
    header, _, payload = data.partition(b"\n")
    if header != b" ".join(
        (_PARSED_MAGIC, RANK_FILES[name].sha256.encode(), hashlib.sha256(payload).hexdigest().encode())
    ):
        return None
    try:
        ranks = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return ranks if isinstance(ranks, dict) else None


def _write_parsed(name: str, directory: Path, ranks: dict[bytes, int]) -> None:
    """Best effort: a read-only cache folder only means the next call parses again."""
    payload = marshal.dumps(ranks)
    header = b" ".join((_PARSED_MAGIC, RANK_FILES[name].sha256.encode(), hashlib.sha256(payload).hexdigest().encode()))
    target = _parsed_path(name, directory)
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{name}.", delete=False) as handle:
            handle.write(header + b"\n" + payload)
        os.replace(handle.name, target)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(handle.name)


def _ranks(name: str, directory: Path) -> dict[bytes, int]:
    parsed = _read_parsed(name, directory)
    if parsed is not None:
        return parsed
    ranks = _read_ranks(name, directory)
    _write_parsed(name, directory, ranks)
    return ranks


def _read_ranks(name: str, directory: Path) -> dict[bytes, int]:
    """Read and hash-check a rank file ourselves.

    ``tiktoken.load.load_tiktoken_bpe`` on a local path would also copy the file into a
    data-gym cache under /tmp (keyed by the path), and on a bad hash of a cached URL it deletes
    the file and downloads; both are side effects an editor process must not have.
    """
    rank_file = _rank_file(name)
    path = rank_file_path(name, directory)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AssetError(f"tiktoken rank file for {name} is missing ({path}); {SETUP_HINT}") from None
    except OSError as exc:
        raise AssetError(f"cannot read the {name} rank file {path}: {exc}; {SETUP_HINT}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != rank_file.sha256:
        raise AssetError(
            f"tiktoken rank file for {name} is corrupt ({path}: sha256 {actual}, expected "
            f"{rank_file.sha256}); delete it and {SETUP_HINT}"
        )
    # Whole-buffer split and C-level maps: 2.5x faster than a per-line loop (0.19 s against
    # 0.48 s for o200k), which is most of the language server's time to its first hover.
    fields = data.split()
    if len(fields) % 2:
        raise AssetError(f"tiktoken rank file for {name} is malformed ({path}); delete it and {SETUP_HINT}")
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def _offline_constructor(name: str, directory: Path) -> Callable[[], dict[str, Any]]:
    """tiktoken's own constructor for ``name``, with its rank loader reading our checked file.

    The pattern strings and special tokens live inside tiktoken's constructors (which would
    download the ranks); re-running the same code with one global swapped keeps every other
    fact tiktoken's own instead of a retyped copy that could drift.
    """
    official = openai_public.ENCODING_CONSTRUCTORS[name]
    if "load_tiktoken_bpe" not in official.__code__.co_names:
        raise AssetError(f"the installed tiktoken builds {name} differently; Lingua needs updating")
    expected = RANK_FILES[name]

    def load_local(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if (url, expected_hash) != (expected.url, expected.sha256):
            raise AssetError(
                f"the installed tiktoken expects a different {name} rank file ({url}, sha256 "
                f"{expected_hash}); Lingua's RANK_FILES needs updating"
            )
        return _ranks(name, directory)

    namespace = {**official.__globals__, "load_tiktoken_bpe": load_local}
    return types.FunctionType(official.__code__, namespace, official.__name__)


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _load(name: str, directory: str) -> tiktoken.Encoding:
    spec = _offline_constructor(name, Path(directory))()
    return tiktoken.Encoding(
        spec["name"],
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
        explicit_n_vocab=spec.get("explicit_n_vocab"),
    )


def get_encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """A tiktoken encoding built offline from the prepared rank file.

    Cached per (name, folder) so a changed ``LINGUA_CACHE_DIR`` is honoured; the lock makes
    concurrent first calls from server threads parse the 200k-line file once, not N times.
    """
    _rank_file(name)
    with _LOAD_LOCK:
        return _load(name, str(tiktoken_dir()))


def count_tokens(text: str, encoding: str = "o200k_base") -> int:
    """Tokens ``text`` costs in ``encoding``, with special-token strings counted as plain text.

    Prompts may quote ``<|endoftext|>`` literally (docs about tokenizers, pasted logs); chat APIs
    tokenise message content as ordinary text, and tiktoken's default ``encode`` would raise on
    it, so ordinary encoding is both the billed count and the one that never fails on input.
    """
    return len(get_encoding(encoding).encode_ordinary(text))


@runtime_checkable
class TokenCounter(Protocol):
    """Anything that can count tokens, so callers need not care whose tokenizer it is."""

    @property
    def name(self) -> str: ...

    def encode(self, text: str) -> list[int]: ...

    def count(self, text: str) -> int: ...


class _TiktokenCounter:
    """No lock: tiktoken's Rust core is safe to share between threads."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding

    @property
    def name(self) -> str:
        return self._encoding.name

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)

    def count(self, text: str) -> int:
        return len(self.encode(text))


class _HFTokenizer(Protocol):
    """The part of a ``transformers`` tokenizer we use (typed without importing transformers)."""

    def encode(self, text: str, *, add_special_tokens: bool = ..., **kwargs: Any) -> list[int]: ...


class _HFCounter:
    """Counts with a Hugging Face tokenizer, without the BOS/EOS/CLS it would add for a model.

    A lock serialises calls: transformers' fast tokenizers reset truncation and padding on the
    Rust object per call, which raises "Already borrowed" under concurrent use
    (huggingface/tokenizers#537).
    """

    def __init__(self, encode: Callable[[str], list[int]], name: str) -> None:
        self._encode = encode
        self._name = name
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def encode(self, text: str) -> list[int]:
        with self._lock:
            return self._encode(text)

    def count(self, text: str) -> int:
        return len(self.encode(text))


def tiktoken_counter(name: str = "o200k_base") -> TokenCounter:
    """A counter for one of the shipped tiktoken encodings (see ``RANK_FILES``)."""
    return _TiktokenCounter(get_encoding(name))


def hf_counter(tokenizer: Any, name: str | None = None) -> TokenCounter:
    """A counter for a ``transformers`` tokenizer or a raw ``tokenizers.Tokenizer``.

    The counter works on a private copy: the caller's tokenizer is typically also in use by a
    compression on another thread, and transformers keeps truncation settings on the shared
    Rust object, so a concurrent ``truncation=True`` call silently truncates a shared count.
    """
    import tokenizers

    label = name or str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
    if isinstance(tokenizer, tokenizers.Tokenizer):
        raw: tokenizers.Tokenizer = copy.deepcopy(tokenizer)

        def encode_raw(text: str) -> list[int]:
            return list(raw.encode(text, add_special_tokens=False).ids)

        return _HFCounter(encode_raw, label)

    hf: _HFTokenizer = copy.deepcopy(tokenizer)

    def encode_hf(text: str) -> list[int]:
        # verbose=False: counting a long prompt is not running it, so no "too long" warning.
        return list(hf.encode(text, add_special_tokens=False, verbose=False))

    return _HFCounter(encode_hf, label)


# Longest prefix wins, so "gpt-4o" and "gpt-4.1" beat "gpt-4".
_MODEL_PREFIXES: dict[str, str] = {
    "gpt-5": "o200k_base",
    "gpt-4.5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "chatgpt-4o": "o200k_base",
    "gpt-oss": "o200k_base",  # o200k_harmony adds only special tokens: same plain-text counts
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "gpt-35": "cl100k_base",
    "text-embedding-3": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
}

# Claude, Gemini, Llama, Mistral... have tokenizers we cannot run offline (or at all);
# o200k_base is the most recent large-vocabulary BPE we have, so counts for them are an
# estimate (Claude's tokenizer, for one, yields somewhat more tokens); use an hf_counter when
# the model's own tokenizer is at hand.
FALLBACK_ENCODING = "o200k_base"


def _own_encoding(model: str) -> str | None:
    key = model.strip().lower().rsplit("/", 1)[-1].removeprefix("ft:")
    for prefix in sorted(_MODEL_PREFIXES, key=len, reverse=True):
        if key.startswith(prefix):
            return _MODEL_PREFIXES[prefix]
    return None


def encoding_for_model(model: str) -> str:
    """The tiktoken encoding to count in for a target model (an estimate for non-OpenAI ones)."""
    return _own_encoding(model) or FALLBACK_ENCODING


def counts_exactly(model: str, encoding: str | None = None) -> bool:
    """Whether counting in ``encoding`` (default: the model's) gives the target model's own
    numbers; otherwise they are an estimate and every front end labels them so."""
    own = _own_encoding(model)
    return own is not None and (encoding is None or encoding == own)
