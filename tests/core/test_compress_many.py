"""Compressor.compress_many: a batch gives each prompt what compress gives it, errors in place,
with fewer forward passes."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lingua_core.api import Compressor
from lingua_core.errors import InputError
from lingua_core.result import CompressionResult
from tests.conftest import ROOT

NQ = ROOT.parent / "shared" / "data" / "rag" / "nq-open-20doc-dev.jsonl.gz"


def _documents(count: int) -> list[str]:
    with gzip.open(NQ, "rt", encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    return [f"{doc['title']}\n{doc['text']}" for doc in first["documents"][:count]]


@contextmanager
def _counted_forwards(compressor: Compressor) -> Iterator[list[int]]:
    """Token rows x width of every forward through the model's body."""
    body = compressor.lm.model.model
    fed: list[int] = []
    original = body.forward

    def counting(*args: Any, **kwargs: Any) -> Any:
        ids = kwargs.get("input_ids", args[0] if args else None)
        fed.append(int(ids.shape[0]))
        return original(*args, **kwargs)

    body.forward = counting
    try:
        yield fed
    finally:
        body.forward = original


def test_a_batch_gives_each_prompt_its_own_compression(compressor: Compressor) -> None:
    documents = _documents(6)
    crlf = documents[1].replace("\n", "\r\n") + "\r\nSecond line of the note."
    long_one = " ".join(documents[2:5])  # longer than one iterative window
    prompts: list[Any] = [*documents[:3], "", crlf, long_one, "   \n"]
    with _counted_forwards(compressor) as together_calls:
        together = compressor.compress_many(prompts, rate=0.5)
    with _counted_forwards(compressor) as alone_calls:
        alone: list[CompressionResult | InputError] = []
        for prompt in prompts:
            try:
                alone.append(compressor.compress(prompt, rate=0.5))
            except InputError as exc:
                alone.append(exc)
    assert len(together) == len(prompts)
    for mine, reference in zip(together, alone, strict=True):
        if isinstance(reference, InputError):
            assert isinstance(mine, InputError) and str(mine) == str(reference)
            continue
        assert isinstance(mine, CompressionResult)
        assert mine.compressed_text == reference.compressed_text
        assert (mine.origin_tokens, mine.compressed_tokens) == (reference.origin_tokens, reference.compressed_tokens)
        assert mine.kept_spans == reference.kept_spans
    assert "\r\n" in together[4].compressed_text and "\n" not in together[4].compressed_text.replace("\r\n", "")
    # The texts' coarse forwards and the short ones' only window were shared: fewer calls.
    assert len(together_calls) < len(alone_calls)
    assert max(together_calls) > 1  # several texts in one forward


def test_question_aware_prompts_and_bad_options_in_a_batch(compressor: Compressor) -> None:
    documents = _documents(3)
    question = "Who wrote it?"
    from lingua_core.prompt import Prompt

    prompts = [Prompt(contexts=tuple(documents), question=question), documents[0]]
    together = compressor.compress_many(prompts, rate=0.5)
    assert [r.method for r in together if isinstance(r, CompressionResult)] == ["longllmlingua", "llmlingua"]
    first = compressor.compress(prompts[0], rate=0.5)
    assert isinstance(together[0], CompressionResult) and together[0].compressed_text == first.compressed_text
    with pytest.raises(InputError, match="rate"):
        compressor.compress_many(prompts, rate=1.5)


def test_seconds_are_shared_by_tokens(compressor: Compressor) -> None:
    # The forwards were shared, so each result's seconds is its tokens' share of the batch's time.
    import time

    started = time.perf_counter()
    results = compressor.compress_many(_documents(3), rate=0.5)
    wall = time.perf_counter() - started
    done = [r for r in results if isinstance(r, CompressionResult)]
    assert len(done) == 3
    assert 0 < sum(r.seconds for r in done) <= wall
    per_token = [r.seconds / r.origin_tokens for r in done]
    assert max(per_token) == pytest.approx(min(per_token))


def test_llmlingua2_prompts_share_the_classifier_forwards(tmp_path: Path) -> None:
    # Each short document is one encoder window: in a batch the windows of all prompts go
    # through the classifier together, and each prompt still gets its own compression.
    from tests.core.test_llmlingua2 import _tiny_bert

    classifier = Compressor.load(str(_tiny_bert(tmp_path / "bert")), device="cpu", dtype="fp32")
    documents = [*_documents(5), ""]
    with _counted_classifier(classifier) as together_calls:
        together = classifier.compress_many(documents, rate=0.5)
    with _counted_classifier(classifier) as alone_calls:
        alone = [classifier.compress(d, rate=0.5) for d in documents[:-1]]
    assert isinstance(together[-1], InputError)
    for mine, reference in zip(together, alone, strict=False):
        assert isinstance(mine, CompressionResult) and mine.method == "llmlingua2"
        assert mine.compressed_text == reference.compressed_text
    assert len(together_calls) == 1 and together_calls[0] == 5  # five windows, one forward
    assert len(alone_calls) == 5


@contextmanager
def _counted_classifier(compressor: Compressor) -> Iterator[list[int]]:
    model = compressor.lm.model
    rows: list[int] = []
    original = model.forward

    def counting(*args: Any, **kwargs: Any) -> Any:
        rows.append(int(kwargs["input_ids"].shape[0]))
        return original(*args, **kwargs)

    model.forward = counting
    try:
        yield rows
    finally:
        model.forward = original
