"""Chunks for the teacher: within the token limit, cut at sentences, exact slices of the source;
and the instructions that go with them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from lingua_core.errors import InputError
from lingua_core.sentences import split_sentences
from lingua_core.tokens import count_tokens, tiktoken_counter
from lingua_core.train.chunking import chunk_text
from lingua_core.train.instructions import DEFAULT_INSTRUCTION, PLACEHOLDER, load_instructions, pick_instruction
from tests.conftest import SHARED_DATA


@pytest.mark.parametrize(("limit", "encoding"), [(64, "o200k_base"), (128, "cl100k_base"), (512, "o200k_base")])
def test_chunks_fit_tile_and_cut_at_sentences(gsm8k_prompt: str, limit: int, encoding: str) -> None:
    chunks = chunk_text(gsm8k_prompt, limit, tiktoken_counter(encoding))
    assert "".join(c.text for c in chunks) == gsm8k_prompt  # exact text, nothing rewritten or lost
    assert all(gsm8k_prompt[c.start : c.end] == c.text for c in chunks)
    assert all(count_tokens(c.text, encoding) <= limit for c in chunks)
    sentence_starts = {start for start, _ in split_sentences(gsm8k_prompt)}
    assert all(c.start in sentence_starts for c in chunks)
    # Packed, not one sentence each: two neighbours never fit in one chunk together.
    for left, right in itertools.pairwise(chunks):
        assert count_tokens(left.text + right.text, encoding) > limit


def test_long_sentence_is_cut_between_words() -> None:
    sentence = " ".join(f"word{i}" for i in range(400)) + ".\nNext sentence here."
    chunks = chunk_text(sentence, 40)
    assert "".join(c.text for c in chunks) == sentence
    assert all(count_tokens(c.text) <= 40 for c in chunks)
    for chunk in chunks[1:]:
        assert sentence[chunk.start - 1].isspace() and not sentence[chunk.start].isspace()


def test_word_longer_than_a_chunk_is_cut_between_characters() -> None:
    blob = "Data: " + "QUJD" * 300 + " end."
    chunks = chunk_text(blob, 32)
    assert "".join(c.text for c in chunks) == blob
    assert all(count_tokens(c.text) <= 32 for c in chunks)


def test_blank_text_makes_no_chunk_and_bad_limit_is_refused() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\n\t ") == []
    assert [c.text for c in chunk_text("One short text.")] == ["One short text."]
    with pytest.raises(InputError):
        chunk_text("text", 0)


def test_default_instruction_wraps_the_text_unchanged() -> None:
    text = "Keep {braces} and $dollars as they are.\n"
    messages = DEFAULT_INSTRUCTION.messages(text)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[1]["content"].endswith(text)
    assert PLACEHOLDER not in messages[1]["content"]


def test_paper_format_instructions(tmp_path: Path) -> None:
    path = tmp_path / "instructions.json"
    path.write_text(
        json.dumps(
            {
                "0": {"system_prompt": "Shorten this.", "user_prompt": ""},
                "4": {"system_prompt": "You compress.", "user_prompt": "Compress:\n{text_to_compress}\nDone:"},
                "5": {"system_prompt": "", "user_prompt": "Compress the following"},
            }
        ),
        encoding="utf-8",
    )
    loaded = load_instructions(path)
    assert loaded["0"].messages("T") == [
        {"role": "system", "content": "Shorten this."},
        {"role": "user", "content": "T"},
    ]
    assert loaded["4"].messages("T")[1]["content"] == "Compress:\nT\nDone:"
    assert loaded["5"].messages("T") == [{"role": "user", "content": "Compress the following\n\nT"}]
    assert pick_instruction(path, "4").id == "4"
    with pytest.raises(InputError, match="--instruction-id"):
        pick_instruction(path, None)
    with pytest.raises(InputError, match="no instruction '9'"):
        pick_instruction(path, "9")
    assert pick_instruction(None, None) is DEFAULT_INSTRUCTION
    with pytest.raises(InputError, match="needs --instructions"):
        pick_instruction(None, "4")


def test_the_papers_own_instruction_file_loads() -> None:
    path = SHARED_DATA / "llmlingua_tests/src/experiments/llmlingua2/data_collection/compression_instructions.json"
    assert path.is_file(), f"the shared evaluation data is expected beside the repo: {path}"
    instruction = pick_instruction(path, "4")
    user = instruction.messages("Some text to compress.")[1]["content"]
    assert "Some text to compress." in user and PLACEHOLDER not in user


def test_bad_instruction_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('["not", "a", "mapping"]', encoding="utf-8")
    with pytest.raises(InputError, match="expected"):
        load_instructions(bad)
    bad.write_text('{"x": {"system_prompt": 3}}', encoding="utf-8")
    with pytest.raises(InputError, match="'x'"):
        load_instructions(bad)
    with pytest.raises(InputError, match="No such"):
        load_instructions(tmp_path / "missing.json")
