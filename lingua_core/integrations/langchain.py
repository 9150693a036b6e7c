"""LangChain: Lingua as the document compressor of a ``ContextualCompressionRetriever``.

    from langchain_classic.retrievers import ContextualCompressionRetriever
    from lingua_core.integrations.langchain import LinguaCompressor

    retriever = ContextualCompressionRetriever(
        base_compressor=LinguaCompressor(rate=0.4), base_retriever=vector_store.as_retriever()
    )

Where ``LLMLinguaCompressor`` joins the documents with ``<#ref0#>`` tags and finds them again
in the output (a tag the compression cut loses its document's metadata), the documents here
map back by character spans (``documents``), so each keeps its own metadata whatever was cut.
The saving is reported three ways: per document in its metadata, as one INFO line on the
``lingua_core.integrations`` logger, and as a ``lingua_compression`` custom event to the
run's callbacks (LangSmith traces and ``astream_events`` show it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from langchain_core.callbacks import CallbackManager, Callbacks
    from langchain_core.documents import Document
    from langchain_core.documents.compressor import BaseDocumentCompressor
    from pydantic import ConfigDict, Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the extra
    raise ImportError(
        "lingua_core.integrations.langchain needs LangChain: pip install lingua-prompt[langchain]"
    ) from exc

from lingua_core.integrations.documents import (
    COMPRESSED_TOKENS_KEY,
    ORIGIN_TOKENS_KEY,
    CompressedDocuments,
    DocumentOutcome,
    DocumentSettings,
    LazyCompressor,
    compress_documents,
)
from lingua_core.models import EMBEDDED

__all__ = ["EVENT", "LinguaCompressor"]

EVENT = "lingua_compression"


class LinguaCompressor(BaseDocumentCompressor):
    """Compress the retrieved documents together, question-aware, the query as the question.

    Give ``compressor`` (a loaded ``lingua_core.Compressor``, shared with other code) or a
    ``model`` spec to load on the first query. ``rate`` / ``target_tokens`` count the
    documents' tokens (default: rate 0.5). Documents the compression drops as least relevant
    are left out; an empty one, or one the engine refuses, comes back unchanged.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    compressor: Any = Field(default=None, exclude=True)
    model: str = EMBEDDED
    device: str = "auto"
    rate: float | None = None
    target_tokens: int | None = None
    method: str = "auto"
    encoding: str = "o200k_base"
    options: Any = Field(default=None, exclude=True)
    preserve: tuple[str, ...] = ()
    no_protect: tuple[str, ...] = ()

    _model: LazyCompressor = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._settings()  # a bad rate or regex fails here, where the pipeline is built
        self._model = LazyCompressor(self.compressor, self.model, self.device)

    def _settings(self) -> DocumentSettings:
        return DocumentSettings(
            rate=self.rate,
            target_tokens=self.target_tokens,
            method=self.method,
            encoding=self.encoding,
            options=self.options,
            preserve=tuple(self.preserve),
            no_protect=tuple(self.no_protect),
        )

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        if not documents:
            return []
        outcome = compress_documents(self._model, self._settings(), [d.page_content for d in documents], query)
        _dispatch(outcome, callbacks)
        return [_document(documents[o.index], o) for o in outcome.documents]


def _document(original: Document, outcome: DocumentOutcome) -> Document:
    """A new document with the compressed text and the original's id and metadata, plus counts."""
    if not outcome.compressed:
        return original
    metadata = {
        **original.metadata,
        ORIGIN_TOKENS_KEY: outcome.origin_tokens,
        COMPRESSED_TOKENS_KEY: outcome.compressed_tokens,
    }
    return original.model_copy(update={"page_content": outcome.text, "metadata": metadata})


def _dispatch(outcome: CompressedDocuments, callbacks: Callbacks | None) -> None:
    """The totals as a custom event of the run that asked (none outside a run)."""
    if callbacks is None:
        return
    manager = CallbackManager.configure(inheritable_callbacks=callbacks)
    if manager.parent_run_id is not None:
        manager.on_custom_event(EVENT, outcome.report(), run_id=manager.parent_run_id)
