"""The one budget rule: move the cut along the word scores until the target count is met.

Every method ends with a keep mask over words and a score per word (higher is more worth
keeping). Its own notion of size is never the target model's: a small LM's tokens, a
classifier's sub-tokens and the target tokenizer all differ, and a compressed text
tokenizes less efficiently than prose. So the final size is measured on the assembled
text in the target encoding, and the mask is corrected by adding back the best dropped
words or dropping the weakest kept ones, never touching the fixed ones (protected spans,
``compress=false`` segments).

``BUDGET_TOLERANCE`` is the promise the README makes: a result lands within this share of
the asked size unless the fixed words alone exceed it (the result then says so).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["BUDGET_TOLERANCE", "fit_to_budget"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

BUDGET_TOLERANCE = 0.05


def fit_to_budget(
    keep: BoolArray,
    scores: FloatArray,
    fixed: BoolArray,
    measure: Callable[[BoolArray], int],
    target: int,
    *,
    tolerance: float = BUDGET_TOLERANCE,
    ceiling: bool = False,
    groups: IntArray | None = None,
) -> BoolArray:
    """The mask nearest ``keep`` whose measured size is within ``tolerance`` of ``target``.

    A binary search over how many of the candidate words (ordered by score) to flip; each
    step measures the real assembled text, so separators, repairs and tokenizer merges are
    all counted. With ``ceiling`` the result must not exceed ``target`` (an editor's "fit N
    tokens"); it is then the largest such mask found. ``groups`` (an id per word, -1 for
    none) names words that flip together, a multi-word name: the search never stops inside one.
    """
    keep = keep | fixed
    current = measure(keep)
    if _acceptable(current, target, tolerance, ceiling):
        return keep
    free = ~fixed & np.isfinite(scores)
    if current > target:
        candidates = np.flatnonzero(keep & free)
        candidates = candidates[np.argsort(scores[candidates], kind="stable")]
        change_to = False
    else:
        candidates = np.flatnonzero(~keep & free)
        candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
        change_to = True
    blocks = _blocks(candidates, groups)
    best, best_count = keep, current
    low, high = 0, len(blocks)
    while low <= high:
        middle = (low + high) // 2
        trial = keep.copy()
        if middle:
            trial[np.concatenate(blocks[:middle])] = change_to
        count = measure(trial)
        if _better(count, best_count, target, ceiling):
            best, best_count = trial, count
        if _acceptable(count, target, tolerance, ceiling):
            break
        if (count > target) == (not change_to):
            low = middle + 1  # still on the starting side of the target: move further
        else:
            high = middle - 1
    return best


def _blocks(candidates: IntArray, groups: IntArray | None) -> list[IntArray]:
    """The candidates in order, each alone or with the rest of its group where the group first appears."""
    if groups is None:
        return list(candidates[:, None])
    where: dict[int, int] = {}
    members: list[list[int]] = []
    for index in candidates.tolist():
        group = int(groups[index])
        if group < 0:
            members.append([index])
        elif group in where:
            members[where[group]].append(index)
        else:
            where[group] = len(members)
            members.append([index])
    return [np.asarray(m, dtype=np.int64) for m in members]


def _acceptable(count: int, target: int, tolerance: float, ceiling: bool) -> bool:
    if ceiling:
        return target * (1.0 - tolerance) <= count <= target
    return abs(count - target) <= tolerance * target


def _better(count: int, best: int, target: int, ceiling: bool) -> bool:
    if ceiling:
        if (count <= target) != (best <= target):
            return count <= target
        return abs(count - target) < abs(best - target)
    return abs(count - target) < abs(best - target)
