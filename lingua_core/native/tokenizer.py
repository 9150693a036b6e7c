"""A checkpoint's ``tokenizer.json`` through the ``tokenizers`` library, called as transformers'
fast tokenizers are called by the compression methods.

Importing transformers' tokenizer classes costs about 2 s; the Rust tokenizer under them
loads in milliseconds. A tokenizer whose config asks transformers to add or change special
tokens beyond what ``tokenizer.json`` already says (``add_bos_token`` and the like) is not
taken here: transformers rewrites its post-processor, so this wrapper would encode
differently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Tokenizer classes whose transformers wrapper encodes exactly as tokenizer.json says.
PLAIN_CLASSES = frozenset(
    {"TokenizersBackend", "PreTrainedTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast", "Qwen2Tokenizer"}
)
# Config keys with which transformers changes the encoding on top of tokenizer.json.
REWRITING_KEYS = ("add_bos_token", "add_eos_token", "add_prefix_space", "legacy", "split_special_tokens")


class Encoded(dict[str, Any]):
    """Item and attribute access, as transformers' BatchEncoding gives."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def plain_tokenizer_problem(folder: Path) -> str | None:
    """Why this folder's tokenizer cannot be taken from tokenizer.json alone; None if it can."""
    if not (folder / "tokenizer.json").is_file():
        return "no tokenizer.json"
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        return f"unreadable tokenizer_config.json ({exc})"
    tokenizer_class = config.get("tokenizer_class")
    if tokenizer_class is not None and tokenizer_class not in PLAIN_CLASSES:
        return f"tokenizer class {tokenizer_class}"
    rewriting = [key for key in REWRITING_KEYS if config.get(key)]
    if rewriting:
        return f"tokenizer settings {', '.join(rewriting)}"
    return None


class JsonTokenizer:
    """The subset of a transformers fast tokenizer the causal-LM methods call."""

    is_fast = True

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # transformers encodes without the file's truncation or padding unless asked to.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        try:
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            config = {}
        self.name_or_path = str(folder)
        self.model_max_length = int(config.get("model_max_length") or 1 << 60)
        self.pad_token = config.get("pad_token")
        self.pad_token_id = self._tokenizer.token_to_id(self.pad_token) if isinstance(self.pad_token, str) else None

    def __call__(self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False) -> Encoded:
        encoding = self._tokenizer.encode(text, add_special_tokens=add_special_tokens)
        result = Encoded(input_ids=encoding.ids, attention_mask=encoding.attention_mask)
        if return_offsets_mapping:
            result["offset_mapping"] = encoding.offsets
        return result

    def __len__(self) -> int:
        return int(self._tokenizer.get_vocab_size(with_added_tokens=True))
