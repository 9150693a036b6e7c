"""Reciprocal rank fusion: one ranking from scorers whose numbers cannot be compared.

A BM25 score, a cosine similarity and an LM's mean loss live on unrelated scales (and the
loss runs the other way), so adding them would let whichever has the widest spread decide.
Ranks can be combined: each scorer gives a document ``weight / (k + rank)``, and a document
near the top of several lists beats one at the top of a single list only when the others
agree. Ties share the average of their ranks, so a scorer that cannot tell documents apart
(BM25 when no word of the question occurs) favours none of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RRF_K = 60.0  # the constant of Cormack et al. (2009); larger values flatten the head of each list


def ranks(scores: Sequence[float] | FloatArray) -> FloatArray:
    """1 for the highest score; tied scores share their average rank, NaN ranks last.

    Average ranks of ties can be halves (two documents tied for first both get 1.5), hence
    floats rather than integers.
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    if values.size == 0:
        return np.zeros(0, dtype=np.float64)
    values = np.where(np.isnan(values), -np.inf, values)
    _, inverse, counts = np.unique(-values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based position where each tie group starts
    average = first + (counts + 1) / 2.0
    return np.asarray(average[inverse.ravel()], dtype=np.float64)


def best_first(scores: Sequence[float] | FloatArray) -> IntArray:
    """Indices from the highest score down; ties keep the documents' original order."""
    values = np.asarray(scores, dtype=np.float64).ravel()
    values = np.where(np.isnan(values), -np.inf, values)
    return np.asarray(np.argsort(-values, kind="stable"), dtype=np.int64)


def _weights(count: int, weights: Sequence[float] | None) -> FloatArray:
    if weights is None:
        return np.ones(count, dtype=np.float64)
    chosen = np.asarray(weights, dtype=np.float64).ravel()
    if chosen.size != count:
        raise ValueError(f"{chosen.size} weights for {count} score lists.")
    if not np.all(np.isfinite(chosen)) or np.any(chosen < 0):
        raise ValueError("Fusion weights must be finite and not negative.")
    return chosen


def reciprocal_rank_fusion(
    score_lists: Sequence[Sequence[float] | FloatArray],
    k: float = RRF_K,
    weights: Sequence[float] | None = None,
) -> FloatArray:
    """One fused score per document (higher is better) from lists where higher is better.

    Turn a loss into such a list by negating it before fusing.
    """
    if len(score_lists) == 0:
        raise ValueError("Reciprocal rank fusion needs at least one score list.")
    if not np.isfinite(k) or k < 0:
        raise ValueError(f"The fusion constant k must be finite and not negative, not {k}.")
    lists = [np.asarray(scores, dtype=np.float64).ravel() for scores in score_lists]
    sizes = {scores.size for scores in lists}
    if len(sizes) != 1:
        raise ValueError(f"Score lists of different lengths cannot be fused: {sorted(sizes)}.")
    chosen = _weights(len(lists), weights)
    fused = np.zeros(lists[0].size, dtype=np.float64)
    for weight, scores in zip(chosen, lists):
        fused += weight / (k + ranks(scores))
    return fused
