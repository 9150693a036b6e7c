"""The Lingua language server: LSP in, ``lingua_core`` calls out, every handler a few lines.

State lives on ``LinguaServer`` (``server/state.py``: settings, open documents, token
counters, the model worker); the work lives in the small modules next to this one, and this
one registers it. Only tokenizer code runs on the event
loop, and only in small doses: big counts and everything that touches the model run in
threads, so a hover is answered while a compression is busy.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams

from . import actions, commands, hover
from .compressions import CachedRatio
from .documents import Document, Section, outline, paragraph_at, section_at
from .jobs import RequestFailed, compress_range, stale_error, workspace_edit
from .state import MODEL_STATUS, LinguaServer, work_done_token

log = logging.getLogger(__name__)

T = TypeVar("T")


def guarded(handler: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Log any failure and answer it as an LSP error, never letting it reach pygls' own logging
    (which would print the request, prompt text included)."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> T:
        try:
            return await handler(*args)
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as exc:
            from lingua_core import LinguaError

            if isinstance(exc, LinguaError):
                raise RequestFailed(str(exc)) from None
            log.exception("%s failed", handler.__name__)
            raise JsonRpcInternalError(f"Lingua: {handler.__name__} failed ({type(exc).__name__}: {exc})") from None

    return wrapper


def create_server() -> LinguaServer:
    server = LinguaServer()

    @server.feature(types.INITIALIZE)
    @guarded
    async def initialize(ls: LinguaServer, params: types.InitializeParams) -> None:
        ls._loop = asyncio.get_running_loop()
        ls._loop.call_later(10, gc.enable)  # in case ``initialized`` never comes
        encoding = ls.workspace.position_encoding
        ls.documents.position_encoding = str(getattr(encoding, "value", encoding) or "utf-16")
        ls.roots = [folder.uri for folder in params.workspace_folders or []] or (
            [params.root_uri] if params.root_uri else []
        )
        options = params.initialization_options
        ls.apply_settings(options.get("settings") if isinstance(options, dict) else None)
        declared = options.get("clientCommands") if isinstance(options, dict) else None
        if isinstance(declared, list):
            ls.client_commands = frozenset(name for name in declared if isinstance(name, str))

    @server.feature(types.INITIALIZED)
    @guarded
    async def initialized(ls: LinguaServer, params: types.InitializedParams) -> None:
        ls.session_started = True
        pulled = await ls.pull_settings()
        if isinstance(pulled, dict) and pulled:
            ls.apply_settings(pulled)
        for message, settings in ls._pending_problems[-1:]:  # only the latest settings matter
            ls.warn(message, settings)
        ls._pending_problems.clear()
        ls.protocol.notify(MODEL_STATUS, ls.worker.status.to_json())
        await ls.count("")  # build the tokenizer now, before the first hover asks
        # Everything so far (lsprotocol's thousand classes, the tokenizer) lives as long as the
        # server: frozen, it no longer makes each full collection, a hover's worst pause, slow.
        gc.freeze()
        gc.enable()  # python -m server disabled it for the start-up

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded
    async def did_change_configuration(ls: LinguaServer, params: types.DidChangeConfigurationParams) -> None:
        raw = await ls.pull_settings()
        if raw is None:
            settings = params.settings
            raw = settings.get("lingua", settings) if isinstance(settings, dict) else None
        ls.apply_settings(raw)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded
    async def did_open(ls: LinguaServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.documents.open(params.text_document)
        ls.diagnostics.schedule(params.text_document.uri, 0)
        if ls.is_prompt_file(params.text_document.uri):
            ls.warm_up.schedule()

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded
    async def did_change(ls: LinguaServer, params: types.DidChangeTextDocumentParams) -> None:
        if ls.documents.change(params) is not None:
            ls.diagnostics.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded
    async def did_close(ls: LinguaServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.documents.close(uri)
        ls.protected.forget(uri)
        ls.diagnostics.cancel(uri)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded
    async def on_hover(ls: LinguaServer, params: types.HoverParams) -> types.Hover | None:
        document = ls.documents.get(params.text_document.uri)
        if document is None or not ls.is_prompt_file(document.uri):
            return None
        return await answer_hover(ls, document, document.offset_at(params.position))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.RefactorRewrite, types.CodeActionKind.QuickFix],
            resolve_provider=True,
        ),
    )
    @guarded
    async def code_action(ls: LinguaServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        document = ls.documents.get(params.text_document.uri)
        if document is None:
            return None
        start, end = document.offsets(params.range)
        selection_tokens = await ls.count_span(document, start, end) if end > start else None
        found = actions.list_actions(
            document,
            params.range,
            list(params.context.diagnostics),
            selection_tokens,
            ls.settings,
            ls.supports_resolving_edits,
            preview_whole_file=actions.PREVIEW_COMMAND in ls.client_commands,
        )
        return found or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    @guarded
    async def resolve_code_action(ls: LinguaServer, action: types.CodeAction) -> types.CodeAction:
        return await resolve_action(ls, action)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: LinguaServer, params: None) -> None:
        ls.session_started = False  # from here on the log goes to stderr: the client stops listening
        ls.shutdown_workers()

    register_commands(server)
    return server


async def answer_hover(ls: LinguaServer, document: Document, offset: int) -> types.Hover:
    def is_open(version: Document) -> bool:
        return ls.documents.get(version.uri) is version

    memo = document.memo("outline")
    shape = memo.get("outline")
    if shape is None:
        shape = memo["outline"] = outline(document.text)
    section = section_at(document.text, offset, shape, document.line_starts)  # type: ignore[arg-type]
    file_tokens = await ls.count_span(document, 0, len(document.text))
    section_tokens = await ls.count_span(document, section.start, section.end) if section else None
    facts = hover.HoverFacts(
        file_tokens,
        section,
        section_tokens,
        *_cached_ratio(ls, document, offset, section),
        file_protected=await ls.protected.get(document, 0, len(document.text), ls.settings, is_open, "file"),
        section_protected=(
            await ls.protected.get(document, section.start, section.end, ls.settings, is_open, "section")
            if section
            else 0
        ),
    )
    kind = types.MarkupKind.Markdown if ls.markdown_hover else types.MarkupKind.PlainText
    value = hover.render(facts, ls.settings, markdown=ls.markdown_hover)
    range_ = document.range_at(section.start, section.end) if section else None
    return types.Hover(contents=types.MarkupContent(kind=kind, value=value), range=range_)


def _cached_ratio(
    ls: LinguaServer, document: Document, offset: int, section: Section | None
) -> tuple[CachedRatio | None, str]:
    """A remembered compression of the section, else of the paragraph (what people select)."""
    candidates: list[Section | None] = [section] if section else []
    if section is None or section.kind != "paragraph":
        # a heading or role marker line is not part of the paragraph below it
        floor = document.text.find("\n", section.start) + 1 if section and section.kind != "front matter" else 0
        candidates.append(paragraph_at(document.text, offset, document.line_starts, floor))
    for candidate in candidates:
        if candidate is not None:
            found = ls.compressions.lookup(document.text[candidate.start : candidate.end], ls.settings.encoding)
            if found is not None:
                return found, "section" if candidate is section else "paragraph"
    return None, "section"


async def resolve_action(ls: LinguaServer, action: types.CodeAction) -> types.CodeAction:
    if action.data is None and action.command is not None:
        # Complete as listed (a whole-file rewrite opens the client's preview): VS Code resolves
        # every action that has no edit, and an error here would keep its command from running.
        return action
    data = actions.parse_action_data(action.data, ls.settings.rate)
    document = ls.documents.get(data.uri)
    if document is None:
        raise JsonRpcInvalidParams(f"{data.uri} is not open in the editor")
    if document.version != data.version:
        raise stale_error(document, data.version)
    start, end = document.offsets(data.range)
    title = f"Lingua: {action.title.lower()}"
    compressed = await compress_range(
        ls, document, start, end, rate=data.rate, target_tokens=data.target_tokens, title=title
    )
    if document.version != data.version:
        raise JsonRpcContentModified(str(stale_error(document, data.version)))
    action.edit = workspace_edit(ls, compressed)
    if actions.APPLIED_COMMAND in ls.client_commands:
        # Run by the editor once the edit is in: the same "N → M tokens" feedback and reveal
        # as the compress command gives (a code action's edit alone lands silently).
        range_ = ls.converter.unstructure(compressed.inserted_range)
        arguments = {"uri": document.uri, "range": range_, **compressed.numbers()}
        action.command = types.Command(title=action.title, command=actions.APPLIED_COMMAND, arguments=[arguments])
    return action


def register_commands(server: LinguaServer) -> None:
    handlers: dict[str, Callable[[LinguaServer, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
        commands.COMPRESS: lambda ls, args: commands.compress(ls, args, work_done_token()),
        commands.PREVIEW: lambda ls, args: commands.preview(ls, args, work_done_token()),
        commands.KEEP_PROBABILITIES: lambda ls, args: commands.keep_probabilities(ls, args, work_done_token()),
        commands.COUNT_TOKENS: commands.count_tokens,
        commands.RESTART_MODEL: lambda ls, args: commands.restart_model(ls),
    }
    for name, run in handlers.items():
        server.command(name)(_command_handler(name, run))


def _command_handler(
    name: str, run: Callable[[LinguaServer, dict[str, Any]], Awaitable[dict[str, Any]]]
) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def handler(ls: LinguaServer, *arguments: Any) -> dict[str, Any]:
        return await run(ls, commands.single_argument(list(arguments)))

    handler.__name__ = name
    return guarded(handler)
