"""The public face of the engine: load a compressor once, compress many prompts.

``Compressor`` owns a loaded model and picks the method from the model's architecture;
its ``compress`` takes text (or a structured ``Prompt``) and returns a ``CompressionResult``
of numbers and spans. It is safe to share between threads: compressions run one at a time
on the model, token counting runs freely.
"""

from __future__ import annotations

import enum
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from lingua_core.errors import InputError, ModelError
from lingua_core.methods.llmlingua import ContextCompression, LLMLinguaOptions, compress_contexts
from lingua_core.methods.llmlingua2 import LLMLingua2Options, LLMLingua2Outcome, compress_llmlingua2
from lingua_core.models import EMBEDDED, LoadedModel, ModelKind, load_model
from lingua_core.progress import Progress
from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.result import CompressionResult, WordScore
from lingua_core.tokens import count_tokens

_WORD_RE = re.compile(r"\S+")
MAX_CHARS = 1_000_000  # beyond this a compression would take minutes; the caller should split the prompt
BUDGET_TOLERANCE = 0.05


class Method(enum.Enum):
    AUTO = "auto"
    LLMLINGUA = "llmlingua"
    LONGLLMLINGUA = "longllmlingua"
    LLMLINGUA2 = "llmlingua2"


def validate_budget(rate: float | None, target_tokens: int | None) -> None:
    if rate is not None and target_tokens is not None:
        raise InputError("Give either a rate or a target token count, not both.")
    if rate is not None and not (0.0 < rate <= 1.0):
        raise InputError(f"rate must be in (0, 1] (the share of tokens to keep, e.g. 0.33 for 3x); got {rate}.")
    if target_tokens is not None and target_tokens < 1:
        raise InputError(f"target tokens must be a positive whole number; got {target_tokens}.")


def validate_prompt(prompt: Prompt) -> None:
    if prompt.is_blank():
        raise InputError("Nothing to compress: the prompt is empty or only whitespace.")
    size = len(prompt.text)
    if size > MAX_CHARS:
        raise InputError(
            f"The prompt is too large to compress at once ({size:,} characters; the limit is {MAX_CHARS:,}). "
            "Compress it in parts."
        )


class Compressor:
    """A loaded compression model; build it with :meth:`load`."""

    def __init__(self, lm: LoadedModel) -> None:
        self.lm = lm
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model: str = EMBEDDED,
        *,
        device: str = "auto",
        dtype: str | Any = "auto",
        allow_download: bool | None = None,
    ) -> Compressor:
        return cls(load_model(model, device=device, dtype=dtype, allow_download=allow_download))

    @property
    def kind(self) -> ModelKind:
        return self.lm.kind

    def resolve_method(self, method: Method | str, question: str) -> Method:
        method = Method(method)
        if self.lm.kind is ModelKind.TOKEN_CLASSIFIER:
            if method not in (Method.AUTO, Method.LLMLINGUA2):
                raise ModelError(
                    f"{self.lm.name} is a token classifier: it can only run llmlingua2, not {method.value}."
                )
            return Method.LLMLINGUA2
        if method is Method.LLMLINGUA2:
            raise ModelError(f"{self.lm.name} is a causal LM: llmlingua2 needs a token-classification model.")
        if method is Method.AUTO:
            return Method.LONGLLMLINGUA if question.strip() else Method.LLMLINGUA
        if method is Method.LONGLLMLINGUA and not question.strip():
            raise InputError("longllmlingua is question-aware: give a question (--question).")
        return method

    def count_tokens(self, text: str, encoding: str = "o200k_base") -> int:
        return count_tokens(text, encoding)

    def compress(
        self,
        prompt: str | Prompt,
        *,
        rate: float | None = None,
        target_tokens: int | None = None,
        method: Method | str = Method.AUTO,
        instruction: str = "",
        question: str = "",
        encoding: str = "o200k_base",
        options: LLMLinguaOptions | LLMLingua2Options | None = None,
        exact_budget: bool = True,
        word_scores: bool = False,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> CompressionResult:
        """Compress to ``rate`` (share of tokens kept) or ``target_tokens``, counted in ``encoding``.

        With ``exact_budget`` the result lands within a few percent of the asked size in the
        target tokenizer; without it, the raw algorithm's choice stands, as the reference
        implementation would return it. ``word_scores`` adds a keep score per word of the
        original (an editor's heat view): the classifier's probability for LLMLingua-2, the
        share of the word's characters kept for the causal methods.
        """
        if isinstance(prompt, str):
            prompt = Prompt.from_text(prompt, instruction=instruction, question=question)
        elif instruction or question:
            prompt = replace(
                prompt, instruction=instruction or prompt.instruction, question=question or prompt.question
            )
        if rate is None and target_tokens is None:
            rate = 0.5
        validate_budget(rate, target_tokens)
        validate_prompt(prompt)
        chosen = self.resolve_method(method, prompt.question)
        if chosen is Method.LLMLINGUA2:
            if not isinstance(options, LLMLingua2Options):
                protect = options.protect if options is not None else LLMLingua2Options().protect
                options = LLMLingua2Options(protect=protect)
            if word_scores and not options.return_word_scores:
                options = replace(options, return_word_scores=True)
            return self._compress_llmlingua2(prompt, rate, target_tokens, encoding, options, progress, cancelled)
        if not isinstance(options, LLMLinguaOptions):
            options = LLMLinguaOptions(protect=options.protect) if options is not None else LLMLinguaOptions()
        if chosen is Method.LONGLLMLINGUA and not options.question_aware:
            options = replace(options, question_aware=True)

        original = prompt.text
        origin_tokens = count_tokens(original, encoding)
        target = target_tokens if target_tokens is not None else max(1, round(origin_tokens * (rate or 1.0)))
        lm_target = None
        if target_tokens is not None:
            # The controller counts in the small LM's tokens; scale the target into them.
            lm_total = max(1, len(self.lm.tokenizer(original).input_ids))
            lm_target = target_tokens * lm_total / max(1, origin_tokens)
        with self._lock:
            started = time.perf_counter()
            outcome = compress_contexts(
                self.lm, prompt, rate if target_tokens is None else None, lm_target, options, progress, cancelled
            )
            keep = outcome.keep
            if exact_budget:
                keep = fit_budget(outcome, lambda k: self._assemble(prompt, outcome, k), target, encoding)
            seconds = time.perf_counter() - started
        compressed = self._assemble(prompt, outcome, keep)
        spans = _kept_spans(prompt, outcome, keep)
        return CompressionResult(
            compressed_text=compressed,
            original_text=original,
            origin_tokens=origin_tokens,
            compressed_tokens=count_tokens(compressed, encoding),
            encoding=encoding,
            method=chosen.value,
            model=self.lm.name,
            seconds=seconds,
            kept_spans=tuple(spans),
            target_tokens=target,
            word_scores=span_word_scores(original, spans) if word_scores else None,
            details={"kept_contexts": list(outcome.kept_contexts), "lm_tokens": len(outcome.tokens)},
        )

    def _compress_llmlingua2(
        self,
        prompt: Prompt,
        rate: float | None,
        target_tokens: int | None,
        encoding: str,
        options: LLMLingua2Options,
        progress: Progress | None,
        cancelled: Callable[[], bool] | None,
    ) -> CompressionResult:
        """Token classification: the instruction and question stay whole, the contexts share the budget."""
        original = prompt.text
        origin_tokens = count_tokens(original, encoding)
        target = target_tokens if target_tokens is not None else max(1, round(origin_tokens * (rate or 1.0)))
        compress_instruction = prompt.compress_instruction and bool(prompt.instruction)
        contexts = [prompt.instruction, *prompt.contexts] if compress_instruction else list(prompt.contexts)
        fixed = [p for p in (None if compress_instruction else prompt.instruction, prompt.question) if p]
        fixed_tokens = sum(count_tokens(p + SEPARATOR, encoding) for p in fixed)
        context_target = max(1, target - fixed_tokens)
        with self._lock:
            started = time.perf_counter()
            outcome = compress_llmlingua2(
                self.lm,
                [c for c in contexts],
                target_tokens=context_target,
                encoding=encoding,
                options=options,
                progress=progress,
                cancelled=cancelled,
            )
            seconds = time.perf_counter() - started
        compressed = self._assemble_parts(prompt, compress_instruction, [t for t in outcome.texts if t.strip()])
        spans, scores = _llmlingua2_spans(prompt, compress_instruction, outcome)
        return CompressionResult(
            compressed_text=compressed,
            original_text=original,
            origin_tokens=origin_tokens,
            compressed_tokens=count_tokens(compressed, encoding),
            encoding=encoding,
            method=Method.LLMLINGUA2.value,
            model=self.lm.name,
            seconds=seconds,
            kept_spans=tuple(spans),
            target_tokens=target,
            word_scores=tuple(scores) if outcome.word_scores is not None else None,
            details={"kept_contexts": list(outcome.kept_contexts)},
        )

    @staticmethod
    def _assemble_parts(prompt: Prompt, compress_instruction: bool, bodies: list[str]) -> str:
        """Instruction (unless compressed with the contexts), compressed bodies, question."""
        parts = [prompt.instruction] if prompt.instruction and not compress_instruction else []
        parts.extend(bodies)
        if prompt.question:
            parts.append(prompt.question)
        return SEPARATOR.join(parts)

    @staticmethod
    def _assemble(prompt: Prompt, outcome: ContextCompression, keep: np.ndarray) -> str:
        body = outcome.tokens.join(keep)
        return Compressor._assemble_parts(prompt, prompt.compress_instruction, [body] if body.strip() else [])


def fit_budget(
    outcome: ContextCompression,
    assemble: Callable[[np.ndarray], str],
    target: int,
    encoding: str,
    tolerance: float = BUDGET_TOLERANCE,
) -> np.ndarray:
    """Move the cut along the scores until the target tokenizer's count is near ``target``.

    The LM's own tokens and the target's differ (a compressed text tokenizes less
    efficiently than prose), so the algorithm's own count drifts from the asked size. Adding
    back the best dropped tokens, or dropping the weakest kept ones, closes the gap; forced
    tokens are never touched.
    """
    keep = outcome.keep.copy()
    current = count_tokens(assemble(keep), encoding)
    if abs(current - target) <= tolerance * target:
        return keep
    free = ~outcome.forced & np.isfinite(outcome.scores)
    if current > target:
        candidates = np.flatnonzero(keep & free)
        candidates = candidates[np.argsort(outcome.scores[candidates], kind="stable")]
        change_to = False
    else:
        candidates = np.flatnonzero(~keep & free)
        candidates = candidates[np.argsort(-outcome.scores[candidates], kind="stable")]
        change_to = True
    best, best_gap = keep, abs(current - target)
    low, high = 0, int(candidates.shape[0])
    while low <= high:
        middle = (low + high) // 2
        trial = keep.copy()
        trial[candidates[:middle]] = change_to
        count = count_tokens(assemble(trial), encoding)
        gap = abs(count - target)
        if gap < best_gap:
            best, best_gap = trial, gap
        if (count > target) == (not change_to):
            # still on the starting side of the target: move further
            low = middle + 1
        else:
            high = middle - 1
    return best


def span_word_scores(text: str, spans: list[tuple[int, int]]) -> tuple[WordScore, ...]:
    """Per-word keep scores from kept character spans: the share of each word that survives."""
    words = [m.span() for m in _WORD_RE.finditer(text)]
    if not words:
        return ()
    covered = np.zeros(len(text) + 1, dtype=np.int64)
    for start, end in spans:
        covered[start] += 1
        covered[end] -= 1
    kept_chars = np.concatenate([[0], np.cumsum(np.cumsum(covered)[:-1] > 0)])
    scores = []
    for start, end in words:
        share = float(kept_chars[end] - kept_chars[start]) / (end - start)
        scores.append(WordScore(start, end, share, share > 0.0))
    return tuple(scores)


def _part_offsets(prompt: Prompt) -> list[int]:
    """Where each context starts in ``prompt.text``."""
    position = len(prompt.instruction) + len(SEPARATOR) if prompt.instruction else 0
    offsets = []
    for context in prompt.contexts:
        offsets.append(position)
        if context:
            position += len(context) + len(SEPARATOR)
    return offsets


def _llmlingua2_spans(
    prompt: Prompt, compress_instruction: bool, outcome: LLMLingua2Outcome
) -> tuple[list[tuple[int, int]], list[WordScore]]:
    """Per-context spans and word scores moved to ``prompt.text`` coordinates."""
    offsets = ([0] if compress_instruction else []) + _part_offsets(prompt)
    spans: list[tuple[int, int]] = []
    if prompt.instruction and not compress_instruction:
        spans.append((0, len(prompt.instruction)))
    scores: list[WordScore] = []
    for index, offset in enumerate(offsets):
        spans.extend((s + offset, e + offset) for s, e in outcome.kept_spans[index])
        if outcome.word_scores is not None:
            scores.extend(replace(w, start=w.start + offset, end=w.end + offset) for w in outcome.word_scores[index])
    if prompt.question:
        start = len(prompt.text) - len(prompt.question)
        spans.append((start, len(prompt.text)))
    return sorted(spans), scores


def _kept_spans(prompt: Prompt, outcome: ContextCompression, keep: np.ndarray) -> list[tuple[int, int]]:
    """Kept character ranges of ``prompt.text``, when the contexts map back one to one."""
    part_offsets: dict[str, int] = {}
    position = 0
    spans: list[tuple[int, int]] = []
    for label, part in (
        ("instruction", prompt.instruction),
        *((f"c{i}", c) for i, c in enumerate(prompt.contexts)),
        ("question", prompt.question),
    ):
        if part:
            part_offsets[label] = position
            position += len(part) + len(SEPARATOR)
    if prompt.instruction and not prompt.compress_instruction:
        spans.append((0, len(prompt.instruction)))
    token_spans = outcome.tokens.kept_spans(keep)
    for k, context_index in enumerate(outcome.kept_contexts):
        label = "instruction" if context_index < 0 else f"c{context_index}"
        if label not in part_offsets:
            continue
        begin = outcome.context_starts[k] if k < len(outcome.context_starts) else len(outcome.tokens.text)
        finish = (
            outcome.context_starts[k + 1] - len(SEPARATOR)
            if k + 1 < len(outcome.context_starts)
            else len(outcome.tokens.text)
        )
        shift = part_offsets[label] - begin
        for start, end in token_spans:
            start, end = max(start, begin), min(end, finish)
            if start < end:
                spans.append((start + shift, end + shift))
    if prompt.question:
        spans.append((part_offsets["question"], part_offsets["question"] + len(prompt.question)))
    spans.sort()
    return spans
