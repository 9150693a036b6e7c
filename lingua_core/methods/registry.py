"""Which methods exist, what model each needs, and how it runs: the engine's only list of them.

``Compressor.compress`` looks a method up here; nothing else in the engine branches on a
method's name. Adding one means a scorer module and a line below (docs/adding.md).
"""

from __future__ import annotations

from lingua_core.methods import llmlingua, llmlingua2, llmlingua2_options
from lingua_core.methods.base import Method, MethodSpec
from lingua_core.models import ModelKind

__all__ = ["METHODS", "default_method"]

METHODS: dict[Method, MethodSpec] = {
    Method.LLMLINGUA: MethodSpec(
        Method.LLMLINGUA,
        ModelKind.CAUSAL_LM,
        llmlingua.LLMLinguaOptions,
        llmlingua.run,
        summary="a small causal LM's surprisal, coarse sentence step, iterative word-level pass",
        steps=llmlingua.run_steps,
    ),
    Method.LONGLLMLINGUA: MethodSpec(
        Method.LONGLLMLINGUA,
        ModelKind.CAUSAL_LM,
        llmlingua.LLMLinguaOptions,
        llmlingua.run_question_aware,
        needs_question=True,
        summary="LLMLingua with question-aware ranking and contrastive scores",
        steps=llmlingua.run_question_aware_steps,
    ),
    Method.LLMLINGUA2: MethodSpec(
        Method.LLMLINGUA2,
        ModelKind.TOKEN_CLASSIFIER,
        llmlingua2_options.LLMLingua2Options,
        llmlingua2.run,
        summary="a token classifier's keep probability per word",
        steps=llmlingua2.run_steps,
    ),
}


def default_method(kind: ModelKind, has_question: bool) -> Method:
    """What ``auto`` means for a model of ``kind``: question-aware when there is a question."""
    candidates = [spec for spec in METHODS.values() if spec.model_kind is kind]
    if not candidates:
        raise LookupError(f"no compression method runs on a {kind.value} model")
    for spec in candidates:
        if spec.needs_question == has_question:
            return spec.method
    return candidates[0].method
