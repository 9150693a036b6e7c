"""The public face of the engine: load a compressor once, compress many prompts.

``Compressor`` owns a loaded model and picks the method from the model's architecture;
its ``compress`` takes text (or a structured ``Prompt``) and returns a ``CompressionResult``
of numbers and spans. It is safe to share between threads: compressions run one at a time
on the model, token counting runs freely.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lingua_core.assemble import kept_spans, kept_text, repair
from lingua_core.budget import BUDGET_TOLERANCE, fit_to_budget
from lingua_core.errors import InputError, LinguaError, ModelError
from lingua_core.line_endings import CrlfPrompt, to_crlf
from lingua_core.methods.base import BudgetAsk, Method, MethodSpec, WordDecision
from lingua_core.methods.llmlingua import LLMLinguaOptions
from lingua_core.methods.llmlingua2_options import LLMLingua2Options
from lingua_core.methods.registry import METHODS, default_method
from lingua_core.methods.steps import DecisionSteps, decide_together
from lingua_core.models import EMBEDDED, LoadedModel, ModelKind, load_model
from lingua_core.names import name_groups, unite_names
from lingua_core.progress import CompressionCancelled, Progress
from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.result import CompressionResult, WordScore
from lingua_core.tokens import count_tokens

_WORD_RE = re.compile(r"\S+")
MAX_CHARS = 1_000_000  # beyond this a compression would take minutes; the caller should split the prompt


_NEEDS = {ModelKind.CAUSAL_LM: "causal LM", ModelKind.TOKEN_CLASSIFIER: "token-classification model"}
_IS = {ModelKind.CAUSAL_LM: "causal LM", ModelKind.TOKEN_CLASSIFIER: "token classifier"}


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
        backend: str | None = None,
    ) -> Compressor:
        return cls(load_model(model, device=device, dtype=dtype, allow_download=allow_download, backend=backend))

    @property
    def kind(self) -> ModelKind:
        return self.lm.kind

    def resolve_method(self, method: Method | str, prompt: Prompt | str = "") -> tuple[Method, Prompt | None]:
        """The method that will run, and the prompt it needs when that differs from the one given.

        ``auto`` follows the model (a causal LM or a token classifier) and the presence of a
        question. A question-aware method asked for without a question takes the text's
        last paragraph when it asks one (an editor's selection has no question field), else
        falls back to its plain form.
        """
        method = Method(method)
        if isinstance(prompt, str):
            prompt = Prompt.from_text(prompt) if prompt else Prompt(contexts=())
        has_question = bool(prompt.question.strip())
        if method is Method.AUTO:
            return default_method(self.lm.kind, has_question), None
        spec = METHODS[method]
        if spec.model_kind is not self.lm.kind:
            runs = ", ".join(m.value for m, s in METHODS.items() if s.model_kind is self.lm.kind)
            raise ModelError(
                f"{method.value} needs a {_NEEDS[spec.model_kind]}; {self.lm.name} is a "
                f"{_IS[self.lm.kind]}, which runs {runs}."
            )
        if spec.needs_question and not has_question:
            found = Prompt.with_trailing_question(prompt.text) if len(prompt.parts()) == 1 else prompt
            if found.question.strip():
                return method, replace(found, instruction=prompt.instruction)
            return default_method(self.lm.kind, False), None
        return method, None

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
        ceiling: bool = False,
        word_scores: bool = False,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> CompressionResult:
        """Compress to ``rate`` (share of tokens kept) or ``target_tokens``, counted in ``encoding``.

        Every method runs the same path: the method's :class:`WordDecision` over words, then
        one budget rule in the target tokenizer (``exact_budget``: within
        ``BUDGET_TOLERANCE`` of the asked size; without it the method's own choice stands, as
        the reference implementation would return it; ``ceiling``: never above the asked
        size, for an editor's "fit N tokens"), then one assembly. ``word_scores`` adds a keep
        score per word of the original (an editor's heat view).
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
        return self._compress(
            prompt,
            rate=rate,
            target_tokens=target_tokens,
            method=method,
            encoding=encoding,
            options=options,
            exact_budget=exact_budget,
            ceiling=ceiling,
            word_scores=word_scores,
            progress=progress,
            cancelled=cancelled,
        )

    def compress_many(
        self,
        prompts: Sequence[str | Prompt],
        *,
        rate: float | None = None,
        target_tokens: int | None = None,
        method: Method | str = Method.AUTO,
        encoding: str = "o200k_base",
        options: LLMLinguaOptions | LLMLingua2Options | None = None,
        exact_budget: bool = True,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[CompressionResult | LinguaError]:
        """``compress`` for each prompt, each with its own result or error, the model's work shared.

        Prompts whose method runs as steps (LLMLingua's) are scored in shared forwards over
        several texts, which on a CPU is most of the gain of a batch; the rest run one after
        the other. A result equals what ``compress`` gives for the prompt up to the rounding of
        a forward over padded rows. ``seconds`` of each share the batch's time by tokens.
        """
        if rate is None and target_tokens is None:
            rate = 0.5
        validate_budget(rate, target_tokens)
        jobs: list[_Job | LinguaError] = []
        for prompt in prompts:
            try:
                jobs.append(self._job(prompt, rate, target_tokens, method, encoding, options))
            except LinguaError as exc:
                jobs.append(exc)
        results: list[CompressionResult | LinguaError | None] = [
            job if isinstance(job, LinguaError) else None for job in jobs
        ]
        with self._lock:
            started = time.perf_counter()
            shared = [(i, job) for i, job in enumerate(jobs) if isinstance(job, _Job) and job.spec.steps is not None]
            decided = decide_together(self.lm, [job.steps(self.lm, cancelled) for _, job in shared], cancelled)
            decisions = {index: decision for (index, _), decision in zip(shared, decided, strict=True)}
            for index, job in enumerate(jobs):
                if not isinstance(job, _Job):
                    continue
                try:
                    decision = decisions.get(index)
                    if decision is None:
                        decision = job.spec.run(self.lm, job.prompt, job.ask, job.options, None, cancelled)
                    if isinstance(decision, Exception):
                        raise decision
                    results[index] = self._finish(job, decision, exact_budget, False, False, started)
                except CompressionCancelled:
                    raise
                except LinguaError as exc:
                    results[index] = exc
                except Exception as exc:
                    results[index] = ModelError(f"compression failed: {type(exc).__name__}: {exc}")
            seconds = time.perf_counter() - started
        done = [r if r is not None else ModelError("compression gave no result") for r in results]
        return _share_seconds(done, seconds)

    def _job(
        self,
        prompt: str | Prompt,
        rate: float | None,
        target_tokens: int | None,
        method: Method | str,
        encoding: str,
        options: LLMLinguaOptions | LLMLingua2Options | None,
    ) -> _Job:
        """One prompt's compression up to the method's run: method, options and budget."""
        if isinstance(prompt, str):
            prompt = Prompt.from_text(prompt)
        validate_prompt(prompt)
        crlf = CrlfPrompt.of(prompt)
        shown: Callable[[str], str] = (lambda text: text) if crlf is None else to_crlf
        if crlf is not None:
            prompt = crlf.lf
        chosen, reshaped = self.resolve_method(method, prompt)
        if reshaped is not None:
            prompt = reshaped
        spec = METHODS[chosen]
        origin_tokens = count_tokens(shown(prompt.text), encoding)
        target = target_tokens if target_tokens is not None else max(1, round(origin_tokens * (rate or 1.0)))
        ask = BudgetAsk(rate=rate if target_tokens is None else None, target_tokens=target_tokens, encoding=encoding)
        return _Job(
            prompt,
            chosen,
            spec,
            spec.coerce_options(options),
            ask,
            target,
            origin_tokens,
            reshaped is not None,
            shown,
            crlf,
        )

    def _compress(
        self,
        prompt: Prompt,
        *,
        rate: float | None,
        target_tokens: int | None,
        method: Method | str,
        encoding: str,
        options: LLMLinguaOptions | LLMLingua2Options | None,
        exact_budget: bool,
        ceiling: bool,
        word_scores: bool,
        progress: Progress | None,
        cancelled: Callable[[], bool] | None,
    ) -> CompressionResult:
        job = self._job(prompt, rate, target_tokens, method, encoding, options)
        with self._lock:
            started = time.perf_counter()
            decision = job.spec.run(self.lm, job.prompt, job.ask, job.options, progress, cancelled)
            return self._finish(job, decision, exact_budget, ceiling, word_scores, started)

    def _finish(
        self, job: _Job, decision: WordDecision, exact_budget: bool, ceiling: bool, word_scores: bool, started: float
    ) -> CompressionResult:
        """From a method's decision to the result: names united, one budget rule, one assembly.

        Every count, the budget's included, is made on what the user gets (``job.shown``:
        CRLF for a CRLF prompt); the result is then given back in the prompt's line endings.
        """
        prompt, shown, encoding, target = job.prompt, job.shown, job.ask.encoding, job.target
        # A method that sets its own budget (LLMLingua-2's classifier) keeps its decisions.
        names = name_groups(decision.words) if decision.exact_budget else None
        if names is not None:
            united_keep, united_scores = unite_names(names, decision.keep, decision.scores, decision.fixed)
            decision = replace(decision, keep=united_keep, scores=united_scores)

        def assemble(keep: np.ndarray) -> str:
            return _assemble(prompt, decision, repair(decision.words, keep, decision.fixed, decision.scores))

        keep = decision.keep | decision.fixed
        if exact_budget and decision.exact_budget:
            keep = fit_to_budget(
                keep,
                decision.scores,
                decision.fixed,
                lambda k: count_tokens(shown(assemble(k)), encoding),
                target,
                ceiling=ceiling,
                groups=names,
            )
        keep = repair(decision.words, keep, decision.fixed, decision.scores)
        seconds = time.perf_counter() - started
        compressed = _assemble(prompt, decision, keep)
        spans = _kept_spans(prompt, decision, keep)
        compressed_tokens = count_tokens(shown(compressed), encoding)
        protected_tokens = count_tokens(shown(kept_text(decision.words, decision.fixed)), encoding)
        details: dict[str, Any] = {
            "kept_contexts": list(decision.kept_contexts),
            "protected_tokens": protected_tokens,
            **decision.details,
        }
        if job.reshaped:
            details["question"] = prompt.question
        minimum = count_tokens(shown(_assemble(prompt, decision, decision.fixed)), encoding)
        note = budget_note(compressed_tokens, target, protected_tokens, minimum)
        if note:
            details["budget_note"] = note
        result = CompressionResult(
            compressed_text=compressed,
            original_text=prompt.text,
            origin_tokens=job.origin_tokens,
            compressed_tokens=compressed_tokens,
            encoding=encoding,
            method=job.chosen.value,
            model=self.lm.name,
            seconds=seconds,
            kept_spans=tuple(spans),
            target_tokens=target,
            word_scores=_word_scores(prompt, decision, keep) if word_scores else None,
            details=details,
        )
        return result if job.crlf is None else job.crlf.restore(result)


@dataclass(frozen=True)
class _Job:
    """One prompt's compression between its set-up and its result (LF text; ``shown`` makes
    what the user gets of it)."""

    prompt: Prompt
    chosen: Method
    spec: MethodSpec
    options: Any
    ask: BudgetAsk
    target: int
    origin_tokens: int
    reshaped: bool
    shown: Callable[[str], str]
    crlf: CrlfPrompt | None

    def steps(self, lm: LoadedModel, cancelled: Callable[[], bool] | None) -> DecisionSteps:
        assert self.spec.steps is not None
        return self.spec.steps(lm, self.prompt, self.ask, self.options, None, cancelled)


def _share_seconds(
    results: list[CompressionResult | LinguaError], seconds: float
) -> list[CompressionResult | LinguaError]:
    """Each result's share of a batch's time, by its tokens: the forwards were shared."""
    tokens = sum(r.origin_tokens for r in results if isinstance(r, CompressionResult))
    return [
        replace(r, seconds=seconds * r.origin_tokens / max(1, tokens)) if isinstance(r, CompressionResult) else r
        for r in results
    ]


def _assemble(prompt: Prompt, decision: WordDecision, keep: np.ndarray) -> str:
    """Instruction (unless compressed with the contexts), the compressed body, question."""
    body = kept_text(decision.words, keep)
    compress_instruction = -1 in decision.kept_contexts
    parts = [prompt.instruction] if prompt.instruction and not compress_instruction else []
    if body.strip():
        parts.append(body)
    if prompt.question:
        parts.append(prompt.question)
    return SEPARATOR.join(parts)


def budget_note(reached: int, target: int, protected: int, minimum: int) -> str:
    """Why a result missed its target, in words a user can act on; empty when it did not."""
    if reached <= target * (1 + BUDGET_TOLERANCE):
        return ""
    if minimum > target * (1 + BUDGET_TOLERANCE):
        return (
            f"The target of {target} tokens cannot be met: the text that is always kept (instruction, question "
            f"and protected spans such as placeholders, numbers, code and structure: {protected} tokens) already "
            f"takes {minimum}. Ask for fewer protections (ProtectOptions, --preserve) or a larger target."
        )
    return f"Reached {reached} tokens for a target of {target}: the remaining words could not be cut finer."


def _part_offsets(prompt: Prompt) -> dict[int, int]:
    """Where each part starts in ``prompt.text``: -1 the instruction, i >= 0 context i, -2 the question."""
    offsets: dict[int, int] = {}
    position = 0
    for label, part in ((-1, prompt.instruction), *enumerate(prompt.contexts), (-2, prompt.question)):
        if part:
            offsets[label] = position
            position += len(part) + len(SEPARATOR)
    return offsets


def _to_original(prompt: Prompt, decision: WordDecision) -> list[tuple[int, int, int]]:
    """(start, end, shift) per kept part: its range in ``decision.words.text`` and the shift to ``prompt.text``."""
    offsets = _part_offsets(prompt)
    text_length = len(decision.words.text)
    out = []
    for k, label in enumerate(decision.kept_contexts):
        if label not in offsets:
            continue
        begin = decision.context_starts[k]
        finish = (
            decision.context_starts[k + 1] - len(SEPARATOR) if k + 1 < len(decision.context_starts) else text_length
        )
        out.append((begin, finish, offsets[label] - begin))
    return out


def _kept_spans(prompt: Prompt, decision: WordDecision, keep: np.ndarray) -> list[tuple[int, int]]:
    """Kept character ranges of ``prompt.text``: the whole parts kept verbatim and the kept words."""
    offsets = _part_offsets(prompt)
    spans: list[tuple[int, int]] = []
    if prompt.instruction and -1 not in decision.kept_contexts:
        spans.append((0, len(prompt.instruction)))
    body = kept_spans(decision.words, keep)
    for begin, finish, shift in _to_original(prompt, decision):
        for start, end in body:
            start, end = max(start, begin), min(end, finish)
            if start < end:
                spans.append((start + shift, end + shift))
    if prompt.question:
        spans.append((offsets[-2], offsets[-2] + len(prompt.question)))
    spans.sort()
    return spans


def _word_scores(prompt: Prompt, decision: WordDecision, keep: np.ndarray) -> tuple[WordScore, ...]:
    """The heat view over ``prompt.text``: each compressible word with its keep score and verdict."""
    words = decision.words
    heat = decision.heat if decision.heat is not None else keep.astype(np.float64)
    scores: list[WordScore] = []
    for begin, finish, shift in _to_original(prompt, decision):
        first = int(np.searchsorted(words.starts, begin, side="left"))
        last = int(np.searchsorted(words.starts, finish, side="left"))
        for index in range(first, last):
            scores.append(
                WordScore(
                    int(words.starts[index]) + shift,
                    int(words.ends[index]) + shift,
                    float(1.0 if decision.fixed[index] else heat[index]),
                    bool(keep[index]),
                )
            )
    scores.sort(key=lambda w: w.start)
    return tuple(scores)
