"""Rank a prompt's documents by relevance to its question, beyond the LM's own score.

RAG prompts often hold near-duplicates: a dozen incident reports, contracts or release notes
that differ only in an id, a date or an amount. LongLLMLingua ranks documents by how much
each lowers a small LM's loss on the question, and to that LM ``INC0042`` and ``INC0043`` are
almost the same text, so the document that names the asked id need not come first, and a
compressor that keeps the wrong one answers the wrong question. BM25 (``bm25``) catches the
exact id or entity; a sentence embedder (``dense``) catches a document that answers in other
words; reciprocal rank fusion (``fusion``) combines their rankings with the LM's.

Nothing here knows about LMs, prompts or editors: every scorer takes documents and a question
and returns one number per document, higher meaning more relevant. torch is imported only
when an embedder loads.
"""

from __future__ import annotations

import enum

from lingua_core.relevance.bm25 import bm25_scores, tokenize
from lingua_core.relevance.dense import EMBEDDED, Embedder, dense_scores, embedded_embedder_dir
from lingua_core.relevance.fusion import RRF_K, best_first, ranks, reciprocal_rank_fusion


class RankMethod(str, enum.Enum):
    """How question-aware compression ranks documents."""

    LONGLLMLINGUA = "longllmlingua"  # the LM's loss on the question after each document
    BM25 = "bm25"
    EMBEDDING = "embedding"
    FUSED = "fused"  # reciprocal rank fusion of the three


__all__ = [
    "EMBEDDED",
    "RRF_K",
    "Embedder",
    "RankMethod",
    "best_first",
    "bm25_scores",
    "dense_scores",
    "embedded_embedder_dir",
    "ranks",
    "reciprocal_rank_fusion",
    "tokenize",
]
