"""The seam every compression method plugs into: a keep mask and scores over words.

A method turns a prompt into a :class:`WordDecision`: the words of the parts it
compresses, which it would keep, how much each is worth keeping, and which must stay.
Everything after that is shared by all methods and lives in :mod:`lingua_core.api`: one
budget rule (:mod:`lingua_core.budget`), one assembly (:mod:`lingua_core.assemble`), one
result. A new method is a new :class:`MethodSpec` in :mod:`lingua_core.methods.registry`,
not a new branch in the engine.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lingua_core.models import LoadedModel, ModelKind
from lingua_core.progress import Progress
from lingua_core.prompt import Prompt
from lingua_core.words import Words

__all__ = ["BudgetAsk", "Method", "MethodRun", "MethodSpec", "MethodSteps", "WordDecision"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


class Method(enum.Enum):
    AUTO = "auto"
    LLMLINGUA = "llmlingua"
    LONGLLMLINGUA = "longllmlingua"
    LLMLINGUA2 = "llmlingua2"


@dataclass(frozen=True)
class BudgetAsk:
    """What the caller asked for, in the target encoding's tokens."""

    rate: float | None
    target_tokens: int | None
    encoding: str


@dataclass(frozen=True)
class WordDecision:
    """A method's verdict over the parts it compresses (kept contexts joined by ``SEPARATOR``).

    ``scores``: higher is more worth keeping; -inf marks words that must go whatever the
    budget (a sentence the coarse step dropped). ``fixed``: protected words, never dropped.
    ``heat``: a keep probability in [0, 1] per word for an editor's heat view, when the
    method has one. ``kept_contexts`` index the prompt's contexts in output order (-1: the
    instruction, when it is compressed with them); ``context_starts`` are their offsets in
    ``words.text``.
    """

    words: Words
    keep: BoolArray
    scores: FloatArray
    fixed: BoolArray
    kept_contexts: tuple[int, ...]
    context_starts: tuple[int, ...]
    heat: FloatArray | None = None
    exact_budget: bool = True  # False: the method's own rule must stand (a reference-compatible mode)
    details: dict[str, Any] = field(default_factory=dict)


class MethodRun(Protocol):
    def __call__(
        self,
        lm: LoadedModel,
        prompt: Prompt,
        ask: BudgetAsk,
        options: Any,
        progress: Progress | None,
        cancelled: Callable[[], bool] | None,
    ) -> WordDecision: ...


class MethodSteps(Protocol):
    def __call__(
        self,
        lm: LoadedModel,
        prompt: Prompt,
        ask: BudgetAsk,
        options: Any,
        progress: Progress | None,
        cancelled: Callable[[], bool] | None,
    ) -> Generator[Any, Any, WordDecision]: ...


@dataclass(frozen=True)
class MethodSpec:
    """A method as the engine sees it: what model it needs, its options, how it runs."""

    method: Method
    model_kind: ModelKind
    options_type: type
    run: MethodRun
    needs_question: bool = False
    summary: str = ""
    # The same run as steps that share the model's forwards between prompts
    # (lingua_core.methods.steps); None: the method compresses one prompt at a time.
    steps: MethodSteps | None = None

    def coerce_options(self, options: Any) -> Any:
        """The method's own options; another method's options lend only their protection."""
        if isinstance(options, self.options_type):
            return options
        if options is not None and hasattr(options, "protect"):
            return self.options_type(protect=options.protect)
        return self.options_type()
