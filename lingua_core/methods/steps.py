"""A method written as steps: it stops where it needs the model, so many prompts can share the forwards.

A method can be written as a generator that yields an :class:`Ask` (a text's token losses,
the keep probabilities of some encoder windows) and receives the answer. Alone, each ask is
answered on the spot (``decide_alone``). In a batch, every prompt is run up to its next ask,
the asks of one kind are answered together in a few shared, length-bucketed forwards, and
the prompts go on (``decide_together``). One code path either way: the generator is the
method, the drivers only decide how its asks are answered.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

from lingua_core.methods.base import WordDecision

Cancelled = Callable[[], bool] | None


class Ask(Protocol):
    """A request for model work that prompts can share."""

    def alone(self, lm: Any, cancelled: Cancelled) -> Any:
        """The answer computed for this ask only."""
        ...

    @classmethod
    def together(cls, lm: Any, asks: Sequence[Any], cancelled: Cancelled) -> list[Any]:
        """The answers to several asks of this kind, in their order, from shared forwards."""
        ...


DecisionSteps = Generator[Ask, Any, WordDecision]


def run_alone(steps: Generator[Ask, Any, Any], lm: Any, cancelled: Cancelled = None) -> Any:
    """Run steps to their end, answering each ask on its own; returns what the steps return."""
    try:
        ask = next(steps)
        while True:
            ask = steps.send(ask.alone(lm, cancelled))
    except StopIteration as done:
        return done.value


def decide_alone(steps: DecisionSteps, lm: Any, cancelled: Cancelled = None) -> WordDecision:
    return _decision(run_alone(steps, lm, cancelled))


def decide_together(
    lm: Any, runs: Sequence[DecisionSteps], cancelled: Cancelled = None
) -> list[WordDecision | Exception]:
    """Each run's decision, or the exception it raised; asks of one kind answered together.

    One prompt's failure (bad input found late, a model error on its text) is its own
    result and does not stop the others.
    """
    results: list[WordDecision | Exception | None] = [None] * len(runs)
    waiting: dict[int, Ask] = {}

    def advance(index: int, answer: Any, first: bool) -> None:
        try:
            waiting[index] = next(runs[index]) if first else runs[index].send(answer)
        except StopIteration as done:
            results[index] = _decision(done.value)
        except Exception as exc:
            results[index] = exc

    for index in range(len(runs)):
        advance(index, None, first=True)
    while waiting:
        kinds: dict[type[Ask], list[int]] = {}
        for index, ask in waiting.items():
            kinds.setdefault(type(ask), []).append(index)
        asked, waiting = waiting, {}
        for kind, indices in kinds.items():
            answers = kind.together(lm, [asked[i] for i in indices], cancelled)
            for index, answer in zip(indices, answers, strict=True):
                advance(index, answer, first=False)
    return [r if r is not None else RuntimeError("a method run gave no decision") for r in results]


def _decision(value: Any) -> WordDecision:
    if not isinstance(value, WordDecision):
        raise RuntimeError(f"a method's steps ended without a decision ({type(value).__name__})")
    return value
