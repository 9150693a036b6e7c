"""Running one compression for an editor: progress, cancellation, errors, edits.

Code actions and commands share this so that both show the same progress, honour the same
three ways to cancel (``$/cancelRequest``, the progress bar's Cancel button, a client that
went away) and fail with the same LSP errors.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcRequestCancelled

from .documents import Document
from .worker import CompressJob, JobCancelled, ModelLoadError

if TYPE_CHECKING:
    from lingua_core import CompressionResult

    from .state import LinguaServer

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.2  # seconds between progress reports: enough for a smooth bar


class RequestFailed(JsonRpcException):
    CODE = -32803


def stale_error(document: Document, expected: int | None) -> JsonRpcContentModified:
    return JsonRpcContentModified(
        f"{_name(document.uri)} changed (version {expected} -> {document.version}) since the compression was "
        "requested; nothing was applied. Run it again on the current text."
    )


def _name(uri: str) -> str:
    return uri.rsplit("/", 1)[-1] or uri


class WorkDone:
    """``$/progress`` for one job, fed from the worker thread; a no-op when the client has none."""

    def __init__(self, server: LinguaServer, token: types.ProgressToken | None, cancel: threading.Event) -> None:
        self._server = server
        self._token = token
        self._cancel = cancel
        self._loop = asyncio.get_running_loop()
        self._last = (0.0, "", -1)

    @classmethod
    async def start(
        cls, server: LinguaServer, token: types.ProgressToken | None, title: str, cancel: threading.Event
    ) -> WorkDone:
        if token is None and server.supports_work_done_progress:
            token = f"lingua-{uuid.uuid4()}"
            try:
                await server.work_done_progress.create_async(token)
            except Exception as exc:  # the client may refuse; the job runs without a bar
                log.info("no progress bar: %s", exc)
                token = None
        reporter = cls(server, token, cancel)
        if token is not None:
            server.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=title, cancellable=True, message="Starting", percentage=0)
            )
            registered = server.work_done_progress.tokens.get(token)
            if registered is not None:
                registered.add_done_callback(lambda f: cancel.set() if f.cancelled() else None)
        return reporter

    def report_threadsafe(self, message: str, percentage: int | None) -> None:
        """Called by the worker thread; throttled so a fast model does not flood the client."""
        now = time.monotonic()
        last_time, last_message, last_percentage = self._last
        if message == last_message and (now - last_time < PROGRESS_INTERVAL or percentage == last_percentage):
            return
        self._last = (now, message, -1 if percentage is None else percentage)
        self._loop.call_soon_threadsafe(self._report, message, percentage)

    def _report(self, message: str, percentage: int | None) -> None:
        if self._token is not None and not self._cancel.is_set():
            self._server.work_done_progress.report(
                self._token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str) -> None:
        if self._token is not None:
            self._server.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=message))
            self._server.work_done_progress.tokens.pop(self._token, None)


def _link_request_cancellation(server: LinguaServer, cancel: threading.Event) -> None:
    """Set ``cancel`` when the client cancels the request this coroutine is answering.

    A ``codeAction/resolve`` handler is itself the cancelled task, but ``executeCommand`` runs
    the command in a separate task while pygls answers (and cancels) an outer future; pygls
    keeps that future by request id, which is the only way to learn of the cancellation.
    """
    msg_id = server.protocol.msg_id
    outer: Future[Any] | asyncio.Future[Any] | None = (
        server.protocol._request_futures.get(msg_id) if msg_id is not None else None
    )
    if outer is not None:
        outer.add_done_callback(lambda f: cancel.set() if f.cancelled() else None)


def split_whitespace(text: str) -> tuple[str, str, str]:
    """Leading whitespace, core, trailing whitespace: a selection keeps its line breaks around it."""
    core = text.strip()
    if not core:
        return text, "", ""
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return lead, core, trail


@dataclass(frozen=True)
class Compressed:
    """A compression of one range of one version of a document."""

    document: Document
    version: int | None
    range: types.Range  # of ``version``, computed before any later edit could shift it
    start: int
    end: int
    original_text: str  # the range's text when the job started
    new_text: str  # what replaces the range (the selection's surrounding whitespace kept)
    lead: int  # length of the leading whitespace the compressed core was placed after
    result: CompressionResult
    load_seconds: float = 0.0  # waited for the model to load before compressing

    @property
    def inserted_range(self) -> types.Range:
        """Where ``new_text`` lies once the edit is in (the editor reveals it)."""
        return self.document.range_after_replace(self.range, self.new_text)

    def numbers(self) -> dict[str, Any]:
        """What every answer about a compression reports, in the protocol's names."""
        result = self.result
        return {
            "originTokens": result.origin_tokens,
            "compressedTokens": result.compressed_tokens,
            "ratio": result.ratio,
            "seconds": result.seconds,
            # Reported apart from ``seconds`` so that "in 5.2 s" is not all a user who waited
            # 24 s for a cold model is told.
            "loadSeconds": round(self.load_seconds, 3),
            "method": result.method,
        }


async def compress_range(
    server: LinguaServer,
    document: Document,
    start: int,
    end: int,
    *,
    rate: float | None,
    target_tokens: int | None,
    title: str,
    work_done_token: types.ProgressToken | None = None,
    word_scores: bool = False,
) -> Compressed:
    """Compress ``document.text[start:end]`` on the worker, reporting progress; LSP errors on failure."""
    version = document.version
    range_ = document.range_at(start, end)
    original = document.text[start:end]
    lead, core, trail = split_whitespace(original)
    if not core:
        raise RequestFailed("Nothing to compress: the selection is empty or only whitespace.")
    settings = server.settings
    job = CompressJob(
        text=core,
        rate=rate,
        target_tokens=target_tokens,
        method=settings.method,
        rank_method=settings.rank_method,
        encoding=settings.encoding,
        preserve=settings.preserve,
        keep_code_blocks=settings.keep_code_blocks,
        unprotect=settings.unprotect,
        word_scores=word_scores,
    )
    cancel = threading.Event()
    _link_request_cancellation(server, cancel)
    progress = await WorkDone.start(server, work_done_token, title, cancel)
    outcome = "Cancelled"
    try:
        future = server.worker.compress(job, progress.report_threadsafe, cancel.is_set)
        try:
            finished = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancel.set()
            raise
        result = finished.result
        outcome = f"{result.origin_tokens} -> {result.compressed_tokens} tokens ({result.ratio:.1f}x)"
        if result.details.get("budget_note"):
            # Protected text alone exceeded the target: say so where the user sees the outcome.
            outcome += f"; {result.details['protected_tokens']} tokens are protected (placeholders, facts, structure)"
    except JobCancelled:
        raise JsonRpcRequestCancelled("Compression cancelled; nothing was changed.") from None
    except ModelLoadError as exc:
        outcome = "Failed"
        raise RequestFailed(str(exc)) from None
    except Exception as exc:
        outcome = "Failed"
        from lingua_core import LinguaError

        # The client names the request ("compression failed: ..."); the message says why.
        if isinstance(exc, LinguaError):
            raise RequestFailed(str(exc)) from None
        log.exception("compression failed")
        raise RequestFailed(f"an unexpected {type(exc).__name__}; see the Lingua server log.") from None
    finally:
        progress.end(outcome)
    server.compressions.remember(result)
    new_text = lead + result.compressed_text.strip() + trail
    return Compressed(
        document, version, range_, start, end, original, new_text, len(lead), result, finished.load_seconds
    )


def workspace_edit(server: LinguaServer, compressed: Compressed) -> types.WorkspaceEdit:
    """A versioned ``TextDocumentEdit`` (plain ``changes`` for clients without documentChanges)."""
    document = compressed.document
    edit = types.TextEdit(range=compressed.range, new_text=compressed.new_text)
    if server.supports_document_changes:
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=document.uri, version=compressed.version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=identifier, edits=[edit])])
    return types.WorkspaceEdit(changes={document.uri: [edit]})
