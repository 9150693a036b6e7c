"""``workspace/executeCommand``: the contract's five commands, argument checks and results.

Each command takes one JSON object and returns one; the VS Code client builds its diff view,
heat view and status bar on these, so the result keys are the protocol's, spelled as there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams

from .actions import parse_budget, parse_range
from .documents import Document
from .jobs import Compressed, RequestFailed, compress_range, stale_error, workspace_edit

if TYPE_CHECKING:
    from .state import LinguaServer

COMPRESS = "lingua.compress"
PREVIEW = "lingua.preview"
KEEP_PROBABILITIES = "lingua.keepProbabilities"
COUNT_TOKENS = "lingua.countTokens"
RESTART_MODEL = "lingua.restartModel"
ALL = (COMPRESS, PREVIEW, KEEP_PROBABILITIES, COUNT_TOKENS, RESTART_MODEL)


def single_argument(arguments: list[Any] | None) -> dict[str, Any]:
    if not arguments:
        return {}
    if len(arguments) != 1 or not isinstance(arguments[0], dict):
        raise JsonRpcInvalidParams("Lingua commands take exactly one argument object")
    return arguments[0]


def _document(server: LinguaServer, args: dict[str, Any]) -> Document:
    uri = args.get("uri")
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams("uri must be a string")
    document = server.documents.get(uri)
    if document is None:
        raise JsonRpcInvalidParams(f"{uri} is not open in the editor")
    return document


def _range_offsets(document: Document, args: dict[str, Any]) -> tuple[int, int]:
    start, end = document.offsets(parse_range(args.get("range")))
    if end <= start:
        raise JsonRpcInvalidParams("the range is empty: select the text to compress")
    return start, end


def _check_version(document: Document, args: dict[str, Any]) -> int | None:
    version = args.get("version", document.version)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise JsonRpcInvalidParams("version must be an integer")
    if version != document.version:
        raise stale_error(document, version)
    return version


def _title(rate: float | None, target: int | None) -> str:
    return f"Lingua: compressing {1 / rate:.1f}x" if rate else f"Lingua: compressing to {target} tokens"


def _summary(compressed: Compressed) -> dict[str, Any]:
    return {
        "compressedText": compressed.new_text,
        **compressed.numbers(),
        "model": compressed.result.model,
        "version": compressed.version,
    }


async def _compress(
    server: LinguaServer, args: dict[str, Any], token: types.ProgressToken | None, word_scores: bool = False
) -> Compressed:
    document = _document(server, args)
    _check_version(document, args)
    start, end = _range_offsets(document, args)
    rate, target = parse_budget(args, server.settings.rate)
    return await compress_range(
        server,
        document,
        start,
        end,
        rate=rate,
        target_tokens=target,
        title=_title(rate, target),
        work_done_token=token,
        word_scores=word_scores,
    )


async def compress(server: LinguaServer, args: dict[str, Any], token: types.ProgressToken | None) -> dict[str, Any]:
    apply = args.get("apply", True)
    if not isinstance(apply, bool):
        raise JsonRpcInvalidParams("apply must be true or false")
    compressed = await _compress(server, args, token)
    document = compressed.document
    edit = workspace_edit(server, compressed)
    answer = {"applied": False, "edit": server.converter.unstructure(edit), **_summary(compressed)}
    # Where the new text lies once the edit is in: the editor reveals and highlights it.
    answer["insertedRange"] = server.converter.unstructure(compressed.inserted_range)
    if not apply:
        return answer
    if document.version != compressed.version:
        answer["reason"] = str(stale_error(document, compressed.version))
        return answer
    if not server.supports_apply_edit:
        answer["reason"] = "This editor does not let language servers apply edits; use the returned edit."
        return answer
    reply = await server.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="Lingua: compress"))
    answer["applied"] = bool(reply.applied)
    if not reply.applied:
        reason = reply.failure_reason or "the editor refused the edit"
        if document.version != compressed.version:
            reason = str(stale_error(document, compressed.version))
        answer["reason"] = reason
    return answer


async def preview(server: LinguaServer, args: dict[str, Any], token: types.ProgressToken | None) -> dict[str, Any]:
    compressed = await _compress(server, args, token)
    return {
        "originalText": compressed.original_text,
        **_summary(compressed),
        "uri": compressed.document.uri,
        "range": server.converter.unstructure(compressed.range),
    }


async def keep_probabilities(
    server: LinguaServer, args: dict[str, Any], token: types.ProgressToken | None
) -> dict[str, Any]:
    if args.get("targetTokens") is not None:
        raise JsonRpcInvalidParams("lingua.keepProbabilities takes a rate, not targetTokens")
    compressed = await _compress(server, args, token, word_scores=True)
    document = compressed.document
    if document.version != compressed.version:
        raise JsonRpcContentModified(str(stale_error(document, compressed.version)))
    scores = compressed.result.word_scores
    if scores is None:
        raise RequestFailed("This model gave no per-word scores.")
    base = compressed.start + compressed.lead
    words = [
        {
            "range": server.converter.unstructure(document.range_at(base + word.start, base + word.end)),
            "probability": word.probability,
            "kept": word.kept,
        }
        for word in scores
    ]
    return {"uri": document.uri, "version": compressed.version, "words": words}


async def count_tokens(server: LinguaServer, args: dict[str, Any]) -> dict[str, Any]:
    """Tokens of ``{text}``, or of an open document's ``{uri, range?}``.

    An answer about a document carries ``promptFile``, by the server's globs (the only ones:
    the client matches none). With ``ifPromptFile: true`` only a prompt file is counted; any
    other document, or one that is not open, answers ``{promptFile: false}`` with no count.
    """
    settings = server.settings
    if_prompt_file = args.get("ifPromptFile", False)
    if not isinstance(if_prompt_file, bool):
        raise JsonRpcInvalidParams("ifPromptFile must be true or false")
    about: dict[str, Any] = {}
    if "text" in args and not if_prompt_file:
        text = args["text"]
        if not isinstance(text, str):
            raise JsonRpcInvalidParams("text must be a string")
    else:
        uri = args.get("uri")
        if not isinstance(uri, str):
            raise JsonRpcInvalidParams("uri must be a string")
        prompt_file = server.is_prompt_file(uri)
        if if_prompt_file and (not prompt_file or server.documents.get(uri) is None):
            return {"promptFile": False}
        document = _document(server, args)
        text = document.text_in(parse_range(args["range"])) if args.get("range") is not None else document.text
        about["promptFile"] = prompt_file
    tokens = await server.count(text)
    return {
        "tokens": tokens,
        "encoding": settings.encoding,
        "approximate": not settings.exact_counts,
        "targetModel": settings.target_model,
        "costUsd": tokens * settings.usd_per_million / 1_000_000,
        "contextWindow": settings.context_window,
        **about,
    }


async def restart_model(server: LinguaServer) -> dict[str, Any]:
    import asyncio

    from .worker import ModelLoadError

    try:
        await asyncio.wrap_future(server.worker.restart())
    except ModelLoadError as exc:
        raise RequestFailed(str(exc)) from None
    return {"restarted": True}
