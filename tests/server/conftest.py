"""Drive the real server (``python -m server``) over stdio with pytest-lsp's recorded client capabilities.

The client here behaves like an editor where it matters: it keeps its own copy of each open
document, applies ``workspace/applyEdit`` only when the edit's version matches its own (as
VS Code does), and tells the server about the result with ``didChange``. Position arithmetic
is done independently of the server's code, so the two check each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = Path(os.environ.get("LINGUA_SHARED_DATA", ROOT.parent / "shared" / "data")) / "prompts"
SERVER = [sys.executable, "-m", "server"]
CLIENTS = ["visual-studio-code", "neovim"]  # neovim's latest capabilities negotiate utf-8 positions


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def position(text: str, offset: int, encoding: str = "utf-16") -> types.Position:
    """LSP position of a str offset, from first principles (lines end at \\r\\n, \\r or \\n)."""
    before = text[:offset]
    lines = re.split(r"\r\n|\r|\n", before)
    return types.Position(line=len(lines) - 1, character=units(lines[-1], encoding))


def offset(text: str, pos: types.Position, encoding: str = "utf-16") -> int:
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    start = starts[pos.line]
    line_end = starts[pos.line + 1] if pos.line + 1 < len(starts) else len(text)
    line = text[start:line_end].rstrip("\r\n")
    for i in range(len(line) + 1):
        if units(line[:i], encoding) >= pos.character:
            return start + i
    return start + len(line)


@dataclass
class Editor:
    """The client's side of the documents, and what the server told it."""

    client: LanguageClient
    encoding: str = "utf-16"
    texts: dict[str, str] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    applied: list[types.ApplyWorkspaceEditParams] = field(default_factory=list)
    publications: list[types.PublishDiagnosticsParams] = field(default_factory=list)
    # window/showMessageRequest as sent (dicts: the "Open Settings" action's extra keys kept)
    message_requests: list[dict[str, Any]] = field(default_factory=list)

    def open(self, path: Path, text: str | None = None, language: str = "markdown") -> str:
        uri = path.as_uri()
        text = path.read_bytes().decode("utf-8") if text is None else text  # keep \r\n as on disk
        self.texts[uri], self.versions[uri] = text, 1
        item = types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
        return uri

    def replace(self, uri: str, start: int, end: int, new_text: str) -> None:
        """An incremental change, as an editor sends when the user types."""
        text = self.texts[uri]
        change = types.TextDocumentContentChangePartial(
            range=types.Range(start=self.pos(uri, start), end=self.pos(uri, end)), text=new_text
        )
        self.texts[uri] = text[:start] + new_text + text[end:]
        self.versions[uri] += 1
        identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri])
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(text_document=identifier, content_changes=[change])
        )

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    def pos(self, uri: str, at: int) -> types.Position:
        return position(self.texts[uri], at, self.encoding)

    def range(self, uri: str, start: int, end: int) -> types.Range:
        return types.Range(start=self.pos(uri, start), end=self.pos(uri, end))

    def offsets(self, uri: str, range_: types.Range) -> tuple[int, int]:
        text = self.texts[uri]
        return offset(text, range_.start, self.encoding), offset(text, range_.end, self.encoding)

    def apply(self, edit: types.WorkspaceEdit) -> tuple[bool, str | None]:
        """Apply like VS Code: all or nothing, refusing a versioned edit for another version."""
        edits: list[tuple[str, int | None, list[types.TextEdit]]] = []
        for change in edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit)
            edits.append((change.text_document.uri, change.text_document.version, list(change.edits)))  # type: ignore[arg-type]
        for uri, text_edits in (edit.changes or {}).items():
            edits.append((uri, None, list(text_edits)))
        for uri, version, _ in edits:
            if version is not None and self.versions.get(uri) != version:
                return False, f"version mismatch: editor has {self.versions.get(uri)}, edit is for {version}"
        for uri, _, text_edits in edits:
            for text_edit in sorted(
                text_edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
            ):
                start, end = self.offsets(uri, text_edit.range)
                self.replace(uri, start, end, text_edit.new_text)
        return True, None

    async def hover(self, uri: str, at: int) -> types.Hover | None:
        return await self.client.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=self.pos(uri, at))
        )

    async def actions(
        self, uri: str, start: int, end: int, diagnostics: list[types.Diagnostic] | None = None
    ) -> list[types.CodeAction]:
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=self.range(uri, start, end),
            context=types.CodeActionContext(diagnostics=diagnostics or []),
        )
        found = await self.client.text_document_code_action_async(params)
        return [a for a in found or [] if isinstance(a, types.CodeAction)]

    async def command(self, name: str, argument: dict[str, Any]) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[argument])
        )

    async def diagnostics_for(self, uri: str, count: int | None = None, timeout: float = 10) -> list[types.Diagnostic]:
        """Diagnostics of ``uri`` once it has ``count`` of them (any number when None).

        The state is checked again every quarter second as well as on each publication: a
        publication that lands between a check and the start of the wait wakes no waiter,
        and the wait would then run out although the diagnostics are there.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = list(self.client.diagnostics.get(uri, []))
            if uri in self.client.diagnostics and (count is None or len(found) == count):
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{uri} did not get {count} diagnostics in {timeout} s; it has {len(found)}")
            waiter = self.client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, min(0.25, remaining))


def _converter() -> Any:
    """pygls' converter with two fixes for a client's reading: message actions stay as sent
    (dicts: a plain ``MessageActionItem`` would drop the keys of Lingua's "Open Settings"
    action), and a code action that carries a command is a ``CodeAction`` (lsprotocol reads
    any object with a ``command`` key as a ``Command``, with the command object as its name)."""
    made = default_converter()
    made.register_structure_hook(types.MessageActionItem, lambda raw, _: raw)

    def command_or_action(raw: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(raw.get("command"), str):
            return made.structure(raw, types.Command)  # type: ignore[no-any-return]
        return made.structure(raw, types.CodeAction)  # type: ignore[no-any-return]

    made.register_structure_hook(types.Command | types.CodeAction, command_or_action)
    return made


def make_client(editor_box: list[Editor]) -> LanguageClient:
    client = LanguageClient(converter_factory=_converter)

    def publish_diagnostics(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        """pytest-lsp's own handler keeps only the latest; tests that count publications need each."""
        client.diagnostics[params.uri] = params.diagnostics
        editor_box[0].publications.append(params)

    register_lsp_features(
        client, {**DEFAULT_CLIENT_FEATURES, types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish_diagnostics}
    )

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        editor = editor_box[0]
        editor.applied.append(params)
        ok, reason = editor.apply(params.edit)
        return types.ApplyWorkspaceEditResult(applied=ok, failure_reason=reason)

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def show_message_request(params: types.ShowMessageRequestParams) -> None:
        """Recorded as sent; answered as a user who closes the message."""
        sent = {"type": params.type, "message": params.message, "actions": list(params.actions or [])}
        editor_box[0].message_requests.append(sent)

    @client.feature("lingua/modelStatus")
    def model_status(params: Any) -> None:
        status = params._asdict() if hasattr(params, "_asdict") else dict(params)  # pygls makes dicts namedtuples
        editor_box[0].statuses.append(status)

    return client


@contextlib.asynccontextmanager
async def session(
    capabilities: str = "visual-studio-code",
    settings: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    root: Path | None = None,
    env: dict[str, str] | None = None,
    client_commands: list[str] | None = None,
    warm_up: bool = False,
) -> AsyncIterator[Editor]:
    """A started, initialized server and the editor talking to it; shut down afterwards.
    ``client_commands``: commands the client says it runs itself, as the VS Code client does.
    ``warm_up``: the ``warmUp`` setting, off unless a test is about it (else every session
    that opens a prompt file would load the model in the background)."""
    box: list[Editor] = []
    client = make_client(box)
    editor = Editor(client)
    box.append(editor)
    settings = {"warmUp": warm_up, **(settings or {})}
    if configuration is not None:
        client.set_configuration({"warmUp": warm_up, **configuration}, section="lingua")
    await client.start_io(*SERVER, env={**os.environ, **(env or {})}, cwd=str(ROOT))
    caps = client_capabilities(capabilities)
    folders = [types.WorkspaceFolder(uri=root.as_uri(), name=root.name)] if root else None
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            initialization_options={
                "settings": settings,
                **({"clientCommands": client_commands} if client_commands is not None else {}),
            },
            workspace_folders=folders,
            root_uri=root.as_uri() if root else None,
        )
    )
    encoding = result.capabilities.position_encoding
    editor.encoding = str(getattr(encoding, "value", encoding) or "utf-16")
    try:
        yield editor
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        await client.stop()


def lingua_count(text: str, tmp_path: Path, target_model: str = "gpt-4o") -> dict[str, Any]:
    """What the CLI says about ``text``: the numbers a hover must show."""
    path = tmp_path / "count-input.txt"
    path.write_text(text, encoding="utf-8", newline="")
    cli = Path(sys.executable).with_name("lingua")
    out = subprocess.run(
        [str(cli), "count", str(path), "--json", "--price-model", target_model],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def hover_rows(value: str) -> dict[str, tuple[int, float]]:
    """Label -> (tokens, cost per call) from the hover's table."""
    rows = {}
    for m in re.finditer(r"^\| ([^|]+?) \| ([\d,]+) \| \$([\d.,]+) \|", value, re.MULTILINE):
        rows[m.group(1)] = (int(m.group(2).replace(",", "")), float(m.group(3).replace(",", "")))
    return rows


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """A workspace with a ``prompts/`` folder, so the default globs apply."""
    folder = tmp_path / "workspace" / "prompts"
    folder.mkdir(parents=True)
    return folder


def copy_prompt(name: str, folder: Path) -> Path:
    source = PROMPTS / name
    assert source.exists(), f"the shared evaluation data is expected beside the repo: {source}"
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    return target
