"""The editor flow around a compression (issue 18, section 3): whole-file rewrites go through
the client's preview, the model warms up once a prompt file is open, and messages about a
setting carry an "Open Settings" action. The real server, driven as the VS Code client drives
it (it declares the client-side commands it has)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.server.conftest import Editor, copy_prompt, session

VSCODE_COMMANDS = ["lingua.compressionApplied", "lingua.previewCompression", "lingua.openSettings"]


def _json(editor: Editor, value: Any) -> Any:
    return editor.client.protocol._converter.unstructure(value)


async def _states_until(editor: Editor, state: str, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [s["state"] for s in editor.statuses]
        if state in states:
            return states
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no {state!r} model status in {timeout} s: {editor.statuses}")


async def test_whole_file_rewrites_open_the_clients_preview(prompts_dir: Path) -> None:
    """The over-budget quick fix, and an action on a selection of the whole text, carry
    ``lingua.previewCompression`` with what to compress and of which version; an action on part
    of the file still edits in place. Nothing runs the model: the preview does, when picked."""
    path = copy_prompt("graphrag/drift_search_system_prompt__DRIFT_PRIMER_PROMPT.txt", prompts_dir)
    async with session(settings={"tokenBudget": 100}, root=prompts_dir.parent, client_commands=VSCODE_COMMANDS) as vs:
        uri = vs.open(path)
        text = vs.texts[uri]
        diagnostics = await vs.diagnostics_for(uri, count=1)
        (fix,) = await vs.actions(uri, 0, 0, diagnostics)
        assert fix.title == "Compress to fit the budget" and fix.kind == types.CodeActionKind.QuickFix
        assert fix.data is None and fix.edit is None
        assert fix.command is not None and fix.command.command == "lingua.previewCompression"
        (argument,) = fix.command.arguments or []
        assert argument["uri"] == uri and argument["version"] == 1 and argument["targetTokens"] == 100
        whole = vs.client.protocol._converter.structure(argument["range"], types.Range)
        assert vs.offsets(uri, whole) == (0, len(text))

        # VS Code resolves every action without an edit: this one comes back as it was
        assert await vs.client.code_action_resolve_async(fix) == fix

        # a selection of all the text (whitespace around it aside) is a whole-file rewrite too
        start, end = len(text) - len(text.lstrip()), len(text.rstrip())
        everything = await vs.actions(uri, start, end)
        assert everything and all(a.command and a.command.command == "lingua.previewCompression" for a in everything)
        assert [a.command.arguments[0]["rate"] for a in everything[:3]] == [0.5, 0.33, 0.2]  # type: ignore[union-attr,index]
        part = await vs.actions(uri, start, start + 400)
        assert part and all(a.command is None and a.data is not None for a in part)

        # what the preview sends with that argument: refused once the document has changed
        vs.replace(uri, 0, 0, "Note. ")
        with pytest.raises(JsonRpcException) as failure:
            await vs.command("lingua.preview", argument)
        assert failure.value.code == -32801
        assert vs.statuses[-1]["state"] == "unloaded"  # listing, resolving, refusing: no model
        assert vs.applied == []


async def test_without_the_preview_the_quick_fix_edits_as_before(prompts_dir: Path) -> None:
    path = copy_prompt("graphrag/drift_search_system_prompt__DRIFT_PRIMER_PROMPT.txt", prompts_dir)
    async with session(settings={"tokenBudget": 100}, root=prompts_dir.parent) as plain:
        uri = plain.open(path)
        (fix,) = await plain.actions(uri, 0, 0, await plain.diagnostics_for(uri, count=1))
        assert fix.command is None and fix.data is not None and fix.data["targetTokens"] == 100


async def test_settings_problems_carry_open_settings(prompts_dir: Path) -> None:
    """One warning for all invalid settings, with an action naming each key (a method the model
    cannot run is refused at the settings change); the server does not wait for the answer."""
    path = prompts_dir / "p.prompt"
    path.write_text("A prompt.\n", encoding="utf-8")
    settings = {"method": "llmlingua2", "rate": 7}
    async with session(settings=settings, root=prompts_dir.parent, client_commands=VSCODE_COMMANDS) as vs:
        uri = vs.open(path)
        for _ in range(100):
            if vs.message_requests:
                break
            await asyncio.sleep(0.05)
        (request,) = vs.message_requests
        assert request["type"] == types.MessageType.Warning
        assert "lingua.rate must be" in request["message"] and "lingua.method 'llmlingua2'" in request["message"]
        assert request["actions"] == [{"title": "Open Settings", "settings": ["lingua.rate", "lingua.method"]}]
        assert vs.client.messages == []  # not also as a plain message
        # a later change with a new problem: a new message, pointing at the new key
        vs.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"lingua": {"device": "toaster", "warmUp": False}})
        )
        hover = await vs.hover(uri, 1)
        assert hover is not None  # the server answers on
        for _ in range(100):
            if len(vs.message_requests) == 2:
                break
            await asyncio.sleep(0.05)
        assert vs.message_requests[1]["actions"] == [{"title": "Open Settings", "settings": ["lingua.device"]}]


async def test_a_model_that_cannot_load_points_at_its_setting(prompts_dir: Path, tmp_path: Path) -> None:
    path = prompts_dir / "p.prompt"
    text = "Translate the following sentence into French, keeping {placeholder} as is: good morning.\n"
    path.write_text(text, encoding="utf-8")
    bad = {"model": str(tmp_path / "no-such-model")}
    async with session(settings=bad, root=prompts_dir.parent, client_commands=VSCODE_COMMANDS) as vs:
        uri = vs.open(path)
        range_ = _json(vs, vs.range(uri, 0, len(text) - 1))
        with pytest.raises(JsonRpcException, match="could not load"):
            await vs.command("lingua.compress", {"uri": uri, "range": range_})
        failed = next(s for s in vs.statuses if s["state"] == "failed")
        assert failed["setting"] == "lingua.model"
        (request,) = vs.message_requests
        assert request["type"] == types.MessageType.Error and "set lingua.model" in request["message"]
        assert request["actions"] == [{"title": "Open Settings", "settings": ["lingua.model"]}]


async def test_the_model_warms_up_once_a_prompt_file_opens(prompts_dir: Path, tmp_path: Path) -> None:
    """A plain document loads nothing; a prompt file starts the load in the background, shown
    as the server's own progress; counting does not wait for it; a compression sent during the
    load waits for it (one load, not two) and reports the wait apart from its own time."""
    prompt = copy_prompt("graphrag/global_search_map_system_prompt__MAP_SYSTEM_PROMPT.txt", prompts_dir)
    notes = tmp_path / "notes.md"
    notes.write_text("Shopping list: eggs, flour, milk.\n", encoding="utf-8")
    async with session(root=prompts_dir.parent, client_commands=VSCODE_COMMANDS, warm_up=True) as vs:
        vs.open(notes)
        await asyncio.sleep(2.5)
        assert [s["state"] for s in vs.statuses] == ["unloaded"]

        opened = time.monotonic()
        uri = vs.open(prompt)
        text = vs.texts[uri]
        counted = await vs.command("lingua.countTokens", {"uri": uri, "ifPromptFile": True})
        assert counted["promptFile"] is True and counted["tokens"] > 500
        await _states_until(vs, "loading", 10)
        # counting while torch imports and the weights load: still at once
        started = time.monotonic()
        during = await vs.command("lingua.countTokens", {"uri": uri})
        hover = await vs.hover(uri, 10)
        assert during["tokens"] == counted["tokens"] and hover is not None
        assert time.monotonic() - started < 1.0, "a count or hover waited for the model"

        start = text.index("---Goal---")
        end = text.index("\n\n", start + 20)
        asked = time.monotonic()
        result = await vs.command(
            "lingua.compress", {"uri": uri, "range": _json(vs, vs.range(uri, start, end)), "rate": 0.5}
        )
        waited = time.monotonic() - asked
        assert result["applied"] is True
        assert result["loadSeconds"] > 0.5, result  # it came while the model was loading
        assert result["loadSeconds"] + result["seconds"] <= waited + 0.05
        assert result["loadSeconds"] + result["seconds"] >= 0.8 * waited - 0.5, (result, waited)
        assert [s["state"] for s in vs.statuses] == ["unloaded", "loading", "ready"]  # one load
        loads = [m for m in vs.client.log_messages if "server.worker: model" in m.message and "loaded" in m.message]
        assert len(loads) == 1, loads

        # the load as the server's own progress: begun, not cancellable, ended with the outcome
        (reports,) = [r for r in vs.client.progress_reports.values() if getattr(r[0], "title", "").endswith("model")]
        begin, end_ = reports[0], reports[-1]
        assert isinstance(begin, types.WorkDoneProgressBegin) and begin.title == "Lingua: loading the model"
        assert begin.cancellable is False and begin.message == "embedded"
        assert isinstance(end_, types.WorkDoneProgressEnd) and end_.message and "embedded ready on cpu" in end_.message
        print(f"warm-up: model ready {time.monotonic() - opened:.1f} s after the prompt file opened")

        # the next compression finds the model there
        again = await vs.command(
            "lingua.compress",
            {"uri": uri, "range": _json(vs, vs.range(uri, 0, vs.texts[uri].index("\n\n"))), "rate": 0.5},
        )
        assert again["loadSeconds"] == 0


async def test_no_warm_up_when_it_is_off(prompts_dir: Path) -> None:
    path = copy_prompt("prompty/basic.prompty", prompts_dir)
    async with session(root=prompts_dir.parent, warm_up=False) as vs:
        vs.open(path)
        await asyncio.sleep(2.5)
        assert [s["state"] for s in vs.statuses] == ["unloaded"]
