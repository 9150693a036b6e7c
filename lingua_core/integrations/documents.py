"""Retrieved documents through one question-aware compression: what both adapters run.

The documents a retriever returns for a query are compressed together, as one LongLLMLingua
prompt whose question is the query, not one by one: only then can the coarse step rank them
against the question, keep the best one whole, squeeze the others harder and drop the ones
that do not help, which is most of what compression is worth in RAG. The result's kept spans
(character ranges of the prompt) say which text came from which document, so each
compressed text goes back to its own document, and its metadata, without markers in the text
that compression could mangle.

``rate`` and ``target_tokens`` count the documents' tokens, not the question's: the pipeline
hands over documents and gets documents back, and ``rate=0.4`` should give back 40% of them.

A document that cannot be compressed (empty, whitespace only, or one the engine refuses)
comes back unchanged: one odd chunk must not break a retrieval pipeline. When the joint
compression fails as a whole (the documents together are more than the engine takes at once),
each document is compressed on its own. A method the model cannot run is the pipeline's
mistake, not a document's, and raises.

Nothing here imports LangChain or LlamaIndex; the adapters do, each in its own module.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lingua_core.batch.job import CompressSettings
from lingua_core.errors import LinguaError
from lingua_core.models import EMBEDDED
from lingua_core.prompt import SEPARATOR, Prompt
from lingua_core.tokens import count_tokens

__all__ = [
    "COMPRESSED_TOKENS_KEY",
    "METADATA_KEYS",
    "ORIGIN_TOKENS_KEY",
    "CompressedDocuments",
    "DocumentOutcome",
    "DocumentSettings",
    "LazyCompressor",
    "compress_documents",
]

LOG = logging.getLogger("lingua_core.integrations")

ORIGIN_TOKENS_KEY = "lingua_origin_tokens"
COMPRESSED_TOKENS_KEY = "lingua_compressed_tokens"
METADATA_KEYS = (ORIGIN_TOKENS_KEY, COMPRESSED_TOKENS_KEY)
DEFAULT_RATE = 0.5
EMPTY = "empty document"


@dataclass(frozen=True)
class DocumentSettings:
    """How the adapters compress; the protection switches use the CLI's names
    (``preserve``: ``--preserve REGEX``, ``no_protect``: ``--no-protect KIND``)."""

    rate: float | None = None
    target_tokens: int | None = None
    method: str = "auto"
    encoding: str = "o200k_base"
    options: Any = None  # LLMLinguaOptions or LLMLingua2Options; None: the method's defaults
    preserve: tuple[str, ...] = ()
    no_protect: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A bad setting fails where the pipeline is built, not at its first query.
        from lingua_core.api import validate_budget

        validate_budget(self.rate, self.target_tokens)
        self.compress_settings()

    def compress_settings(self) -> CompressSettings:
        """The engine's settings, with the protection switches folded into the method options."""
        options = self.options
        if self.preserve or self.no_protect:
            from lingua_core.methods.llmlingua import LLMLinguaOptions
            from lingua_core.protect import ProtectOptions, find_protected_spans

            # Another method's options lend their protection (MethodSpec.coerce_options), so
            # LLMLinguaOptions carry it to an LLMLingua-2 model too.
            options = options if options is not None else LLMLinguaOptions()
            protect: ProtectOptions = options.protect
            protect = replace(protect, patterns=(*protect.patterns, *self.preserve)).without(self.no_protect)
            find_protected_spans("", protect)  # a bad regex raises here
            options = replace(options, protect=protect)
        return CompressSettings(self.rate, self.target_tokens, self.method, self.encoding, options)


class LazyCompressor:
    """A ready ``Compressor``, or the model spec to load one from on first use, once.

    A pipeline object is built at import time of the user's app, often where no query ever
    runs (a test, a CLI's ``--help``); the model load (seconds, hundreds of MB) waits for
    the first documents.
    """

    def __init__(self, compressor: Any = None, model: str = EMBEDDED, device: str = "auto") -> None:
        self._compressor = compressor
        self.model = model
        self.device = device
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._compressor is None:
                from lingua_core.api import Compressor

                self._compressor = Compressor.load(self.model, device=self.device)
            return self._compressor


@dataclass(frozen=True)
class DocumentOutcome:
    """One input document as it comes out: ``index`` is its position in the input."""

    index: int
    text: str
    origin_tokens: int
    compressed_tokens: int
    error: str = ""  # why it came back unchanged; empty when it was compressed

    @property
    def compressed(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class CompressedDocuments:
    """The documents to hand on, in order, and the numbers a pipeline reports.

    ``documents``: the kept ones in the compression's order (the retriever's, unless the
    options reorder by relevance), the unchanged ones among them; the dropped ones are left
    out. Token counts cover the documents that went through the model.
    """

    documents: tuple[DocumentOutcome, ...]
    dropped: tuple[int, ...] = ()
    origin_tokens: int = 0
    compressed_tokens: int = 0
    together: bool = True  # False: compressed one by one after the joint compression failed
    model: str = ""
    method: str = ""
    seconds: float = 0.0

    @property
    def unchanged(self) -> tuple[int, ...]:
        return tuple(d.index for d in self.documents if not d.compressed)

    @property
    def saved_tokens(self) -> int:
        return self.origin_tokens - self.compressed_tokens

    def summary(self) -> str:
        total = len(self.documents) + len(self.dropped)
        line = (
            f"Lingua: {total} documents, {self.origin_tokens} -> {self.compressed_tokens} tokens "
            f"({self.saved_tokens} saved)"
        )
        if self.dropped:
            line += f"; {len(self.dropped)} dropped as least relevant to the query"
        if self.unchanged:
            line += f"; {len(self.unchanged)} passed through unchanged"
        return line

    def report(self) -> dict[str, Any]:
        """The numbers as plain data, for a framework's event or trace."""
        return {
            "documents": len(self.documents) + len(self.dropped),
            "kept": len(self.documents),
            "dropped": len(self.dropped),
            "unchanged": len(self.unchanged),
            "origin_tokens": self.origin_tokens,
            "compressed_tokens": self.compressed_tokens,
            "saved_tokens": self.saved_tokens,
            "together": self.together,
            "model": self.model,
            "method": self.method,
            "seconds": self.seconds,
        }


def compress_documents(
    model: LazyCompressor, settings: DocumentSettings, texts: Sequence[Any], question: str
) -> CompressedDocuments:
    """Compress ``texts`` (the retrieved documents) for ``question``; logs the summary."""
    if not texts:
        return CompressedDocuments(())
    started = time.perf_counter()
    compressor = model.get()
    run = settings.compress_settings()
    compressor.resolve_method(run.method, Prompt(contexts=("-",), question=question))
    refused = {i: reason for i, t in enumerate(texts) if (reason := _refusal(t))}
    for index, reason in refused.items():
        if reason != EMPTY:
            LOG.warning("Lingua passes document %d through unchanged: %s", index, reason)
    usable = [i for i in range(len(texts)) if i not in refused]
    origin = {i: count_tokens(texts[i], run.encoding) for i in usable}
    try:
        kept, method = _together(compressor, run, [texts[i] for i in usable], question)
        outcomes = {usable[k]: _outcome(usable[k], text, origin[usable[k]], run.encoding) for k, text in kept}
        order = [usable[k] for k, _ in kept]
        together = True
    except Exception as exc:
        LOG.warning("Lingua could not compress the documents together (%s); compressing each alone", _reason(exc))
        outcomes, method = _one_by_one(compressor, run, texts, usable, question, origin)
        order = list(usable)
        together = False
    for index, reason in refused.items():
        outcomes[index] = DocumentOutcome(index, texts[index], 0, 0, error=reason)
    shown = [i for i in _with_unchanged(order, outcomes) if outcomes[i].error or outcomes[i].text]
    through_model = [i for i in usable if i not in outcomes or not outcomes[i].error]
    result = CompressedDocuments(
        tuple(outcomes[i] for i in shown),
        dropped=tuple(i for i in usable if i not in shown),
        origin_tokens=sum(origin[i] for i in through_model),
        compressed_tokens=sum(outcomes[i].compressed_tokens for i in through_model if i in shown),
        together=together,
        model=str(compressor.lm.name),
        method=method,
        seconds=time.perf_counter() - started,
    )
    LOG.info(result.summary())
    return result


def _refusal(text: Any) -> str:
    """Why the engine would refuse this document on its own (empty: it would not).

    Checked before the joint compression, so that one refused document does not cost the
    others their compression together.
    """
    from lingua_core.api import validate_prompt

    if not isinstance(text, str) or not text.strip():
        return EMPTY
    try:
        validate_prompt(Prompt.from_text(text))
    except LinguaError as exc:
        return str(exc)
    return ""


def _outcome(index: int, text: str, origin_tokens: int, encoding: str) -> DocumentOutcome:
    return DocumentOutcome(index, text, origin_tokens, count_tokens(text, encoding) if text else 0)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, LinguaError) else f"{type(exc).__name__}: {exc}"


def _together(
    compressor: Any, run: CompressSettings, texts: list[str], question: str
) -> tuple[list[tuple[int, str]], str]:
    """(position, compressed text) of each kept document in output order, and the method run."""
    if not texts:
        return [], ""
    prompt = Prompt(contexts=tuple(texts), question=question)
    result = _run(compressor, run, prompt)
    pieces = split_by_context(result.original_text, result.kept_spans, texts)
    order = [k for k in result.details.get("kept_contexts", range(len(texts))) if 0 <= k < len(texts)]
    return [(k, pieces[k]) for k in order], str(result.method)


def _one_by_one(
    compressor: Any,
    run: CompressSettings,
    texts: Sequence[Any],
    usable: list[int],
    question: str,
    origin: dict[int, int],
) -> tuple[dict[int, DocumentOutcome], str]:
    outcomes: dict[int, DocumentOutcome] = {}
    method = ""
    for index in usable:
        try:
            kept, ran = _together(compressor, run, [texts[index]], question)
        except Exception as exc:
            reason = _reason(exc)
            LOG.warning("Lingua passes document %d through unchanged: %s", index, reason)
            outcomes[index] = DocumentOutcome(index, texts[index], 0, 0, error=reason)
            continue
        method = method or ran
        outcomes[index] = _outcome(index, kept[0][1] if kept else "", origin[index], run.encoding)
    return outcomes, method


def _run(compressor: Any, run: CompressSettings, prompt: Prompt) -> Any:
    """Compress with the budget of the documents turned into one of the whole prompt.

    The engine's budget counts the question too (LongLLMLingua keeps it whole); a short
    retrieval with a long query would otherwise come back far below the rate asked.
    """
    documents = count_tokens(SEPARATOR.join(prompt.contexts), run.encoding)
    question = max(0, count_tokens(prompt.text, run.encoding) - documents)
    rate = run.rate if run.rate is not None else DEFAULT_RATE
    budget = run.target_tokens if run.target_tokens is not None else max(1, round(documents * rate))
    return replace(run, rate=None, target_tokens=budget + question).run(compressor, prompt)


def split_by_context(original: str, spans: Sequence[tuple[int, int]], contexts: Sequence[str]) -> list[str]:
    """Each context's compressed text, from the kept character ranges of ``original``.

    ``original`` is the contexts joined by ``SEPARATOR`` (then the question); a context
    nothing of which survived gets an empty string.
    """
    pieces: list[str] = []
    start = 0
    for context in contexts:
        end = start + len(context)
        kept = [original[max(a, start) : min(b, end)] for a, b in spans if a < end and b > start]
        pieces.append("".join(kept).strip())
        start = end + len(SEPARATOR)
    return pieces


def _with_unchanged(order: list[int], outcomes: dict[int, DocumentOutcome]) -> list[int]:
    """The unchanged documents in their input places when the output keeps the input's
    order, else after the compressed ones (a relevance order has no place for them)."""
    unchanged = [i for i in sorted(outcomes) if outcomes[i].error and i not in order]
    if order == sorted(order):
        return sorted(order + unchanged)
    return order + unchanged
