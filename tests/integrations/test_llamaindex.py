"""LinguaPostprocessor in a real LlamaIndex retrieval: a VectorStoreIndex over a few nodes,
a retriever and a query engine, the session's embedded model; no LLM call, no network.

Offline: llama-index-core reads NLTK data (sentence splitting, stopwords) and tiktoken files
(its default token counter) from caches bundled in its wheel (``llama_index/core/_static``),
and only on first use, never at import. These tests build nodes directly (no sentence
splitter) and answer with the context itself (``ContextOnly``, given a ``MockLLM`` so that
LlamaIndex does not reach for its default OpenAI one); ``no_network`` makes any
download the library might still try fail at once instead of waiting on a timeout.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers.context_only import ContextOnly
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from lingua_core.integrations.documents import COMPRESSED_TOKENS_KEY, ORIGIN_TOKENS_KEY
from lingua_core.integrations.llamaindex import LinguaPostprocessor
from lingua_core.tokens import count_tokens
from tests.integrations.conftest import ANSWER, ANSWER_SOURCE, CORPUS, QUESTION, comes_from, keyword_vector

RATE = 0.4


class KeywordEmbedding(BaseEmbedding):
    def _get_query_embedding(self, query: str) -> list[float]:
        return keyword_vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return keyword_vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return keyword_vector(text)


@pytest.fixture
def no_network(compressor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the model is loaded (from local files), any connection attempt fails."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("the tests run offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def corpus_nodes() -> list[TextNode]:
    return [
        TextNode(text=text, id_=source, metadata={"source": source, "position": n})
        for n, (source, text) in enumerate(CORPUS.items())
    ]


@pytest.mark.usefixtures("no_network")
def test_a_query_engine_gets_shorter_nodes_with_their_own_metadata_and_scores(compressor: Any) -> None:
    index = VectorStoreIndex(nodes=corpus_nodes(), embed_model=KeywordEmbedding())
    retriever = index.as_retriever(similarity_top_k=4)
    retrieved = retriever.retrieve(QUESTION)
    assert retrieved[0].node.metadata["source"] == ANSWER_SOURCE
    scores = {n.node.node_id: n.score for n in retrieved}
    assert len(set(scores.values())) == len(scores)  # distinct: a score carried to the wrong node shows

    # ContextOnly answers with the context an LLM would get: the nodes' LLM view, joined.
    engine = RetrieverQueryEngine(
        retriever,
        response_synthesizer=ContextOnly(llm=MockLLM()),
        node_postprocessors=[LinguaPostprocessor(compressor=compressor, rate=RATE)],
    )
    response = engine.query(QUESTION)
    out = response.source_nodes

    assert out, "the compression dropped every node"
    for item in out:
        node = item.node
        original = CORPUS[node.node_id]
        assert node.metadata["source"] == node.node_id
        assert node.metadata["position"] == list(CORPUS).index(node.node_id)
        assert comes_from(node.get_content(), original), (node.node_id, node.get_content())
        assert item.score == scores[node.node_id]
        assert node.metadata[ORIGIN_TOKENS_KEY] == count_tokens(original)
        assert node.metadata[COMPRESSED_TOKENS_KEY] == count_tokens(node.get_content())
        # The counts describe the text; they are not part of what the LLM reads or what gets embedded.
        assert "lingua_" not in node.get_content(metadata_mode=MetadataMode.EMBED)
    context = str(response)
    assert ANSWER in context and f"source: {ANSWER_SOURCE}" in context
    assert "lingua_" not in context
    answer = [n for n in out if n.node.node_id == ANSWER_SOURCE]
    assert answer and ANSWER in answer[0].node.get_content()

    origin = sum(count_tokens(n.node.get_content()) for n in retrieved)
    compressed = sum(count_tokens(n.node.get_content()) for n in out)
    assert 0.6 * RATE * origin <= compressed <= 1.1 * RATE * origin, (compressed, origin)
    # The index still holds the full text: the postprocessor changed copies.
    assert index.docstore.get_node(ANSWER_SOURCE).get_content() == CORPUS[ANSWER_SOURCE]


@pytest.mark.usefixtures("no_network")
def test_an_empty_node_passes_through_and_no_nodes_give_none(compressor: Any) -> None:
    postprocessor = LinguaPostprocessor(compressor=compressor, rate=0.5)
    assert postprocessor.postprocess_nodes([], query_str=QUESTION) == []

    nodes = corpus_nodes()[1:3]
    empty = NodeWithScore(node=TextNode(text="", id_="empty", metadata={"source": "empty"}), score=0.1)
    given = [NodeWithScore(node=nodes[0], score=0.9), empty, NodeWithScore(node=nodes[1], score=0.5)]
    out = postprocessor.postprocess_nodes(given, QueryBundle(QUESTION))

    assert empty in out
    assert out[out.index(empty)] is empty
    ids = [n.node.node_id for n in out]
    assert ids == [n.node.node_id for n in given if n.node.node_id in ids]
    first = out[0]
    assert first.node.node_id == ANSWER_SOURCE and first.score == 0.9
    assert ANSWER in first.node.get_content()
    assert first.node.metadata[COMPRESSED_TOKENS_KEY] < first.node.metadata[ORIGIN_TOKENS_KEY]
