"""Over-budget and over-context-window diagnostics, debounced so typing never waits on counting."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from lsprotocol import types

from .documents import Document
from .settings import Settings

log = logging.getLogger(__name__)

SOURCE = "lingua"
OVER_BUDGET = "over-budget"
OVER_CONTEXT = "over-context-window"
DEBOUNCE_SECONDS = 0.3


def headline_range(document: Document) -> types.Range:
    """The first line with text on it, trimmed: where a file-level problem is shown, as linters
    do, instead of underlining every line of the file."""
    match = re.search(r"\S[^\r\n]*", document.text)
    if match is None:
        return document.range_at(0, 0)
    return document.range_at(match.start(), match.start() + len(match.group().rstrip()))


def diagnose(document: Document, tokens: int, settings: Settings) -> list[types.Diagnostic]:
    whole = headline_range(document)
    found = []
    if tokens > settings.token_budget:
        found.append(
            types.Diagnostic(
                range=whole,
                message=(
                    f"This prompt is {tokens:,} tokens ({settings.encoding}), over the budget of "
                    f"{settings.token_budget:,} (lingua.tokenBudget)."
                ),
                severity=types.DiagnosticSeverity.Warning,
                code=OVER_BUDGET,
                source=SOURCE,
                data={"tokens": tokens, "budget": settings.token_budget},
            )
        )
    window = settings.context_window
    if window is not None and tokens > window:
        found.append(
            types.Diagnostic(
                range=whole,
                message=(
                    f"This prompt is {tokens:,} tokens, more than {settings.target_model}'s context window "
                    f"of {window:,}: the model cannot read it."
                ),
                severity=types.DiagnosticSeverity.Error,
                code=OVER_CONTEXT,
                source=SOURCE,
                data={"tokens": tokens, "budget": settings.token_budget},
            )
        )
    return found


class DiagnosticsScheduler:
    """One pending publication per document; a newer change replaces it."""

    def __init__(self, publish: Callable[[str], Awaitable[None]]) -> None:
        self._publish = publish
        self._pending: dict[str, asyncio.Task[None]] = {}

    def schedule(self, uri: str, delay: float = DEBOUNCE_SECONDS) -> None:
        self.cancel(uri)
        self._pending[uri] = asyncio.get_running_loop().create_task(self._run(uri, delay))

    def cancel(self, uri: str) -> None:
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()

    async def _run(self, uri: str, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            await self._publish(uri)
        except asyncio.CancelledError:
            raise
        except Exception:  # diagnostics are best effort; the next change tries again
            log.exception("diagnostics failed")
        finally:
            if self._pending.get(uri) is asyncio.current_task():
                del self._pending[uri]
