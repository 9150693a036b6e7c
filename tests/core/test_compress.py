"""End to end on the embedded SmolLM2: what a user relies on when compressing a prompt."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lingua_core import CompressionCancelled, Compressor, InputError, Prompt
from lingua_core.budget import BUDGET_TOLERANCE
from lingua_core.protect import find_protected_spans
from lingua_core.result import CompressionResult
from lingua_core.tokens import count_tokens
from tests.core.conftest import file_id, prompt_files

HeadAt = Callable[[float], CompressionResult]


@pytest.fixture(scope="module")
def gsm8k_head(gsm8k_prompt: str) -> str:
    """The first three GSM8K demonstrations, 1k tokens (the whole prompt is 2.3k)."""
    return "\n\n".join(gsm8k_prompt.split("\n\n")[:3])


@pytest.fixture(scope="module")
def head_at(compressor: Compressor, gsm8k_head: str) -> HeadAt:
    """``gsm8k_head`` compressed with LLMLingua at a rate, once per module: several tests
    read the same compression, which takes 6-8 s on a CPU (20 s for the whole prompt)."""
    done: dict[float, CompressionResult] = {}

    def compress(rate: float) -> CompressionResult:
        if rate not in done:
            done[rate] = compressor.compress(gsm8k_head, rate=rate, method="llmlingua")
        return done[rate]

    return compress


def test_rate_is_honoured_in_the_target_tokenizer(head_at: HeadAt) -> None:
    for rate in (0.5, 0.2):
        result = head_at(rate)
        assert result.origin_tokens > 500
        asked = rate * result.origin_tokens
        assert "budget_note" not in result.details
        assert abs(result.compressed_tokens - asked) <= BUDGET_TOLERANCE * asked + 1
        assert result.compressed_tokens == count_tokens(result.compressed_text)
        assert result.ratio == pytest.approx(result.origin_tokens / result.compressed_tokens)


def test_compressed_text_is_the_kept_spans(head_at: HeadAt, gsm8k_head: str) -> None:
    result = head_at(0.5)
    rebuilt = "".join(gsm8k_head[s:e] for s, e in result.kept_spans)
    assert rebuilt == result.compressed_text
    assert all(a[1] <= b[0] for a, b in zip(result.kept_spans, result.kept_spans[1:]))


def test_a_crlf_prompt_comes_back_in_crlf(compressor: Compressor, gsm8k_head: str, head_at: HeadAt) -> None:
    # A Windows document: the same decisions as its LF text, answered with CRLF breaks only
    # (no bare LF inside, no break dropped between two lines), spans in the CRLF text.
    crlf = gsm8k_head.replace("\n", "\r\n")
    result = compressor.compress(crlf, rate=0.5, method="llmlingua")
    lf = head_at(0.5)
    assert "\n" not in result.compressed_text.replace("\r\n", "") and "\r" not in result.compressed_text.replace(
        "\r\n", ""
    )
    assert result.compressed_text.replace("\r\n", "\n") == lf.compressed_text
    assert "".join(crlf[s:e] for s, e in result.kept_spans) == result.compressed_text
    assert result.original_text == crlf
    assert result.compressed_tokens == count_tokens(result.compressed_text)
    assert result.origin_tokens == count_tokens(crlf)
    # the question at the end is found across CRLF blank lines, as in LF text (two of the
    # demonstrations are enough for that: a blank line inside the context and one before it)
    two = "\r\n\r\n".join(crlf.split("\r\n\r\n")[:2])
    asked = compressor.compress(
        two + "\r\n\r\nWhat is the answer to the last problem?", rate=0.4, method="longllmlingua"
    )
    assert asked.details["question"] == "What is the answer to the last problem?"
    assert asked.compressed_text.endswith("\r\n\r\nWhat is the answer to the last problem?")


def test_instruction_and_question_are_kept(compressor: Compressor, gsm8k_prompt: str) -> None:
    demos = tuple(d for d in gsm8k_prompt.split("\n\n") if d.strip())
    instruction = "Solve the problem. Give the final number after 'The answer is'."
    question = "Question: Tom has 12 marbles and gives away 5. How many are left?"
    prompt = Prompt(contexts=demos, instruction=instruction, question=question)
    for method in ("llmlingua", "longllmlingua"):
        result = compressor.compress(prompt, rate=0.25, method=method)
        assert result.compressed_text.startswith(instruction + "\n\n")
        assert result.compressed_text.endswith("\n\n" + question)
        assert result.compressed_tokens < 0.4 * result.origin_tokens
        # Coarse control dropped whole demonstrations before cutting tokens.
        assert len(result.details["kept_contexts"]) < len(demos)


def test_instruction_compressed_on_request_keeps_its_placeholders(compressor: Compressor, gsm8k_prompt: str) -> None:
    instruction = (
        "You are a careful tutor for {student_name}. Explain each step in plain words, check every "
        "calculation twice, and finish with the line 'The answer is {{ answer_format }}'. " * 3
    )
    prompt = Prompt(contexts=(gsm8k_prompt,), instruction=instruction, compress_instruction=True)
    result = compressor.compress(prompt, rate=0.3)
    assert not result.compressed_text.startswith(instruction)
    assert result.compressed_text.count("{student_name}") == 3
    assert result.compressed_text.count("{{ answer_format }}") == 3


@pytest.mark.parametrize("path", prompt_files(), ids=file_id)
def test_real_prompt_files_keep_every_placeholder(
    compressed_file: Callable[[Path], CompressionResult], path: Path
) -> None:
    text = path.read_text(encoding="utf-8")
    protected = [text[s.start : s.end] for s in find_protected_spans(text) if s.kind == "placeholder"]
    result = compressed_file(path)
    assert result.compressed_tokens < result.origin_tokens
    for placeholder in set(protected):
        assert result.compressed_text.count(placeholder) >= protected.count(placeholder), placeholder
    # Front matter survives whole (Prompty, Copilot prompt files).
    match = re.match(r"---\n.*?\n---\n", text, flags=re.S)
    if match:
        assert result.compressed_text.startswith(match.group(0))


def test_code_blocks_kept_by_default_and_compressible_on_request(compressor: Compressor) -> None:
    code = "```python\ndef add(a, b):\n    return a + b\n```"
    text = ("Here is some background that goes on for a while and is not very important at all. " * 12) + "\n\n" + code
    kept = compressor.compress(text, rate=0.3)
    assert code in kept.compressed_text
    from lingua_core import LLMLinguaOptions, ProtectOptions

    options = LLMLinguaOptions(protect=ProtectOptions(keep_code_blocks=False))
    loose = compressor.compress(text, rate=0.3, options=options)
    assert code not in loose.compressed_text


def test_user_patterns_and_segment_tags(compressor: Compressor) -> None:
    from lingua_core import LLMLinguaOptions, ProtectOptions

    filler = "The weather report said it would rain in the afternoon and clear up by the evening. " * 8
    text = (
        f"{filler}Ticket ID: ABC-12345 must be quoted.\n"
        f"<llmlingua compress=false>Never translate the product name Lumina.</llmlingua>\n{filler}"
    )
    options = LLMLinguaOptions(protect=ProtectOptions(patterns=(r"[A-Z]{3}-\d{5}",)))
    result = compressor.compress(text, rate=0.3, options=options)
    assert "ABC-12345" in result.compressed_text
    assert "<llmlingua compress=false>Never translate the product name Lumina.</llmlingua>" in result.compressed_text


def test_target_tokens(compressor: Compressor, gsm8k_prompt: str) -> None:
    result = compressor.compress(gsm8k_prompt, target_tokens=300, encoding="cl100k_base")
    assert result.encoding == "cl100k_base"
    assert abs(result.compressed_tokens - 300) <= BUDGET_TOLERANCE * 300 + 1


@pytest.mark.parametrize("bad", ["", "   \n\n  "])
def test_blank_input_is_refused(compressor: Compressor, bad: str) -> None:
    with pytest.raises(InputError, match="empty"):
        compressor.compress(bad, rate=0.5)


@pytest.mark.parametrize("rate", [0.0, 1.5, -0.2])
def test_bad_rate_is_refused(compressor: Compressor, rate: float) -> None:
    with pytest.raises(InputError, match="rate"):
        compressor.compress("some text", rate=rate)


def test_cancellation(compressor: Compressor, gsm8k_prompt: str) -> None:
    with pytest.raises(CompressionCancelled):
        compressor.compress(gsm8k_prompt, rate=0.5, cancelled=lambda: True)
    # The compressor is still usable afterwards.
    assert compressor.compress("A short prompt that still has a few words to drop.", rate=0.5).compressed_text


def test_threads_share_one_compressor(compressor: Compressor, gsm8k_prompt: str) -> None:
    texts = [gsm8k_prompt[:2000], gsm8k_prompt[2000:4000]]
    expected = [compressor.compress(t, rate=0.5).compressed_text for t in texts]
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = compressor.compress(texts[i], rate=0.5).compressed_text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[0], results[1]] == expected


def test_multilingual_text_keeps_whole_characters(compressor: Compressor) -> None:
    text = "東京は日本の首都です。人口は約千四百万人で、世界有数の大都市です。🙂 한국어 문장도 있습니다. " * 10
    result = compressor.compress(text, rate=0.5)
    assert "\ufffd" not in result.compressed_text
    assert result.compressed_text == "".join(text[s:e] for s, e in result.kept_spans)


def test_ranking_pass_skipped_when_every_context_fits(compressor: Compressor, monkeypatch: pytest.MonkeyPatch) -> None:
    # The coarse filter's ranking is a forward over every context; when the budget holds them
    # all in their own order, it can change nothing and must not run.
    from lingua_core.methods import llmlingua

    calls: list[int] = []
    real = llmlingua.mean_losses

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(llmlingua, "mean_losses", counted)
    contexts = tuple(
        f"Note {i}: the shipment of {i * 7} crates left the harbour on schedule, " * 4 + "and all was well."
        for i in range(4)
    )
    prompt = Prompt(contexts, "Summarise the notes.", "Which shipment was largest?")
    fits = compressor.compress(prompt, rate=0.9, method="llmlingua")
    assert calls == [] and fits.details["kept_contexts"] == [0, 1, 2, 3]
    compressor.compress(prompt, rate=0.2, method="llmlingua")
    assert calls == [1]
