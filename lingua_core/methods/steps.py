"""A method written as steps: it stops once to ask for its text's losses, so many prompts can share the forward.

A method that reads a whole text's token losses (LLMLingua's coarse step, then its first
iterative window) can be written as a generator that yields the token ids and receives their
``TextLosses``. Alone, the losses are computed for it on demand; in a batch, every prompt is
first run up to that point and the texts are scored in a few shared forwards
(``score_together``), then each prompt finishes on its own. One code path either way: the
generator is the method, the drivers only decide where its losses come from.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lingua_core.methods.base import WordDecision
from lingua_core.methods.text_losses import TextLosses, score_together

IntArray = npt.NDArray[np.int64]
DecisionSteps = Generator[IntArray, TextLosses, WordDecision]


def decide_alone(steps: DecisionSteps, lm: Any, cancelled: Callable[[], bool] | None = None) -> WordDecision:
    """Run one method to its decision, its losses computed when (and if) it reads them."""
    try:
        ids = next(steps)
    except StopIteration as done:
        return _decision(done)
    return _finish(steps, TextLosses(lm, ids, cancelled))


def decide_together(
    lm: Any, runs: Sequence[DecisionSteps], cancelled: Callable[[], bool] | None = None
) -> list[WordDecision | Exception]:
    """Each run's decision, or the exception it raised; the texts' losses in shared forwards.

    One prompt's failure (bad input found late, a model error on its text) is its own
    result and does not stop the others.
    """
    results: list[WordDecision | Exception | None] = [None] * len(runs)
    asking: list[tuple[int, IntArray]] = []
    for index, steps in enumerate(runs):
        try:
            asking.append((index, next(steps)))
        except StopIteration as done:
            results[index] = _decision(done)
        except Exception as exc:
            results[index] = exc
    scored = score_together(lm, [ids for _, ids in asking], cancelled)
    for (index, _), text_losses in zip(asking, scored, strict=True):
        try:
            results[index] = _finish(runs[index], text_losses)
        except Exception as exc:
            results[index] = exc
    return [r if r is not None else RuntimeError("a method run gave no decision") for r in results]


def _finish(steps: DecisionSteps, text_losses: TextLosses) -> WordDecision:
    try:
        steps.send(text_losses)
    except StopIteration as done:
        return _decision(done)
    steps.close()
    raise RuntimeError("a method asked for its text's losses twice")


def _decision(done: StopIteration) -> WordDecision:
    decision = done.value
    if not isinstance(decision, WordDecision):
        raise RuntimeError(f"a method's steps ended without a decision ({type(decision).__name__})")
    return decision
