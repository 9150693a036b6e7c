"""Iterative token-level compression: the KV-reuse shortcut against the exact re-forward path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lingua_core.methods.iterative import (
    CompressionCancelled,
    IterativeSettings,
    Scoring,
    ThresholdPool,
    compress_tokens,
)
from lingua_core.methods.text_losses import ScoredPrefix, TextLosses
from lingua_core.models import load_model
from lingua_core.pieces import tokenize
from tests.conftest import tiny_llama

TEXT = (
    "The committee met on Tuesday to review the budget for the coming year. Several members argued that "
    "the maintenance fund was too small, while others wanted more money for the library. After two hours "
    "of discussion they agreed to raise the maintenance fund by ten percent and to revisit the library "
    "request in March. The chair thanked everyone and closed the meeting at half past nine. "
) * 6


def _compress(
    lm: Any,
    ids: np.ndarray,
    *,
    ratio: float = 0.5,
    window: int = 37,
    reuse: bool = True,
    pool: ThresholdPool = ThresholdPool.WINDOW,
    condition: np.ndarray | None = None,
    max_positions: int | None = None,
    cancelled: Callable[[], bool] | None = None,
    scoring: Scoring = Scoring.OWN_TOKEN,
    unit: np.ndarray | None = None,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    return compress_tokens(
        lm.model,
        ids,
        np.full(len(ids), ratio),
        np.zeros(len(ids), dtype=bool) if forced is None else forced,
        device=lm.device,
        max_positions=max_positions or lm.max_positions,
        settings=IterativeSettings(window=window, reuse_kv=reuse, pool=pool, scoring=scoring),
        condition=condition,
        unit=unit,
        excluded=excluded,
        cancelled=cancelled,
    )


def _run(
    model_dir: Path,
    reuse: bool,
    window: int = 37,
    ratio: float = 0.5,
    condition: np.ndarray | None = None,
    pool: ThresholdPool = ThresholdPool.WINDOW,
    scoring: Scoring = Scoring.OWN_TOKEN,
):
    lm = load_model(str(model_dir), dtype="fp32")
    tokens = tokenize(lm.tokenizer, TEXT)
    keep, scores = _compress(
        lm, tokens.ids, ratio=ratio, window=window, reuse=reuse, pool=pool, condition=condition, scoring=scoring
    )
    return tokens, keep, scores


def test_one_layer_reuse_is_exact(tmp_path: Path) -> None:
    # A single layer's keys and values depend only on the token and its position, so moving
    # the kept tokens' cache entries by re-rotating the keys must equal re-forwarding them.
    model_dir = tiny_llama(tmp_path / "one", layers=1)
    _, keep_fast, scores_fast = _run(model_dir, reuse=True)
    _, keep_exact, scores_exact = _run(model_dir, reuse=False)
    np.testing.assert_allclose(scores_fast, scores_exact, rtol=1e-4, atol=1e-4)
    assert (keep_fast == keep_exact).all()


def test_deeper_reuse_is_close_and_keeps_about_the_ratio(tmp_path: Path) -> None:
    model_dir = tiny_llama(tmp_path / "three", layers=3)
    _, keep_fast, scores_fast = _run(model_dir, reuse=True)
    _, _keep_exact, scores_exact = _run(model_dir, reuse=False)
    finite = np.isfinite(scores_fast) & np.isfinite(scores_exact)
    assert np.corrcoef(scores_fast[finite], scores_exact[finite])[0, 1] > 0.9
    # Each window keeps the top half of its own scores (less one: the threshold is exclusive).
    assert 0.4 < keep_fast.mean() < 0.55


def test_reference_pool_drifts_below_the_ratio(tmp_path: Path) -> None:
    # The reference's threshold is a quantile over everything kept so far plus the window;
    # the kept tokens are the high scorers, so later windows keep less than the ratio.
    model_dir = tiny_llama(tmp_path / "pool", layers=1)
    _, keep_window, _ = _run(model_dir, reuse=True, pool=ThresholdPool.WINDOW)
    _, keep_pool, _ = _run(model_dir, reuse=True, pool=ThresholdPool.KEPT_AND_WINDOW)
    assert keep_pool.mean() < keep_window.mean()


def test_condition_prefix_and_window_sizes(tmp_path: Path) -> None:
    model_dir = tiny_llama(tmp_path / "cond", layers=1)
    lm = load_model(str(model_dir), dtype="fp32")
    question = np.asarray(lm.tokenizer("What did the committee decide?\n\n").input_ids, dtype=np.int64)
    tokens, keep_a, _ = _run(model_dir, reuse=True, window=50, condition=question)
    _, keep_b, _ = _run(model_dir, reuse=False, window=50, condition=question)
    assert (keep_a == keep_b).all()
    assert keep_a[0]  # the first token has no prediction to judge it by: it stays
    assert keep_a.sum() < len(tokens)
    _, keep_reference, _ = _run(model_dir, reuse=True, window=50, condition=question, scoring=Scoring.NEXT_TOKEN)
    assert keep_reference[-1]  # the reference keeps the text's last token


def test_cancel_between_windows(tmp_path: Path) -> None:
    model_dir = tiny_llama(tmp_path / "cancel", layers=1)
    lm = load_model(str(model_dir), dtype="fp32")
    tokens = tokenize(lm.tokenizer, TEXT)
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(CompressionCancelled):
        _compress(lm, tokens.ids, window=20, cancelled=cancelled)


def _next_token_losses(model: object, ids: list[int]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]  # type: ignore[operator]
        return torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="none").numpy()


@pytest.mark.parametrize("scoring", [Scoring.OWN_TOKEN, Scoring.NEXT_TOKEN])
def test_contrastive_rows_equal_two_separate_passes(tmp_path: Path, scoring: Scoring) -> None:
    # Keeping everything, the cache is the whole text, so each score must be the token's
    # loss alone minus its loss after the question, computed here by two plain forwards.
    # This pins the two-row layout: row 0's hidden question entries, its shifted positions;
    # and which token a loss scores: its own (default) or the one before it (the reference).
    model_dir = tiny_llama(tmp_path / "pair", layers=3)
    lm = load_model(str(model_dir), dtype="fp32")
    question = list(lm.tokenizer("What did the committee decide?\n\n").input_ids)
    tokens, keep, scores = _run(
        model_dir, reuse=True, window=37, ratio=1.0, condition=np.asarray(question, dtype=np.int64), scoring=scoring
    )
    assert keep.all()
    ids = [int(i) for i in tokens.ids]
    alone = _next_token_losses(lm.model, ids)
    after_question = _next_token_losses(lm.model, question + ids)[len(question) :]
    if scoring is Scoring.OWN_TOKEN:
        np.testing.assert_allclose(scores[1:], alone - after_question, rtol=1e-4, atol=1e-4)
        assert np.isinf(scores[0])
    else:
        np.testing.assert_allclose(scores[:-1], alone - after_question, rtol=1e-4, atol=1e-4)
        assert np.isinf(scores[-1])


@pytest.mark.parametrize("with_question", [False, True])
def test_cache_evicts_when_the_context_window_fills(tmp_path: Path, with_question: bool) -> None:
    # A 420-token text through a 96-position model: the cache must drop old entries (keeping
    # the first ones) instead of running past the position table. Until it first fills, the
    # scores equal an unlimited run's.
    model_dir = tiny_llama(tmp_path / "evict", layers=2)
    lm = load_model(str(model_dir), dtype="fp32")
    tokens = tokenize(lm.tokenizer, TEXT)
    question = np.asarray(lm.tokenizer("What did they decide?\n\n").input_ids, dtype=np.int64)
    condition = question if with_question else None
    keep_small, scores_small = _compress(lm, tokens.ids, window=30, condition=condition, max_positions=96)
    _, scores_big = _compress(lm, tokens.ids, window=30, condition=condition)
    assert len(tokens) > 4 * 96
    np.testing.assert_allclose(scores_small[:60], scores_big[:60], rtol=1e-4, atol=1e-4)
    assert np.isfinite(scores_small[1:]).all()
    assert 0.4 < keep_small.mean() < 0.6


def test_question_longer_than_the_context_window(tmp_path: Path) -> None:
    model_dir = tiny_llama(tmp_path / "long_q", layers=1)
    lm = load_model(str(model_dir), dtype="fp32")
    tokens = tokenize(lm.tokenizer, TEXT[:400])
    question = np.asarray(lm.tokenizer(TEXT[:1500] + " What happened?").input_ids, dtype=np.int64)
    assert question.shape[0] > 96
    keep, scores = _compress(lm, tokens.ids, window=30, condition=question, max_positions=96)
    assert np.isfinite(scores[1:]).all()
    assert 0.3 < keep.mean() < 0.7


def test_units_are_kept_or_dropped_whole(tmp_path: Path) -> None:
    model_dir = tiny_llama(tmp_path / "units", layers=1)
    lm = load_model(str(model_dir), dtype="fp32")
    tokens = tokenize(lm.tokenizer, TEXT)
    unit = np.arange(len(tokens)) // 3  # three tokens per unit, windows must not split one
    keep, scores = _compress(lm, tokens.ids, window=20, unit=unit)
    per_unit = keep.reshape(-1, 3) if len(tokens) % 3 == 0 else keep[: len(tokens) // 3 * 3].reshape(-1, 3)
    assert (per_unit.all(axis=1) | ~per_unit.any(axis=1)).all()
    assert 0.3 < keep.mean() < 0.7
    # a unit's tokens share its score
    assert all(len(set(scores[unit == u].tolist())) == 1 for u in range(10))


def test_dropped_tokens_are_not_context_and_forced_ones_are_not_scored(tmp_path: Path) -> None:
    # Keeping everything it may, the cache is the text without what the coarse step dropped:
    # each free token's score must be its loss after exactly the tokens before it that were
    # not dropped (two plain forwards, with and without the question). Forced tokens stay as
    # context but are not scored (+inf: kept whatever the threshold).
    model_dir = tiny_llama(tmp_path / "gaps", layers=2)
    lm = load_model(str(model_dir), dtype="fp32")
    question = list(lm.tokenizer("What did the committee decide?\n\n").input_ids)
    ids = tokenize(lm.tokenizer, TEXT[:900]).ids
    positions = np.arange(len(ids))
    excluded = ((positions >= 30) & (positions < 52)) | ((positions >= 70) & (positions < 75)) | (positions >= 140)
    forced = ((positions >= 10) & (positions < 20)) | ((positions >= 52) & (positions < 60))
    keep, scores = _compress(
        lm,
        ids,
        ratio=1.0,
        window=37,
        condition=np.asarray(question, dtype=np.int64),
        forced=forced,
        excluded=excluded,
    )
    assert (keep == ~excluded).all()
    assert np.isneginf(scores[excluded]).all()
    assert np.isposinf(scores[forced]).all()
    left = np.flatnonzero(~excluded)
    kept_ids = [int(i) for i in ids[left]]
    alone = _next_token_losses(lm.model, kept_ids)
    after_question = _next_token_losses(lm.model, question + kept_ids)[len(question) :]
    free = ~forced[left][1:]
    np.testing.assert_allclose(scores[left[1:]][free], (alone - after_question)[free], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("reuse", [True, False])
@pytest.mark.parametrize("gap_at", [None, 25])
def test_first_window_from_the_coarse_forward_equals_its_own_pass(
    tmp_path: Path, reuse: bool, gap_at: int | None
) -> None:
    # The coarse step's forward over the whole text serves the first window (its losses and
    # its cache): the decisions and scores must be those of a window fed on its own, with a
    # sentence dropped inside the first window (only the part after it is fed again) or not.
    model_dir = tiny_llama(tmp_path / "primed", layers=2)
    lm = load_model(str(model_dir), dtype="fp32")
    ids = tokenize(lm.tokenizer, TEXT[:900]).ids
    excluded = np.zeros(len(ids), dtype=bool)
    if gap_at is not None:
        excluded[gap_at : gap_at + 9] = True
    forced = np.zeros(len(ids), dtype=bool)
    forced[3:6] = True
    unit = np.arange(len(ids)) // 2
    text_losses = TextLosses(lm, ids)
    whole = text_losses.losses()
    assert np.isnan(whole[0]) and np.isfinite(whole[1:]).all()
    primed = text_losses.prefix()
    assert primed is not None and primed.length == len(ids)

    def run(prefix: ScoredPrefix | None) -> tuple[np.ndarray, np.ndarray]:
        return compress_tokens(
            lm.model,
            ids,
            np.full(len(ids), 0.5),
            forced,
            device=lm.device,
            max_positions=lm.max_positions,
            settings=IterativeSettings(window=60, reuse_kv=reuse),
            unit=unit,
            excluded=excluded,
            primed=prefix,
        )

    fed_calls: list[int] = []
    original = lm.model.forward

    def counting(*args: Any, **kwargs: Any) -> Any:
        fed_calls.append(int(kwargs["input_ids"].shape[1]))
        return original(*args, **kwargs)

    lm.model.forward = counting
    keep_primed, scores_primed = run(primed)
    primed_feeds = list(fed_calls)
    fed_calls.clear()
    keep_plain, scores_plain = run(None)
    lm.model.forward = original
    assert (keep_primed == keep_plain).all()
    np.testing.assert_allclose(scores_primed, scores_plain, rtol=1e-5, atol=1e-5)
    # The first window is not fed again: nothing of it at all, or only what follows the gap
    # (and the last token before it, whose logits now predict the token after the gap).
    assert sum(fed_calls) - sum(primed_feeds) == (61 if gap_at is None else gap_at - 1)  # 60 and the look-ahead
