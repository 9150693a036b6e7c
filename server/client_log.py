"""The server's log in the editor, each line at its own level.

An editor shows a server's stderr as one undifferentiated stream: VS Code's log channel tags
every line of it ``[error]``, so a model load announced at INFO read as a failure. Once the
session has started, records go to the client as ``window/logMessage`` with the matching
message type instead (VS Code files them under error, warning, info and debug; Neovim's
``:LspLog`` shows the type), and stderr keeps only what comes before a client is there to
listen and what comes after it has gone.

Warnings that libraries raise through the ``warnings`` module (a deprecation inside
transformers, say) are the library's business: they are logged once, at debug level.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from lsprotocol import types

_TYPES = (
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
)


class _Session(Protocol):
    session_started: bool
    _loop: asyncio.AbstractEventLoop | None

    def window_log_message(self, params: types.LogMessageParams) -> None: ...


def message_type(level: int) -> types.MessageType:
    for threshold, kind in _TYPES:
        if level >= threshold:
            return kind
    return types.MessageType.Log


class ClientLogHandler(logging.Handler):
    """Sends records to the client while a session is up; records logged on other threads
    (the model worker) are handed to the event loop, the only thread that may write."""

    def __init__(self, server: _Session) -> None:
        super().__init__()
        self.server = server
        self.closing = False

    def active(self) -> bool:
        loop = self.server._loop
        return self.server.session_started and not self.closing and loop is not None and not loop.is_closed()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.active() or from_pygls(record):
            return
        try:
            params = types.LogMessageParams(type=message_type(record.levelno), message=self.format(record))
            loop = self.server._loop
            assert loop is not None
            loop.call_soon_threadsafe(self._send, params)
        except Exception:  # a log line must never break the request that logged it
            self.handleError(record)

    def _send(self, params: types.LogMessageParams) -> None:
        if self.active():
            self.server.window_log_message(params)


def from_pygls(record: logging.LogRecord) -> bool:
    """pygls' own records stay on stderr: with ``--log-protocol`` it logs every message it
    sends, and sending those as messages would never end."""
    return record.name == "pygls" or record.name.startswith("pygls.")


def library_warnings_at_debug(record: logging.LogRecord) -> bool:
    """A filter for every handler: ``warnings.warn`` from libraries, captured by logging,
    drops to debug (the ``warnings`` module itself shows each location once)."""
    if record.name == "py.warnings":
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return True


def install(server: _Session, level: int) -> ClientLogHandler:
    """Route the root logger: to the client during the session, to stderr outside it."""
    root = logging.getLogger()
    handler = ClientLogHandler(server)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    for existing in root.handlers:
        existing.addFilter(lambda record: from_pygls(record) or not handler.active())
    root.addHandler(handler)
    logging.captureWarnings(True)
    for each in root.handlers:
        each.addFilter(library_warnings_at_debug)
    return handler
