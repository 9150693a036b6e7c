"""Iterative token-level compression (LLMLingua): score a window given the kept prefix, cut, go on.

The data path: token ids + a target keep ratio per token + tokens that must stay
-> per window: next-token losses under the compressed prefix -> a threshold from the
window's ratio -> keep mask -> the kept tokens become the prefix of the next window.

A token is scored by its own surprisal given the kept prefix, and decisions are made per
word (``unit``): a word is kept or dropped whole, so ids and names are never cut inside.
The reference's next-token indexing and per-token decisions stay available
(``Scoring.NEXT_TOKEN``, no units) for comparisons with it. A window's threshold is a
quantile over the scores kept so far plus the window's, weighted by tokens (see
``ThresholdPool``).
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from lingua_core.methods.kv_cache import CompressedCache
from lingua_core.methods.text_losses import ScoredPrefix
from lingua_core.progress import CompressionCancelled, Progress
from lingua_core.words import Aggregation, aggregate_by

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class ThresholdPool(enum.Enum):
    """Which scores a window's keep threshold is a quantile of.

    The reference takes the quantile over every loss it holds: the kept tokens so far, the
    window, and the rest of the text as scored by an extra full forward pass at the start.
    ``KEPT_WINDOW_REST`` gets close without that pass by letting the window's scores stand in
    for the rest of the text (weighted by its length); ``KEPT_AND_WINDOW`` leaves the rest
    out (later windows keep less and less); ``WINDOW`` uses the window alone, the paper's
    per-segment threshold.
    """

    KEPT_WINDOW_REST = "kept_window_rest"
    KEPT_AND_WINDOW = "kept_and_window"
    WINDOW = "window"


class Scoring(enum.Enum):
    """Which loss scores a token.

    ``OWN_TOKEN`` is the paper's definition: a token's surprisal given the kept prefix.
    ``NEXT_TOKEN`` is the reference implementation's indexing (the loss of the token after
    it), which keeps a token when its successor is surprising ("the the the" survives while
    the content words go); it stays for comparisons with the reference.
    """

    OWN_TOKEN = "own_token"
    NEXT_TOKEN = "next_token"


@dataclass(frozen=True)
class IterativeSettings:
    window: int = 200
    scoring: Scoring = Scoring.OWN_TOKEN
    # How a word's score follows from its tokens': the mean ranked best on human sentence
    # compressions (bench/quality.py), by a small margin over max, first and sum.
    aggregation: Aggregation = Aggregation.MEAN
    reuse_kv: bool = True
    pool: ThresholdPool = ThresholdPool.KEPT_WINDOW_REST
    sink_tokens: int = 10  # cache entries never evicted when the context window fills up
    # The reference compresses only full windows: the tail after the last one stays whole,
    # and a text shorter than a window has only its last (window - n) tokens compressed.
    # Useful to compare with it; off by default, since users want the whole text compressed.
    reference_windows: bool = False


def reference_window_forced(count: int, window: int) -> BoolArray:
    """The tokens the reference's window loop never gets to compress."""
    forced = np.zeros(count, dtype=bool)
    if count < window:
        forced[: max(0, 2 * count - window)] = True
    else:
        forced[(count // window) * window :] = True
    return forced


class _Streams:
    """The text fed to the LM window by window, its cache holding only the kept tokens.

    Row 0 scores the text on its own. With a condition (LongLLMLingua's question), row 1
    scores it after the question, in the same forward call: both rows keep the same tokens,
    so one two-row cache serves them. Row 0 holds a copy of the question's entries, hidden
    by its attention mask, and its positions run the question's length behind row 1's, so
    each row computes exactly what it would alone (equal in fp32). One call of two rows
    instead of two calls of one halves the per-call overhead and doubles the rows of every
    matrix product: 10-15% off the contrastive pass on a 2-core CPU.
    """

    def __init__(
        self, model: Any, condition: torch.Tensor | None, reuse_kv: bool, max_positions: int, sink: int
    ) -> None:
        self.model = model
        self.cache = CompressedCache(model)
        self.reuse_kv = reuse_kv and self.cache.rerotate
        self.max_positions = max_positions
        self.question = 0 if condition is None else int(condition.shape[0])
        self.rows = 1 if condition is None else 2
        self.sink = sink + self.question
        self.picks_positions = accepts_logits_to_keep(model)
        if condition is not None:
            with torch.inference_mode():
                selection = {"logits_to_keep": 1} if self.picks_positions else {}
                model(input_ids=condition[None], **selection, **self.cache.forward_kwargs())
            self.cache.repeat_rows(2)
        self.pending: torch.Tensor | None = None  # the exact path's kept tokens, not in the cache yet

    @torch.inference_mode()
    def losses(self, window: torch.Tensor, wanted: BoolArray) -> torch.Tensor:
        """Loss of each token of ``window`` after the first, one row per stream; NaN where
        ``wanted`` (one flag per such token) is not set.

        The vocabulary projection is a fifth of a small LM's work per token, and most tokens
        fed here are only context: protected words, the best document kept whole. Their
        logits are never computed when the model lets a forward call pick positions.
        """
        feed = window if self.pending is None else torch.cat((self.pending, window))
        base = len(self.cache)
        overflow = base + feed.shape[0] - self.max_positions
        if overflow > 0:
            self.cache.evict(min(self.sink, base), overflow)
            base = len(self.cache)
        positions = torch.arange(base, base + feed.shape[0], device=feed.device)[None]
        mask = None
        if self.rows == 2:
            positions = torch.cat((positions - self.question, positions))
            mask = torch.ones((2, base + feed.shape[0]), dtype=torch.long, device=feed.device)
            mask[0, : self.question] = 0
        offset = feed.shape[0] - window.shape[0]
        asked = np.flatnonzero(wanted)
        picked = asked if asked.size else np.zeros(1, dtype=np.int64)  # a call must ask for one
        selection: dict[str, Any] = {}
        if self.picks_positions:
            selection["logits_to_keep"] = torch.as_tensor(offset + picked, dtype=torch.long, device=feed.device)
        output = self.model(
            input_ids=feed[None].expand(self.rows, -1),
            position_ids=positions,
            attention_mask=mask,
            **selection,
            **self.cache.forward_kwargs(),
        )
        logits = output.logits if self.picks_positions else output.logits[:, offset + picked]
        self._base, self._offset, self._window = base, offset, window
        losses = torch.full((self.rows, window.shape[0] - 1), float("nan"), device=feed.device)
        if asked.size:
            targets = window[1:][torch.as_tensor(asked, device=feed.device)]
            # Cross-entropy straight on the model's dtype, as the reference computes it: the
            # same rounding (bf16 losses tie often) keeps the thresholds comparable. One row
            # at a time: over a (rows, vocabulary, n) transposed view it is 7x slower.
            losses[:, asked] = torch.stack(
                [torch.nn.functional.cross_entropy(row, targets, reduction="none") for row in logits]
            ).float()
        return losses

    def resume(self, prefix: ScoredPrefix, window: torch.Tensor, wanted: BoolArray, shared: int) -> torch.Tensor:
        """``losses`` for the first window, whose first ``shared`` tokens are the text's own
        start: the coarse step's forward over the whole text already scored them after the
        same (empty) prefix, so their losses and keys come from it and only the rest, after
        the first sentence the coarse step dropped, is fed. The last shared token is fed
        again: its logits predict the token that now follows it.
        """
        self.cache = prefix.cache
        split = shared if shared == window.shape[0] else shared - 1
        self.cache.truncate(split)
        scored = min(split, window.shape[0] - 1)  # tokens 1..scored of the window
        known = torch.as_tensor(prefix.losses[1 : scored + 1], dtype=torch.float32, device=window.device)
        known = torch.where(torch.as_tensor(wanted[:scored], device=window.device), known, float("nan"))[None]
        if split < window.shape[0]:
            known = torch.cat((known, self.losses(window[split:], wanted[split:])), dim=1)
        # commit() sees one window fed after an empty cache, as if it had been fed whole.
        self._base, self._offset, self._window = 0, 0, window
        return known

    def commit(self, kept: torch.Tensor) -> None:
        """Keep the tokens at indices ``kept`` of the last window fed (never its look-ahead)."""
        if self.reuse_kv:
            leading = torch.arange(self._offset, device=kept.device)
            self.cache.keep(self._base, torch.cat((leading, self._offset + kept)))
        else:
            self.cache.truncate(self._base + self._offset)
            self.pending = self._window[kept]


def accepts_logits_to_keep(model: Any) -> bool:
    """Whether the model's forward computes logits only at positions it is given (transformers
    5 causal LMs do; a model of one's own may not, and then every position is projected)."""
    return "logits_to_keep" in inspect.signature(type(model).forward).parameters


def _quantile_threshold(values: FloatArray, weights: FloatArray, ratio: float) -> float:
    """The score a token must exceed to be among the top ``ratio`` of the (weighted) pool.

    With unit weights this is the reference's rule: the value at index ``int(n * ratio) - 1``
    of the scores sorted in descending order.
    """
    if ratio >= 1.0 or values.size == 0:
        return float("-inf")
    total = float(weights.sum())
    k = max(0, min(int(np.ceil(total)) - 1, int(total * ratio) - 1))
    order = np.argsort(-values, kind="stable")
    reached = np.searchsorted(np.cumsum(weights[order]), k + 1 - 1e-9)
    return float(values[order[min(int(reached), order.size - 1)]])


def unit_scores(token_scores: FloatArray, unit: IntArray, count: int, how: Aggregation) -> FloatArray:
    """One score per unit (word) from its tokens' scores; NaN tokens (no prediction) are skipped.

    A unit whose tokens all lack a score gets +inf: with nothing to judge it by, it stays.
    """
    valid = ~np.isnan(token_scores)
    result = aggregate_by(token_scores[valid], unit[valid], count, how)
    return np.where(np.isnan(result), np.inf, result)


def _window_end(start: int, count: int, window: int, unit: IntArray | None) -> int:
    """Where a window stops: ``window`` tokens on, moved forward to the end of the unit it cuts.

    A unit that would stretch the window beyond four times its size is cut anyway (a
    base64 blob is one word); its tokens are then decided in two windows, and the output,
    built from whole words, keeps the word if either part kept a token.
    """
    end = min(count, start + window)
    if unit is None or end >= count:
        return end
    limit = min(count, start + 4 * window)
    boundary = end
    while boundary < limit and unit[boundary] == unit[boundary - 1]:
        boundary += 1
    return boundary if boundary < limit or limit == count else end


def compress_tokens(
    model: Any,
    ids: IntArray,
    ratio: FloatArray,
    forced: BoolArray,
    *,
    device: Any,
    max_positions: int,
    settings: IterativeSettings = IterativeSettings(),
    condition: IntArray | None = None,
    unit: IntArray | None = None,
    excluded: BoolArray | None = None,
    primed: ScoredPrefix | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[BoolArray, FloatArray]:
    """Decide which tokens to keep; returns the keep mask and each token's score.

    ``ratio[i]`` is the share of tokens to keep around token ``i`` (1.0 keeps everything);
    ``forced`` tokens are always kept. With ``condition`` (question token ids), the score is
    contrastive (LongLLMLingua): how much more surprising a token is without the question
    than with it in front. ``unit`` (non-decreasing, one id per token) groups tokens into
    words that are kept or dropped whole, scored by ``settings.aggregation`` over their
    tokens; a token's returned score is then its unit's. ``excluded`` tokens (sentences the
    coarse step dropped) are never kept and take no part in any threshold. ``primed``: the
    coarse step's forward over the same ids, which serves the first window when nothing
    before its end was dropped.
    """
    count = int(ids.shape[0])
    if excluded is None:
        excluded = np.zeros(count, dtype=bool)
    keep = ~excluded
    scores = np.where(excluded, -np.inf, np.inf)
    if count < 2:
        return keep, scores
    own_scores = settings.scoring is Scoring.OWN_TOKEN
    if settings.reference_windows:
        forced = forced | reference_window_forced(count, settings.window)
    tokens = torch.as_tensor(ids, dtype=torch.long, device=device)
    question = None
    if condition is not None and condition.shape[0]:
        # A question longer than half the context window keeps its end, where the ask is,
        # so that the text still has room beside it.
        question = torch.as_tensor(condition[-(max_positions // 2) :], dtype=torch.long, device=device)
    streams = _Streams(model, question, settings.reuse_kv, max_positions, settings.sink_tokens)
    pool = _Pool()
    scored = ~excluded if unit is None else ~excluded & ~forced  # what a threshold is taken over
    active_after = np.concatenate((np.cumsum(scored[::-1])[::-1], [0]))
    carried = np.full(streams.rows, np.nan)  # the look-ahead loss of the next window's first token
    # next_active[i]: the first token at or after i that the coarse steps did not drop.
    positions = np.where(excluded, count, np.arange(count))
    next_active = np.minimum.accumulate(positions[::-1])[::-1]
    start = 0
    while start < count:
        if cancelled is not None and cancelled():
            raise CompressionCancelled()
        if own_scores and active_after[start] == 0:
            # Nothing after here is free to choose (a structured context whose records the
            # coarse step already picked, a protected tail): the model has nothing to decide.
            keep[start:] = forced[start:] & ~excluded[start:]
            break
        end = _window_end(start, count, settings.window, unit)
        if own_scores and excluded[start:end].all():
            # A window the coarse step dropped whole adds nothing to the kept prefix (and the
            # look-ahead carried over is still the next token fed).
            keep[start:end] = False
            start = end
            continue
        if own_scores:
            # Only what can be kept is fed: a token the coarse step dropped is never in the
            # kept prefix, so scoring the rest as if it were would be scoring another text.
            # The look-ahead is the next token that can be kept.
            fed = start + np.flatnonzero(~excluded[start:end])
            following = next_active[end] if end < count else count
            if following < count:
                fed = np.append(fed, following)
            # Losses are needed only where a word is free to go; forced tokens are context.
            wanted = ~forced[fed[1:]]
        else:
            fed = np.arange(start, min(count, end + 1))
            wanted = np.ones(fed.shape[0] - 1, dtype=bool)
        feed = tokens[torch.as_tensor(fed, device=device)]
        shared = primed.shared(fed) if primed is not None and start == 0 and own_scores and streams.rows == 1 else 0
        if primed is not None and shared >= 2:
            window_losses = streams.resume(primed, feed, wanted, shared)
        else:
            window_losses = streams.losses(feed, wanted)
        losses = window_losses.double().cpu().numpy()
        if own_scores:
            # Token j is scored by its own surprisal given the kept prefix (the paper's
            # definition); the window's first token fed by the previous window's look-ahead.
            inside = int(np.searchsorted(fed, end))  # fed tokens of this window
            own = np.full((streams.rows, end - start), np.nan)
            own[:, fed[0] - start] = carried
            own[:, fed[1:inside] - start] = losses[:, : inside - 1]
            carried = losses[:, inside - 1] if inside < fed.shape[0] else np.full(streams.rows, np.nan)
            window_scores = own[0] if streams.rows == 1 else own[0] - own[1]
        else:
            # The reference's indexing: token j is scored by the loss of token j + 1.
            window_scores = losses[0] if streams.rows == 1 else losses[0] - losses[1]
            if window_scores.shape[0] < end - start:
                window_scores = np.concatenate((window_scores, [np.inf]))
        window_forced, window_excluded = forced[start:end], excluded[start:end]
        window_scores = np.where(np.isnan(window_scores), np.inf, window_scores) if unit is None else window_scores
        rest = int(active_after[end])  # tokens after this window still to be scored
        if unit is None:
            window_scores = np.where(window_excluded, -np.inf, window_scores)
            sizes = np.ones(end - start)
            window_keep = _window_keep(window_scores, sizes, ratio[start:end], pool, settings.pool, rest)
            window_keep = (window_keep | window_forced) & ~window_excluded
            pool.add(window_scores[window_keep], sizes[window_keep])
        else:
            local = unit[start:end] - unit[start]
            units = int(local[-1]) + 1
            per_unit = unit_scores(window_scores, local, units, settings.aggregation)
            sizes = np.bincount(local, minlength=units).astype(np.float64)
            first_token = np.searchsorted(local, np.arange(units))
            unit_excluded = np.bincount(local, weights=window_excluded.astype(np.float64), minlength=units) > 0
            unit_forced = np.bincount(local, weights=window_forced.astype(np.float64), minlength=units) > 0
            per_unit[unit_excluded] = -np.inf
            # Forced words stay whatever their score, so they take no part in the threshold:
            # the ratio is the share of the free words to keep.
            free_scores = np.where(unit_forced, np.nan, per_unit)
            unit_keep = _window_keep(free_scores, sizes, ratio[start:end][first_token], pool, settings.pool, rest)
            unit_keep = (unit_keep | unit_forced) & ~unit_excluded
            pool.add(np.where(unit_forced, np.nan, per_unit)[unit_keep], sizes[unit_keep])
            window_keep = unit_keep[local]
            window_scores = per_unit[local]
        if not own_scores and fed[-1] == end - 1:  # the text's last token is always kept, as in the reference
            window_keep[-1] = True
        keep[start:end] = window_keep
        scores[start:end] = window_scores
        if end < count:  # the last window's kept tokens are no one's prefix
            kept_fed = np.searchsorted(fed, start + np.flatnonzero(window_keep))  # where they sit in what was fed
            streams.commit(torch.as_tensor(kept_fed, dtype=torch.long, device=device))
        if progress is not None:
            progress(end, count)
        start = end
    return keep, scores


class _Pool:
    """The scores of everything kept so far, each weighted by its tokens: the threshold's history."""

    def __init__(self) -> None:
        self.values: list[FloatArray] = []
        self.weights: list[FloatArray] = []

    def add(self, values: FloatArray, weights: FloatArray) -> None:
        finite = np.isfinite(values)
        self.values.append(values[finite])
        self.weights.append(weights[finite])

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        if not self.values:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(self.values), np.concatenate(self.weights)


def _window_keep(
    window_scores: FloatArray,
    sizes: FloatArray,
    window_ratio: FloatArray,
    pool: _Pool,
    pool_kind: ThresholdPool,
    rest: int,
) -> BoolArray:
    """Keep the items (tokens or words) above the quantile of their ratio, tokens weighing as tokens."""
    finite = np.isfinite(window_scores)
    values, weights = window_scores[finite], sizes[finite]
    window_weight = 1.0
    if pool_kind is ThresholdPool.KEPT_WINDOW_REST and weights.sum() > 0:
        window_weight += rest / float(weights.sum())
    kept_values, kept_weights = pool.arrays() if pool_kind is not ThresholdPool.WINDOW else (np.zeros(0), np.zeros(0))
    all_values = np.concatenate([kept_values, values])
    all_weights = np.concatenate([kept_weights, weights * window_weight])
    keep = np.zeros(window_scores.shape[0], dtype=bool)
    for value in np.unique(window_ratio):
        members = window_ratio == value
        threshold = _quantile_threshold(all_values, all_weights, float(value))
        keep[members] = window_scores[members] > threshold
    return keep
