"""From (original, extractive compression) pairs to keep/drop labels on the original's words.

LLMLingua-2's classifier learns from a strong LLM's extractive compressions. The LLM writes
text, not labels, so each compressed word is matched back to an original word: in order,
case- and punctuation-tolerant, searching a window ahead of the last match so that a
repeated word ("the", "of") is matched to the copy the LLM most likely kept, not to one far
away. What cannot be matched is either a word the LLM invented (not in the original at all)
or an alignment miss (in the original, but not where the order allows).

Two per-sample quality numbers follow the paper, so bad samples can be dropped:

- variation rate: the share of compressed words absent from the original (hallucination);
- alignment gap: hitting rate minus matching rate, where the hitting rate is the compressed
  words found anywhere in the original and the matching rate the original words labelled
  keep, both over the original's length. A large gap means the compression reuses
  original words that could not be placed: reordered or paraphrased text.

Words are the LLMLingua-2 inference units (:func:`lingua_core.words.split_words`),
so a label belongs to exactly the unit the classifier scores.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lingua_core.words import split_words

BoolArray = npt.NDArray[np.bool_]

DEFAULT_WINDOW = 150  # original words searched ahead of the last match


def normalize(word: str) -> str:
    """The form two words are compared in: NFKC, case-folded, edge punctuation removed.

    A word that is only punctuation keeps it, so that ``.`` still matches ``.``.
    """
    folded = unicodedata.normalize("NFKC", word).casefold()
    stripped = folded.strip("".join(ch for ch in set(folded) if unicodedata.category(ch).startswith("P")))
    return stripped or folded


@dataclass(frozen=True)
class Alignment:
    """Word labels of one original text and how well its compression could be placed."""

    text: str
    starts: tuple[int, ...]  # each original word's char range
    ends: tuple[int, ...]
    labels: tuple[bool, ...]  # True: the word is kept in the compression
    compressed_words: int
    unmatched_present: int  # compressed words in the original but not placeable in order
    unmatched_absent: int  # compressed words not in the original at all

    @property
    def words(self) -> list[str]:
        return [self.text[s:e] for s, e in zip(self.starts, self.ends)]

    @property
    def variation_rate(self) -> float:
        return self.unmatched_absent / self.compressed_words if self.compressed_words else 0.0

    @property
    def hitting_rate(self) -> float:
        hits = self.compressed_words - self.unmatched_absent
        return hits / len(self.labels) if self.labels else 0.0

    @property
    def matching_rate(self) -> float:
        return sum(self.labels) / len(self.labels) if self.labels else 0.0

    @property
    def alignment_gap(self) -> float:
        return self.hitting_rate - self.matching_rate


def align_labels(original: str, compressed: str, window: int = DEFAULT_WINDOW) -> Alignment:
    """Label each word of ``original`` kept (True) when the compression holds it, in order.

    Each compressed word takes the nearest unlabelled original word of the same normal form
    after the previous match, preferring, within the window, a copy that the next
    compressed word follows. Past ``window`` words (the LLM skipped a long stretch) only a
    word with a single remaining copy is placed. Matches never go backwards, since an
    extractive compression keeps the original order.
    """
    source = split_words(original)
    target = split_words(compressed)
    keys = [normalize(original[s:e]) for s, e in zip(source.starts.tolist(), source.ends.tolist())]
    present = set(keys)
    positions: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        positions.setdefault(key, []).append(index)
    labels = np.zeros(len(keys), dtype=bool)
    cursor = 0
    missing_present = missing_absent = 0
    target_keys = [normalize(compressed[s:e]) for s, e in zip(target.starts.tolist(), target.ends.tolist())]
    for number, key in enumerate(target_keys):
        following = target_keys[number + 1] if number + 1 < len(target_keys) else None
        found = _next_position(positions.get(key, ()), cursor, labels, window, keys, following)
        if found is not None and found - cursor > window:
            # A jump past the window is trusted only for a word with one copy left: a
            # common word ("the") that far ahead is more likely a word the LLM added.
            remaining = sum(1 for p in positions.get(key, ()) if p >= cursor and not labels[p])
            if remaining > 1:
                found = None
        if found is None:
            if key in present:
                missing_present += 1
            else:
                missing_absent += 1
            continue
        labels[found] = True
        cursor = found + 1
    return Alignment(
        text=original,
        starts=tuple(source.starts.tolist()),
        ends=tuple(source.ends.tolist()),
        labels=tuple(bool(x) for x in labels),
        compressed_words=len(target),
        unmatched_present=missing_present,
        unmatched_absent=missing_absent,
    )


def _next_position(
    candidates: Sequence[int],
    cursor: int,
    labels: BoolArray,
    window: int,
    keys: Sequence[str],
    following: str | None,
) -> int | None:
    """The copy to label: within the window, one followed by the next compressed word if any
    (``the dog`` picks the ``the`` before ``dog``), else the nearest unlabelled copy."""
    index = int(np.searchsorted(np.asarray(candidates, dtype=np.int64), cursor)) if candidates else 0
    free = [int(p) for p in candidates[index:] if not labels[p]]
    if not free:
        return None
    if following is not None:
        for position in free:
            if position - cursor > window:
                break
            if position + 1 < len(keys) and keys[position + 1] == following:
                return position
    return free[0]


@dataclass(frozen=True)
class QualityFilter:
    """Drop the samples with the worst variation rate and alignment gap.

    Quantiles follow the paper's practice (drop the top 5% by variation rate and the top
    10% by alignment gap); absolute ceilings, when given, apply as well.
    """

    variation_quantile: float = 0.95
    gap_quantile: float = 0.90
    max_variation_rate: float | None = None
    max_alignment_gap: float | None = None


@dataclass(frozen=True)
class FilterReport:
    kept: tuple[int, ...]  # indices of the samples that pass
    dropped_variation: int
    dropped_gap: int
    variation_threshold: float
    gap_threshold: float

    @property
    def dropped_share(self) -> float:
        total = len(self.kept) + self.dropped_variation + self.dropped_gap
        return 1.0 - len(self.kept) / total if total else 0.0


def filter_alignments(alignments: Sequence[Alignment], rule: QualityFilter = QualityFilter()) -> FilterReport:
    """Which samples to train on; a sample failing both tests counts under variation."""
    if not alignments:
        return FilterReport((), 0, 0, 0.0, 0.0)
    variation = np.asarray([a.variation_rate for a in alignments])
    gap = np.asarray([a.alignment_gap for a in alignments])
    v_limit = float(np.quantile(variation, rule.variation_quantile))
    g_limit = float(np.quantile(gap, rule.gap_quantile))
    if rule.max_variation_rate is not None:
        v_limit = min(v_limit, rule.max_variation_rate)
    if rule.max_alignment_gap is not None:
        g_limit = min(g_limit, rule.max_alignment_gap)
    # ">" keeps every sample when all share one value (a clean data set is not thinned).
    bad_variation = variation > v_limit
    bad_gap = (gap > g_limit) & ~bad_variation
    kept = tuple(int(i) for i in np.flatnonzero(~bad_variation & ~bad_gap))
    return FilterReport(kept, int(bad_variation.sum()), int(bad_gap.sum()), v_limit, g_limit)
