"""The coarse step inside the kept contexts: whole sentences and whole records go first.

When protected text (placeholders, facts, structure) takes much of the budget, token-level
compression alone would cut every sentence down to a few words, and a JSON collection or a
table, protected as structure, could not shrink at all. Dropping whole units until the rest
can keep at least ``min_rate`` of its free tokens leaves fewer, readable sentences and fewer,
intact records. A unit is a sentence of prose, or a record of a structured context (a JSON
member, a table row; ``lingua_core.records``), which goes with its separator so the rest
still parses.

Which units go first: with a question, the least relevant to it (the caller's relevance
function; the question-aware methods rank documents the same way); without one, the least
informative (mean surprisal in context, so a repeated sentence goes before a new fact), and
units stating facts last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.methods.text_losses import TextLosses
from lingua_core.pieces import TokenizedText, span_mask
from lingua_core.protect import ProtectOptions, Span, find_protected_spans, holds_template_markup
from lingua_core.records import RecordGroup, find_record_groups
from lingua_core.segments import parse_segments
from lingua_core.sentences import split_sentences

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Relevance = Callable[[Sequence[str]], FloatArray]

_PINNING = frozenset({"json", "code_block", "front_matter", "format_line", "placeholder", "segment_tag"})
_FACT_KINDS_ONLY = replace(
    ProtectOptions.nothing(),
    keep_numbers=True,
    keep_identifiers=True,
    keep_quotes=True,
    keep_urls=True,
    keep_negations=True,
)


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    record: tuple[int, int] | None = None  # (group, record) for a record of a structured context


def must_keep(text: str, options: ProtectOptions) -> bool:
    """Text holding a placeholder, a segment tag or an uncompressible segment is never dropped."""
    if holds_template_markup(text, options):
        return True
    return any(not segment.compress for segment in parse_segments(text))


def split_units(text: str, groups: Sequence[RecordGroup]) -> list[Unit]:
    """Sentences outside the record groups, and each group's records, in text order."""
    units: list[Unit] = []
    inside = [(g.start, g.end) for g in groups]
    for start, end in split_sentences(text):
        if not any(s <= start < e for s, e in inside):
            units.append(Unit(start, end))
    for g_index, group in enumerate(groups):
        units.extend(Unit(r.start, r.end, (g_index, r_index)) for r_index, r in enumerate(group.records))
    units.sort(key=lambda u: u.start)
    return units


def ending_inside(ends: IntArray, spans: Sequence[tuple[int, int]]) -> BoolArray:
    """Pieces (tokens, words) whose last character lies in one of the sorted, disjoint ``spans``.

    A piece belongs to the unit of its last character: " Only" starts in the space that closes
    the sentence before, and stays with its own sentence when that one goes.
    """
    mask = np.zeros(len(ends), dtype=bool)
    if not spans or not len(ends):
        return mask
    starts = np.asarray([s for s, _ in spans], dtype=np.int64)
    stops = np.asarray([e for _, e in spans], dtype=np.int64)
    last = np.maximum(ends - 1, 0)
    index = np.searchsorted(starts, last, side="right") - 1
    valid = index >= 0
    mask[valid] = stops[index[valid]] > last[valid]
    return mask & (ends > 0)


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif end > start:
            merged.append((start, end))
    return merged


def drop_units(
    lm: Any,
    tokens: TokenizedText,
    forced: BoolArray,
    target: float,
    min_rate: float,
    protect: ProtectOptions,
    protected_spans: list[Span],
    *,
    relevance: Relevance | None = None,
    cancelled: Callable[[], bool] | None = None,
    already: BoolArray | None = None,
    text_losses: TextLosses | None = None,
) -> list[tuple[int, int]]:
    """Character spans of the whole units to drop (sorted, disjoint); none when the budget
    leaves every unit ``min_rate`` of its free tokens.

    ``text_losses``: the text's token losses, shared with the iterative step that follows.
    """
    text = tokens.text
    # Records are selected against a question; without one a JSON collection or a table is
    # more likely an example of the output's shape, kept as structure.
    groups = find_record_groups(text) if relevance is not None else []
    units = split_units(text, groups)
    count = len(units)
    if count < 2:
        return []
    unit_starts = np.asarray([u.start for u in units], dtype=np.int64)
    unit_of = np.maximum(np.searchsorted(unit_starts, np.maximum(tokens.ends - 1, 0), side="right") - 1, 0)
    # Whitespace-only tokens ride with the word after them: they are neither free nor protected.
    content = np.fromiter((bool(tokens.piece(i).strip()) for i in range(len(tokens))), dtype=bool, count=len(tokens))
    if already is not None:
        content &= ~already  # gone already (the sentence filter): neither free nor protected
    protected = np.bincount(unit_of, weights=(forced & content).astype(np.float64), minlength=count)
    free = np.bincount(unit_of, weights=(~forced & content).astype(np.float64), minlength=count)
    budget = max(0.0, target)

    def fits(kept: BoolArray) -> bool:
        return bool(budget - protected[kept].sum() >= min_rate * free[kept].sum())

    alive = np.ones(count, dtype=bool)
    if fits(alive):
        return []
    is_record = np.asarray([u.record is not None for u in units], dtype=bool)
    # Sentences that hold template markup or part of a structure (a JSON example, a code
    # block, an output-format line) stay: dropping them whole would break what parses. A
    # record is structure too, but one that goes whole with its separator.
    structure = span_mask(tokens, [(span.start, span.end) for span in protected_spans if span.kind in _PINNING])
    in_structure = np.bincount(unit_of, weights=structure.astype(np.float64), minlength=count) > 0
    pinned = ((free == 0) | in_structure) & ~is_record
    pinned |= np.asarray([must_keep(text[u.start : u.end], protect) for u in units], dtype=bool)
    if pinned.all():
        return []
    facts = span_mask(tokens, [(s.start, s.end) for s in find_protected_spans(text, _FACT_KINDS_ONLY)])
    has_fact = np.bincount(unit_of, weights=facts.astype(np.float64), minlength=count) > 0
    if relevance is not None:
        # Question-aware: the least relevant go first; facts and position break ties.
        relevant = np.nan_to_num(np.asarray(relevance([text[u.start : u.end] for u in units]), dtype=np.float64))
        order = np.lexsort((has_fact, relevant)).tolist()
    else:
        losses = (text_losses or TextLosses(lm, tokens.ids, cancelled)).losses()
        scored = np.isfinite(losses)
        sums = np.bincount(unit_of[scored], weights=losses[scored], minlength=count)
        counts = np.bincount(unit_of[scored], minlength=count)
        informative = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
        # Units that state facts (numbers, dates, ids, quotes, links) or a negation are what
        # questions ask about and what constraints say: they go last, whatever a small LM
        # thinks of their wording, and when they go they go whole.
        order = np.lexsort((informative, has_fact)).tolist()
    order = [i for i in order if not pinned[i]]
    # The most valuable droppable unit stays when nothing else would: an empty output is
    # never the answer to a budget that protected text alone exceeds.
    if not pinned.any() and order:
        order = order[:-1]
    dropped: list[int] = []
    for index in order:
        if fits(alive):
            break
        alive[index] = False
        dropped.append(index)
    # Dropping a unit heavy with protected text (a link, a list of ids) can free more than was
    # missing: bring back the earlier, lighter drops that still fit, so the budget goes to
    # shortened sentences instead of a few untouched ones.
    for index in reversed(dropped[:-1]):
        alive[index] = True
        if not fits(alive):
            alive[index] = False
    return _spans_of(units, groups, alive)


def _spans_of(units: Sequence[Unit], groups: Sequence[RecordGroup], alive: BoolArray) -> list[tuple[int, int]]:
    spans = [(u.start, u.end) for u, a in zip(units, alive) if not a and u.record is None]
    keep: list[list[bool]] = [[True] * len(g.records) for g in groups]
    for unit, a in zip(units, alive):
        if unit.record is not None and not a:
            keep[unit.record[0]][unit.record[1]] = False
    for group, flags in zip(groups, keep):
        if not all(flags):
            spans.extend(group.drop_spans(flags))
    return merge_spans(spans)
