"""How relevant each piece of a context is to the prompt's question, by the chosen rank method.

The question-aware coarse steps ask the same thing at three sizes: which documents to keep
(``select_contexts``), which sentences or records inside them (``coarse_units``), and which
sentence of a kept document holds the answer. One scorer answers all three, so that a
setting picks the ranking everywhere and the embedder loads once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.methods.perplexity import mean_losses
from lingua_core.relevance import (
    Embedder,
    RankMethod,
    best_first,
    bm25_scores,
    dense_scores,
    reciprocal_rank_fusion,
)

FloatArray = npt.NDArray[np.float64]

# LongLLMLingua appends this to the question when it asks which document answers it.
QUESTION_HINT = " We can get the answer to this question in the given documents."
# Fused ranking asks the LM only about the documents BM25 and the embedder rank highest.
LM_SHORTLIST = 8


@functools.lru_cache(maxsize=2)
def shared_embedder(spec: str, device: str) -> Embedder:
    """One embedder per process and spec: the language server and the CLI load it on first use."""
    return Embedder.load(spec, device=device)


class QuestionRelevance:
    """Scores texts against one question; higher is more relevant."""

    def __init__(self, lm: Any, question: str, method: RankMethod | str, embedder: str = "embedded") -> None:
        self.lm = lm
        self.question = question
        self.method = RankMethod(method)
        self.embedder_spec = embedder

    def __call__(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros(0)
        if self.method is RankMethod.LONGLLMLINGUA:
            return self.lm_scores(texts)
        if self.method is RankMethod.BM25:
            return bm25_scores(texts, self.question)
        if self.method is RankMethod.EMBEDDING:
            return self.dense(texts)
        cheap = [bm25_scores(texts, self.question), self.dense(texts)]
        return reciprocal_rank_fusion([self.shortlisted_lm_scores(texts, reciprocal_rank_fusion(cheap)), *cheap])

    def shortlisted_lm_scores(self, texts: Sequence[str], first: FloatArray) -> FloatArray:
        """The LM's score for the ``LM_SHORTLIST`` best texts by ``first``, the rest ranked last.

        The LM pass costs about as much as the rest of the compression (a forward pass over
        every document with the question after it); the LM's part in the fusion is to order
        the candidates that the term and meaning scores already put near the top, and a
        document both of them rank low does not reach the head of the fused list anyway.
        """
        if len(texts) <= LM_SHORTLIST:
            return self.lm_scores(texts)
        shortlist = best_first(first)[:LM_SHORTLIST]
        scores = np.full(len(texts), -np.inf)
        scores[shortlist] = self.lm_scores([texts[i] for i in shortlist.tolist()])
        return scores

    def units(self, texts: Sequence[str]) -> FloatArray:
        """Sentences and records: fused without the LM's score, which would cost a forward pass
        over every unit with the question appended; BM25 and the embedder decide at this size."""
        if self.method is RankMethod.FUSED and texts:
            return reciprocal_rank_fusion([bm25_scores(texts, self.question), self.dense(texts)])
        return self(texts)

    def lm_scores(self, texts: Sequence[str]) -> FloatArray:
        """LongLLMLingua's: the less surprising the question after a text, the more relevant the text."""
        lm = self.lm
        losses = mean_losses(
            lm.model,
            lm.tokenizer,
            texts,
            device=lm.device,
            max_positions=lm.max_positions,
            condition=self.question + QUESTION_HINT,
        )
        return -np.nan_to_num(losses, nan=np.inf)

    def dense(self, texts: Sequence[str]) -> FloatArray:
        return dense_scores(shared_embedder(self.embedder_spec, str(self.lm.device)), texts, self.question)
