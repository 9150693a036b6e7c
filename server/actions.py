"""Which compress actions to offer, and the small, checked ``data`` they carry to resolve.

Listing must be instant (editors ask on every cursor move), so it only counts tokens; the
model runs when the user picks one, in ``codeAction/resolve`` or the ``lingua.compress``
command for clients that cannot resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from .diagnostics import OVER_BUDGET, OVER_CONTEXT, SOURCE
from .documents import Document
from .settings import Settings

RATES = (("2x", 0.5), ("3x", 0.33), ("5x", 0.2))
FIT_BUDGET = "Compress to fit the budget"
COMPRESS_COMMAND = "lingua.compress"
# Run by the client, not the server: feedback after a code action's edit has landed. Attached
# only when the client says it has it (``initializationOptions.clientCommands``).
APPLIED_COMMAND = "lingua.compressionApplied"
# Also the client's: a diff of the whole file, original and compressed, with Apply and Discard.
# A rewrite of a whole document is offered through it when the client has it, so that a
# minute-long rewrite of everything is looked at (and can be cancelled) before it lands.
PREVIEW_COMMAND = "lingua.previewCompression"


@dataclass(frozen=True)
class ActionData:
    uri: str
    range: types.Range
    version: int | None
    rate: float | None
    target_tokens: int | None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "uri": self.uri,
            "range": {
                "start": {"line": self.range.start.line, "character": self.range.start.character},
                "end": {"line": self.range.end.line, "character": self.range.end.character},
            },
            "version": self.version,
        }
        if self.target_tokens is not None:
            data["targetTokens"] = self.target_tokens
        else:
            data["rate"] = self.rate
        return data


def parse_position(raw: Any, what: str) -> types.Position:
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams(f"{what} must be a position {{line, character}}")
    line, character = raw.get("line"), raw.get("character")
    if not (_natural(line) and _natural(character)):
        raise JsonRpcInvalidParams(f"{what} must have non-negative integer line and character")
    return types.Position(line=int(line), character=int(character))  # type: ignore[arg-type]


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_range(raw: Any) -> types.Range:
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams("range must be {start, end}")
    return types.Range(
        start=parse_position(raw.get("start"), "range.start"), end=parse_position(raw.get("end"), "range.end")
    )


def parse_budget(raw: dict[str, Any], default_rate: float) -> tuple[float | None, int | None]:
    """``rate`` or ``targetTokens`` (not both); neither means the ``rate`` setting."""
    rate, target = raw.get("rate"), raw.get("targetTokens")
    if rate is not None and target is not None:
        raise JsonRpcInvalidParams("give rate or targetTokens, not both")
    if target is not None:
        if not isinstance(target, int) or isinstance(target, bool) or target < 1:
            raise JsonRpcInvalidParams(f"targetTokens must be a positive whole number; got {target!r}")
        return None, target
    if rate is None:
        return default_rate, None
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate <= 1:
        raise JsonRpcInvalidParams(f"rate must be a number in (0, 1]; got {rate!r}")
    return float(rate), None


def parse_action_data(raw: Any, default_rate: float) -> ActionData:
    if not isinstance(raw, dict) or not isinstance(raw.get("uri"), str):
        raise JsonRpcInvalidParams("this code action carries no Lingua data")
    version = raw.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise JsonRpcInvalidParams("version must be an integer")
    rate, target = parse_budget(raw, default_rate)
    return ActionData(raw["uri"], parse_range(raw.get("range")), version, rate, target)


def _action(
    title: str,
    kind: types.CodeActionKind,
    data: ActionData,
    how: str,
    diagnostics: list[types.Diagnostic] | None = None,
) -> types.CodeAction:
    """``how``: "resolve" (``data``, the edit filled in by ``codeAction/resolve``), or the
    command that takes ``data`` as its argument (the preview, or ``lingua.compress``)."""
    if how == "resolve":
        return types.CodeAction(title=title, kind=kind, data=data.to_json(), diagnostics=diagnostics)
    command = types.Command(title=title, command=how, arguments=[data.to_json()])
    return types.CodeAction(title=title, kind=kind, command=command, diagnostics=diagnostics)


def _covers_document(document: Document, start: int, end: int) -> bool:
    text = document.text
    return not text[:start].strip() and not text[end:].strip()


def list_actions(
    document: Document,
    selection: types.Range,
    diagnostics: list[types.Diagnostic],
    selection_tokens: int | None,
    settings: Settings,
    resolvable: bool,
    preview_whole_file: bool = False,
) -> list[types.CodeAction]:
    """Compress actions for a non-empty selection, and the quick fix for an over-budget file.

    ``preview_whole_file``: the client has ``lingua.previewCompression``; an action that
    rewrites the whole document opens it instead of editing straight away.
    """
    in_place = "resolve" if resolvable else COMPRESS_COMMAND
    actions = []
    start, end = document.offsets(selection)
    if selection_tokens is not None and document.text[start:end].strip():
        range_ = document.range_at(start, end)
        how = PREVIEW_COMMAND if preview_whole_file and _covers_document(document, start, end) else in_place
        for label, rate in RATES:
            data = ActionData(document.uri, range_, document.version, rate, None)
            actions.append(_action(f"Compress selection {label}", types.CodeActionKind.RefactorRewrite, data, how))
        if selection_tokens > settings.token_budget:
            data = ActionData(document.uri, range_, document.version, None, settings.token_budget)
            title = f"Compress selection to fit {settings.token_budget} tokens"
            actions.append(_action(title, types.CodeActionKind.RefactorRewrite, data, how))
    ours = [d for d in diagnostics if d.source == SOURCE and d.code in (OVER_BUDGET, OVER_CONTEXT)]
    if ours:
        # The whole file is compressed, so nothing lies outside the range: the target is the
        # budget, or the context window if that is smaller (else the fix would not fix it).
        target = min(settings.token_budget, settings.context_window or settings.token_budget)
        data = ActionData(document.uri, document.full_range, document.version, None, target)
        how = PREVIEW_COMMAND if preview_whole_file else in_place
        fix = _action(FIT_BUDGET, types.CodeActionKind.QuickFix, data, how, ours)
        fix.is_preferred = True
        actions.append(fix)
    return actions
