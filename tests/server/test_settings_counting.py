"""Settings parsing and the chunked token counter, without a server."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from lingua_core.tokens import count_tokens
from server.counting import TokenCounter, chunks
from server.settings import DEFAULT_PROMPT_FILES, Settings, parse_settings
from tests.server.conftest import PROMPTS


def test_defaults() -> None:
    settings, problems = parse_settings(None)
    assert problems == []
    assert settings == Settings()
    assert settings.prompt_files == DEFAULT_PROMPT_FILES
    assert (settings.encoding, settings.usd_per_million, settings.context_window) == ("o200k_base", 2.5, 128_000)


def test_valid_values_are_taken_and_unknown_keys_ignored() -> None:
    raw = {
        "model": "/models/llmlingua2",
        "device": "cuda:1",
        "method": "llmlingua2",
        "rankMethod": "BM25",
        "rate": 0.5,
        "targetModel": "claude-sonnet-4-5",
        "tokenBudget": 1200,
        "promptFiles": ["**/*.txt"],
        "preserve": [r"\bSKU-\d+\b"],
        "keepCodeBlocks": False,
        "unprotect": ["numbers", "format-lines"],
        "python": "/usr/bin/python3",
        "warmUp": False,
        "somethingNew": 1,
        "rate ": 3,
    }
    settings, problems = parse_settings(raw)
    assert problems == []
    assert settings.model == "/models/llmlingua2" and settings.device == "cuda:1"
    assert settings.method == "llmlingua2" and settings.rate == 0.5 and settings.token_budget == 1200
    assert settings.prompt_files == ("**/*.txt",) and settings.preserve == (r"\bSKU-\d+\b",)
    assert settings.keep_code_blocks is False and settings.rank_method == "bm25"
    assert settings.unprotect == ("numbers", "format-lines") and settings.warm_up is False
    assert settings.usd_per_million == 3.0 and settings.context_window == 200_000


def test_invalid_values_fall_back_one_by_one() -> None:
    raw = {
        "rate": 0,
        "tokenBudget": 2.5,
        "preserve": ["(unclosed"],
        "device": "tpu",
        "method": "magic",
        "rankMethod": "pagerank",
        "targetModel": "my-own-llm",
        "keepCodeBlocks": "yes",
        "unprotect": ["numbers", "everything"],
        "promptFiles": "*.md",
        "model": "",
        "warmUp": "yes",
    }
    settings, problems = parse_settings(raw)
    assert settings == Settings()
    assert len(problems) == len(raw)
    assert any("lingua.targetModel" in p.text and "unknown target model" in p.text for p in problems)
    # each names its key, where the message's "Open Settings" button goes
    assert sorted(p.setting for p in problems) == sorted(f"lingua.{key}" for key in raw)


def test_null_means_default_and_non_object_is_refused() -> None:
    assert parse_settings({"rate": None})[0].rate == 0.33
    settings, problems = parse_settings(["not", "an", "object"])
    assert settings == Settings() and len(problems) == 1


def _corpus() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in PROMPTS.glob("*/*") if p.suffix != "" and p.is_file()]
    rng = random.Random(3)
    pieces = ["\n", "\n\n", "\r\n", " ", "/", "a", "Z", "7", ".", ".\n", "\t", "😀", "中文", "'s", "#", "```", "\n/"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 120))) for _ in range(500)]
    return texts


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_chunked_counts_equal_whole_counts(encoding: str) -> None:
    counter = TokenCounter(encoding)
    for text in _corpus():
        assert "".join(chunks(text)) == text
        assert counter.count(text) == count_tokens(text, encoding)


def test_an_edit_recounts_one_chunk() -> None:
    paragraph = "A paragraph about compressing prompts, with some words in it. " * 30
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(200))
    counter = TokenCounter("o200k_base")
    assert counter.count(text) == count_tokens(text)
    cached = len(counter._cache)
    edited = text.replace("7. A paragraph", "7. A changed paragraph", 1)
    assert counter.count(edited) == count_tokens(edited)
    assert len(counter._cache) == cached + 1


def test_huge_paragraphs_are_split_at_safe_line_starts() -> None:
    text = "\n".join(f"line {i} of a long block without blank lines" for i in range(3000))
    parts = chunks(text)
    assert len(parts) > 10 and max(map(len, parts)) < 9000
    assert TokenCounter("o200k_base").count(text) == count_tokens(text)


def test_span_counts_from_the_layout_equal_counting_the_span_alone() -> None:
    text = "\n\n".join(_corpus()[:40])
    counter = TokenCounter("o200k_base")
    layout = counter.layout(text)
    assert layout.total == count_tokens(text)
    rng = random.Random(5)
    for _ in range(300):
        start = rng.randrange(len(text))
        end = rng.randint(start, min(len(text), start + rng.choice([50, 2000, 40000])))
        assert counter.count_span(text, layout, start, end) == count_tokens(text[start:end])


def test_a_method_the_model_cannot_run_is_refused_when_set(tmp_path: Path) -> None:
    # LLMLingua-2 needs a token classifier; the embedded model is a causal LM. Refused at the
    # settings change, named, with "auto" kept, instead of failing at the first compression.
    settings, problems = parse_settings({"method": "llmlingua2"})
    assert settings.method == "auto"
    assert len(problems) == 1 and "lingua.method 'llmlingua2' needs a token-classification model" in problems[0].text
    assert problems[0].setting == "lingua.method"
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    (classifier / "config.json").write_text(json.dumps({"architectures": ["XLMRobertaForTokenClassification"]}))
    settings, problems = parse_settings({"method": "llmlingua2", "model": str(classifier)})
    assert (settings.method, problems) == ("llmlingua2", [])
    settings, problems = parse_settings({"method": "longllmlingua", "model": str(classifier)})
    assert settings.method == "auto" and "needs a causal LM" in problems[0].text
    # a hub id cannot be read without loading it: left to the load, which explains itself
    assert parse_settings({"method": "llmlingua2", "model": "someorg/some-model"})[1] == []


def test_counts_for_a_target_without_its_own_tokenizer_are_marked_estimates() -> None:
    claude, _ = parse_settings({"targetModel": "claude-sonnet-4-5"})
    gpt, _ = parse_settings({"targetModel": "gpt-4o"})
    assert (claude.exact_counts, gpt.exact_counts) == (False, True)
