"""The server object: what every handler works on (settings, open documents, token counters,
the model worker, recent compressions) and what the client can do.

Handlers take it as an argument and import it from here, never from ``server.server``, which
registers them: the server module sits above its handlers, not beside them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, BinaryIO

import cattrs
from cattrs.v import format_exception
from lsprotocol import converters, types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from . import framing, messages
from .compressions import CompressionCache
from .counting import Counters, Layout
from .diagnostics import DiagnosticsScheduler, diagnose
from .documents import Document, DocumentStore, is_prompt_file
from .protected import ProtectedCounts
from .settings import Settings, parse_settings, problems_message, with_target
from .warmup import WarmUp
from .worker import ModelState, ModelStatus, ModelWorker

log = logging.getLogger(__name__)

VERSION = "0.1.0"
MODEL_STATUS = "lingua/modelStatus"
INLINE_COUNT_CHARS = 32_768  # smaller texts are counted on the loop: a thread hop costs more

_work_done_token: ContextVar[types.ProgressToken | None] = ContextVar("work_done_token", default=None)


@dataclass(frozen=True)
class Undecodable:
    """A message whose params (or result) do not have the types its method requires."""

    data: dict[str, Any]
    problems: list[str]


def _describe(error: BaseException, type_: type | None) -> str:
    """cattrs' words for a wrong value, with lsprotocol's ranges; never the value (it may be prompt text)."""
    if isinstance(error, ValueError) and " should be in range [" in str(error):
        return str(error).partition(", but was")[0]  # "Position.line should be in range [0:2147483647]"
    return format_exception(error, type_)


def _problems(error: BaseException | None) -> list[str]:
    if isinstance(error, cattrs.BaseValidationError):
        return cattrs.transform_error(error, format_exception=_describe)
    return [type(error).__name__ if error is not None else "undecodable"]


class LinguaProtocol(LanguageServerProtocol):
    """pygls' protocol minus its document store (``DocumentStore`` keeps ours), plus the
    command's work-done token, which pygls does not hand to command handlers.

    Params that do not fit their method (a position at line -1, say) are answered with
    InvalidParams (-32602). pygls raises from its decoding instead, before any handler runs:
    its reader turns that into an error popup and the request is never answered."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        method = data.get("method")
        wanted = isinstance(method, str) and "jsonrpc" in data and "error" not in data
        message_type = self.get_message_type(method) if wanted else None
        if message_type is None:  # a response, or a method without params types
            try:
                return super().structure_message(data)
            except JsonRpcException as exc:
                return Undecodable(data, _problems(exc.__cause__))
        try:
            return self._converter.structure(data, message_type)
        except Exception as exc:
            return Undecodable(data, _problems(exc))

    def handle_message(self, message: Any) -> None:
        if not isinstance(message, Undecodable):
            super().handle_message(message)
            return
        data, problems = message.data, "; ".join(message.problems)
        method = data.get("method")
        if method is None:  # the client's answer to one of our requests: fail its future
            log.warning("a response to request %r cannot be decoded (%s)", data.get("id"), problems)
            error = JsonRpcInvalidParams(f"Undecodable response: {problems}")
            self._handle_response(data.get("id"), None, error.to_response_error())  # type: ignore[arg-type]
        elif "id" in data:
            log.warning("%s request %r has invalid params (%s): answered with an error", method, data["id"], problems)
            error = JsonRpcInvalidParams(f"Invalid params for {method}: {problems}")
            self._send_response(data["id"], error=error.to_response_error())
        else:
            log.warning("%s notification has invalid params (%s): ignored", method, problems)

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Generator[Any, Any, Any]:
        _work_done_token.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))


class LinguaServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("lingua", VERSION, protocol_cls=LinguaProtocol, converter_factory=messages.converter)
        self.settings: Settings = with_target(Settings())
        self.documents = DocumentStore()
        self.counters = Counters()
        self.compressions = CompressionCache()
        self.protected = ProtectedCounts()
        self.worker = ModelWorker(self._status_from_worker)
        self.warm_up = WarmUp(self)
        self.diagnostics = DiagnosticsScheduler(self.publish_diagnostics)
        self.converter = converters.get_converter()
        self.roots: list[str] = []
        # Commands the client runs itself (``initializationOptions.clientCommands``), such as
        # the extension's "compression applied" feedback after a code action's edit.
        self.client_commands: frozenset[str] = frozenset()
        self._count_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lingua-count")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failures_shown: set[str] = set()
        self._pending_problems: list[tuple[str, list[str]]] = []  # (message, settings at fault)
        self._last_settings_warning: str | None = None
        self.session_started = False

    # --- client capabilities -----------------------------------------------------------

    def _capability(self, *path: str) -> Any:
        node: Any = self.client_capabilities
        for name in path:
            node = getattr(node, name, None)
            if node is None:
                return None
        return node

    @property
    def supports_work_done_progress(self) -> bool:
        return bool(self._capability("window", "work_done_progress"))

    @property
    def supports_document_changes(self) -> bool:
        return bool(self._capability("workspace", "workspace_edit", "document_changes"))

    @property
    def supports_apply_edit(self) -> bool:
        return bool(self._capability("workspace", "apply_edit"))

    @property
    def supports_configuration(self) -> bool:
        return bool(self._capability("workspace", "configuration"))

    @property
    def supports_resolving_edits(self) -> bool:
        properties = self._capability("text_document", "code_action", "resolve_support", "properties")
        return bool(properties) and "edit" in properties

    @property
    def markdown_hover(self) -> bool:
        formats = self._capability("text_document", "hover", "content_format")
        return formats is None or types.MarkupKind.Markdown in formats

    # --- settings ----------------------------------------------------------------------

    def apply_settings(self, raw: Any) -> None:
        """Take new settings; one warning for all invalid values; refresh what depends on them."""
        settings, problems = parse_settings(raw)
        # Once per change: the same settings read again (a push and a pull, a second change
        # elsewhere) must not repeat the pop-up.
        message = problems_message(problems) if problems else None
        if message is not None and message != self._last_settings_warning:
            self.warn(message, list(dict.fromkeys(p.setting for p in problems)))
        self._last_settings_warning = message
        old, self.settings = self.settings, settings
        self.worker.configure(settings.model, settings.device)
        self.counters.get(settings.encoding)  # made now, loaded by the first count
        if old != settings or old.encoding != settings.encoding:
            for document in self.documents:
                self.diagnostics.schedule(document.uri, 0)
        if self.session_started and any(self.is_prompt_file(d.uri) for d in self.documents):
            self.warm_up.schedule()  # turned on, or another model: load it as an open would

    def warn(self, message: str, settings: list[str]) -> None:
        """Show now if the session is up, else once ``initialized`` arrives; ``settings`` are
        the keys at fault, which the message's "Open Settings" button opens."""
        if not self.session_started:
            self._pending_problems.append((message, settings))
        else:
            messages.show(self, types.MessageType.Warning, message, settings)

    async def pull_settings(self) -> Any | None:
        if not self.supports_configuration:
            return None
        items = [types.ConfigurationItem(section="lingua")]
        try:
            values = await self.workspace_configuration_async(types.ConfigurationParams(items=items))
        except Exception as exc:
            log.warning("workspace/configuration failed: %s", exc)
            return None
        return values[0] if values else None

    # --- counting ----------------------------------------------------------------------

    def is_prompt_file(self, uri: str) -> bool:
        return is_prompt_file(uri, self.settings.prompt_files, self.roots)

    async def count(self, text: str) -> int:
        counter = self.counters.get(self.settings.encoding)
        if len(text) <= INLINE_COUNT_CHARS and counter.loaded:
            return counter.count(text)
        return await asyncio.get_running_loop().run_in_executor(self._count_executor, counter.count, text)

    async def layout(self, document: Document) -> Layout:
        """Chunk counts of one document version, computed once and shared by concurrent asks."""
        memo = document.memo("layouts")
        encoding = self.settings.encoding
        pending = memo.get(encoding)
        if pending is None:
            counter = self.counters.get(encoding)
            if len(document.text) <= INLINE_COUNT_CHARS and counter.loaded:
                pending = asyncio.get_running_loop().create_future()
                pending.set_result(counter.layout(document.text))
            else:
                work = functools.partial(counter.layout, document.text)
                pending = asyncio.get_running_loop().run_in_executor(self._count_executor, work)
            memo[encoding] = pending
        try:
            return await asyncio.shield(pending)  # type: ignore[arg-type]
        except Exception:
            memo.pop(encoding, None)
            raise

    async def count_span(self, document: Document, start: int, end: int) -> int:
        """Tokens of ``document.text[start:end]`` as if counted alone (what ``lingua count`` says)."""
        layout = await self.layout(document)
        if start == 0 and end == len(document.text):
            return layout.total
        return self.counters.get(self.settings.encoding).count_span(document.text, layout, start, end)

    async def publish_diagnostics(self, uri: str) -> None:
        document = self.documents.get(uri)
        if document is None:
            return
        found: list[types.Diagnostic] = []
        if self.is_prompt_file(uri):
            version = document.version
            tokens = await self.count_span(document, 0, len(document.text))
            if document.version != version or self.documents.get(uri) is not document:
                return  # a newer change has scheduled its own run
            found = diagnose(document, tokens, self.settings)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=document.version)
        )

    # --- model status ------------------------------------------------------------------

    def _status_from_worker(self, status: ModelStatus) -> None:
        """Called on the worker thread: hop to the event loop before touching the transport."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._announce, status)

    def _announce(self, status: ModelStatus) -> None:
        self.protocol.notify(MODEL_STATUS, status.to_json())
        if status.state is ModelState.FAILED and status.message and status.model not in self._failures_shown:
            self._failures_shown.add(status.model)
            messages.show(self, types.MessageType.Error, status.message, [status.setting or "lingua.model"])
        if status.state is ModelState.READY:
            self._failures_shown.discard(status.model)

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """On stdio with a strict reader (``framing``): a broken frame ends the process, so that
        the client starts a new server instead of talking to one that reads nothing any more."""
        framing.start_io(self, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)

    def shutdown_workers(self) -> None:
        self.warm_up.cancel()
        self.worker.shutdown()
        self._count_executor.shutdown(wait=False, cancel_futures=True)
        self.protected.shutdown()

    def shutdown(self) -> None:
        """Also when the client vanished without ``shutdown`` (stdin closed)."""
        self.shutdown_workers()
        super().shutdown()  # type: ignore[no-untyped-call]


def work_done_token() -> types.ProgressToken | None:
    """The work-done token of the command being handled (pygls does not pass it on)."""
    return _work_done_token.get()
