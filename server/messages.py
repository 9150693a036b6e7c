"""Messages about a setting at fault, with an "Open Settings" button where the client has one.

A warning that names ``lingua.method`` is worth more with a button that opens the settings at
that key. LSP gives a server no way to open an editor's settings, so the button is the
client's: a client that declares ``lingua.openSettings`` in
``initializationOptions.clientCommands`` gets ``window/showMessageRequest`` with an
``Open Settings`` action that carries the keys (``settings``, an extra property of the
``MessageActionItem``) and opens them when the user picks it. Any other client gets the plain
``window/showMessage`` it always had, never a button that would do nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol

import attrs
import cattrs
from lsprotocol import types
from pygls.protocol import default_converter


class MessageClient(Protocol):
    """What showing a message needs of the server (the server's state imports this module)."""

    client_commands: frozenset[str]

    def window_show_message(self, params: types.ShowMessageParams) -> None: ...

    def window_show_message_request(self, params: types.ShowMessageRequestParams) -> Future[Any]: ...


log = logging.getLogger(__name__)

OPEN_SETTINGS = "lingua.openSettings"
OPEN_SETTINGS_TITLE = "Open Settings"


@attrs.define
class SettingsAction(types.MessageActionItem):
    """``Open Settings`` and the keys it opens (lsprotocol's item has a title only)."""

    settings: list[str] = attrs.field(factory=list)


def _unstructure_action(item: types.MessageActionItem) -> dict[str, Any]:
    if isinstance(item, SettingsAction):
        return {"title": item.title, "settings": list(item.settings)}
    return {"title": item.title}


def converter() -> cattrs.Converter:
    """pygls' converter, able to send a ``SettingsAction``'s keys (the generated hooks would
    unstructure it by its declared type, dropping them)."""
    made: cattrs.Converter = default_converter()  # type: ignore[no-untyped-call]
    made.register_unstructure_hook(types.MessageActionItem, _unstructure_action)
    return made


def show(server: MessageClient, kind: types.MessageType, message: str, settings: Sequence[str]) -> None:
    """Show ``message``; with a button that opens ``settings`` when the client can do that.

    Never waits for the user: the answer only matters to the client, which acts on it itself.
    """
    keys = [key for key in settings if key.startswith("lingua")]
    if not keys or OPEN_SETTINGS not in server.client_commands:
        server.window_show_message(types.ShowMessageParams(type=kind, message=message))
        return
    action = SettingsAction(title=OPEN_SETTINGS_TITLE, settings=keys)
    params = types.ShowMessageRequestParams(type=kind, message=message, actions=[action])
    server.window_show_message_request(params).add_done_callback(_log_failure)


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.info("the client did not show a message: %s", future.exception())
