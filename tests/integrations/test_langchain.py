"""LinguaCompressor in a real LangChain retrieval: an in-memory vector store, a
ContextualCompressionRetriever, the session's embedded model; no LLM, no network."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore

from lingua_core.errors import ModelError
from lingua_core.integrations.documents import COMPRESSED_TOKENS_KEY, ORIGIN_TOKENS_KEY
from lingua_core.integrations.langchain import EVENT, LinguaCompressor
from lingua_core.tokens import count_tokens
from tests.integrations.conftest import ANSWER, ANSWER_SOURCE, CORPUS, QUESTION, comes_from, keyword_vector

RATE = 0.4


class KeywordEmbeddings(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [keyword_vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return keyword_vector(text)


class EventRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data))


def corpus_documents() -> list[Document]:
    return [
        Document(page_content=text, metadata={"source": source, "position": n})
        for n, (source, text) in enumerate(CORPUS.items())
    ]


def test_a_compression_retriever_returns_shorter_documents_with_their_own_metadata(
    compressor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # ContextualCompressionRetriever lives in langchain-classic since LangChain 1.0 (langchain-core
    # has only the compressor's base class); the dev extra installs it.
    from langchain_classic import retrievers

    store = InMemoryVectorStore(KeywordEmbeddings())
    store.add_documents(corpus_documents())
    base = store.as_retriever(search_kwargs={"k": 4})
    retrieved = base.invoke(QUESTION)
    assert retrieved[0].metadata["source"] == ANSWER_SOURCE
    pipeline = retrievers.ContextualCompressionRetriever(
        base_compressor=LinguaCompressor(compressor=compressor, rate=RATE), base_retriever=base
    )
    recorder = EventRecorder()
    with caplog.at_level(logging.INFO, logger="lingua_core.integrations"):
        out = pipeline.invoke(QUESTION, config={"callbacks": [recorder]})

    assert out, "the compression dropped every document"
    retrieved_sources = {d.metadata["source"] for d in retrieved}
    for document in out:
        source = document.metadata["source"]
        assert source in retrieved_sources
        original = CORPUS[source]
        # The metadata belongs to this text: every piece of it comes from that source's document.
        assert comes_from(document.page_content, original), (source, document.page_content)
        assert document.metadata["position"] == list(CORPUS).index(source)
        assert document.metadata[ORIGIN_TOKENS_KEY] == count_tokens(original)
        assert document.metadata[COMPRESSED_TOKENS_KEY] == count_tokens(document.page_content)
    answer = [d for d in out if d.metadata["source"] == ANSWER_SOURCE]
    assert answer and ANSWER in answer[0].page_content

    origin = sum(count_tokens(d.page_content) for d in retrieved)
    compressed = sum(count_tokens(d.page_content) for d in out)
    assert 0.6 * RATE * origin <= compressed <= 1.1 * RATE * origin, (compressed, origin)

    [(name, report)] = recorder.events
    assert name == EVENT
    assert report["origin_tokens"] == origin
    assert report["compressed_tokens"] == compressed
    assert report["saved_tokens"] == origin - compressed > 0
    assert report["documents"] == len(retrieved) == report["kept"] + report["dropped"]
    assert f"{origin - compressed} saved" in caplog.text


def test_empty_documents_pass_through_unchanged_and_the_others_compress(compressor: Any) -> None:
    documents = corpus_documents()[:2]
    blank = Document(page_content="", metadata={"source": "blank"})
    spaces = Document(page_content="  \n ", metadata={"source": "spaces"})
    given = [documents[0], blank, documents[1], spaces]
    out = LinguaCompressor(compressor=compressor, rate=0.5).compress_documents(given, QUESTION)

    by_source = {d.metadata["source"]: d for d in out}
    assert by_source["blank"] is blank and by_source["spaces"] is spaces
    assert ORIGIN_TOKENS_KEY not in blank.metadata
    # The retriever's order holds, the unchanged documents in their places.
    order = [d.metadata["source"] for d in given]
    assert [d.metadata["source"] for d in out] == [source for source in order if source in by_source]
    answer = by_source[ANSWER_SOURCE]
    assert ANSWER in answer.page_content
    assert answer.metadata[COMPRESSED_TOKENS_KEY] < answer.metadata[ORIGIN_TOKENS_KEY]


def test_a_document_the_engine_refuses_passes_through_while_the_others_compress_together(
    compressor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Over the engine's limit for one compression (lingua_core.api.MAX_CHARS).
    huge = Document(page_content="lorem ipsum " * 100_000, metadata={"source": "huge"})
    documents = corpus_documents()[1:3]
    with caplog.at_level(logging.INFO, logger="lingua_core.integrations"):
        out = LinguaCompressor(compressor=compressor, rate=0.5).compress_documents(
            [documents[0], huge, documents[1]], QUESTION
        )

    assert out[1] is huge
    assert [d.metadata["source"] for d in out] == [d.metadata["source"] for d in (documents[0], huge, documents[1])]
    for document, original in ((out[0], documents[0]), (out[2], documents[1])):
        assert comes_from(document.page_content, original.page_content)
        assert count_tokens(document.page_content) < count_tokens(original.page_content)
    assert ANSWER in out[0].page_content
    assert "too large" in caplog.text
    assert "compressing each alone" not in caplog.text
    assert "1 passed through unchanged" in caplog.text


class JointFails:
    """The real compressor, except that a prompt of several documents fails (as a GPU out of
    memory would on a long retrieval)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def compress(self, prompt: Any, **settings: Any) -> Any:
        if len(prompt.contexts) > 1:
            raise RuntimeError("out of memory")
        return self.real.compress(prompt, **settings)


def test_when_the_joint_compression_fails_each_document_is_compressed_alone(
    compressor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    documents = corpus_documents()[1:3]
    with caplog.at_level(logging.WARNING, logger="lingua_core.integrations"):
        out = LinguaCompressor(compressor=JointFails(compressor), rate=0.5).compress_documents(documents, QUESTION)

    assert "RuntimeError: out of memory" in caplog.text
    assert [d.metadata["source"] for d in out] == [d.metadata["source"] for d in documents]
    for document, original in zip(out, documents):
        assert comes_from(document.page_content, original.page_content)
        assert document.metadata[ORIGIN_TOKENS_KEY] == count_tokens(original.page_content)
        assert 0.4 < document.metadata[COMPRESSED_TOKENS_KEY] / document.metadata[ORIGIN_TOKENS_KEY] < 0.6


def test_no_documents_need_no_model() -> None:
    lazy = LinguaCompressor(model="/nonexistent/model")
    assert lazy.compress_documents([], QUESTION) == []


def test_a_method_the_model_cannot_run_raises_instead_of_passing_everything_through(compressor: Any) -> None:
    wrong = LinguaCompressor(compressor=compressor, method="llmlingua2")
    with pytest.raises(ModelError, match="token-classification"):
        wrong.compress_documents(corpus_documents()[:1], QUESTION)


def test_bad_settings_fail_where_the_compressor_is_built() -> None:
    with pytest.raises(ValueError, match="rate must be in"):
        LinguaCompressor(rate=1.5)
    with pytest.raises(ValueError, match="unknown protection 'dates'"):
        LinguaCompressor(no_protect=("dates",))
