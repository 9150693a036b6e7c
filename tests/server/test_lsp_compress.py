"""End to end with the real embedded model: one server for the module, so it loads once.

Selections are small and rates moderate to keep the module near half a minute on a laptop
CPU; cancellation uses a whole prompt file so there is something to cancel.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lingua_core.budget import BUDGET_TOLERANCE
from tests.server.conftest import Editor, copy_prompt, hover_rows, session

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLACEHOLDER_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{[A-Za-z_]\w*\}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def editor(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Editor]:
    root = tmp_path_factory.mktemp("workspace")
    (root / "prompts").mkdir()
    # The VS Code client runs the "compression applied" feedback itself, and says so.
    async with session("visual-studio-code", root=root, client_commands=["lingua.compressionApplied"]) as started:
        started.root = root  # type: ignore[attr-defined]
        yield started


def _prompts(editor: Editor) -> Path:
    return editor.root / "prompts"  # type: ignore[attr-defined,no-any-return]


def _json_range(editor: Editor, uri: str, start: int, end: int) -> dict[str, Any]:
    return editor.client.protocol._converter.unstructure(editor.range(uri, start, end))  # type: ignore[no-any-return]


def _progress_messages(editor: Editor) -> list[list[Any]]:
    return [list(reports) for reports in editor.client.progress_reports.values()]


async def test_resolve_fills_a_versioned_edit_that_is_shorter_and_keeps_placeholders(editor: Editor) -> None:
    path = copy_prompt("graphrag/extract_claims__EXTRACT_CLAIMS_PROMPT.txt", _prompts(editor))
    uri = editor.open(path)
    text = editor.texts[uri]
    start = text.index("3. Return output")
    end = len(text.rstrip())
    selection = text[start:end]
    placeholders = PLACEHOLDER_RE.findall(selection)
    assert placeholders, "the test needs a selection with template fields"

    listed = await editor.actions(uri, start, end)
    action = next(a for a in listed if a.title == "Compress selection 2x")
    assert action.edit is None
    started = time.perf_counter()
    resolved = await editor.client.code_action_resolve_async(action)
    print(f"first compression (model load included): {time.perf_counter() - started:.1f} s")

    assert resolved.edit is not None and resolved.edit.document_changes
    change = resolved.edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit)
    assert change.text_document.uri == uri and change.text_document.version == 1
    assert editor.apply(resolved.edit) == (True, None)
    new_text = editor.texts[uri]
    assert new_text.startswith(text[:start]) and new_text.endswith(text[end:])
    compressed = new_text[start : len(new_text) - (len(text) - end)]
    assert len(compressed) < 0.8 * len(selection)
    # each template field as often as in the selection: not merely somewhere in the file
    assert Counter(PLACEHOLDER_RE.findall(compressed)) == Counter(placeholders)
    # then the editor runs the feedback command: the numbers, and where the new text now lies
    assert resolved.command is not None and resolved.command.command == "lingua.compressionApplied"
    (applied,) = resolved.command.arguments or []
    assert applied["uri"] == uri and applied["compressedTokens"] < applied["originTokens"]
    # the first compression loaded the model: said apart from the compression's own time
    assert applied["loadSeconds"] > 0.1 and applied["seconds"] > 0
    inserted = editor.client.protocol._converter.structure(applied["range"], types.Range)
    assert new_text[slice(*editor.offsets(uri, inserted))] == compressed

    # progress: the model's loading was its own step, then the compression, then the end
    reports = max(_progress_messages(editor), key=len)
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].cancellable
    messages = [r.message for r in reports if isinstance(r, types.WorkDoneProgressReport)]
    assert any(m and m.startswith("Loading model") for m in messages)
    assert any(m and m.startswith("Compressing") for m in messages)
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert [s["state"] for s in editor.statuses][-2:] == ["loading", "ready"]


async def test_compress_command_applies_through_the_editor(editor: Editor) -> None:
    path = copy_prompt("promptflow/augmented_chat.jinja2", _prompts(editor))
    uri = editor.open(path)
    text = editor.texts[uri]
    start = text.index("You are")
    end = text.index("\n\n", start)  # one paragraph
    result = await editor.command(
        "lingua.compress", {"uri": uri, "range": _json_range(editor, uri, start, end), "rate": 0.5}
    )
    assert result["applied"] is True and "reason" not in result
    assert result["version"] == 1
    assert result["ratio"] > 1.3 and result["compressedTokens"] < result["originTokens"]
    assert result["method"] == "llmlingua" and "SmolLM2" in result["model"]
    assert result["loadSeconds"] == 0  # the model was there
    loaded = [m for m in editor.client.log_messages if m.message.startswith("INFO server.worker: model")]
    assert loaded and all(m.type == types.MessageType.Info for m in loaded), editor.client.log_messages
    assert editor.versions[uri] == 2 and len(editor.applied) >= 1
    new_text = editor.texts[uri]
    assert result["compressedText"] in new_text
    assert new_text.startswith(text[:start]) and new_text.endswith(text[end:])
    inserted = editor.client.protocol._converter.structure(result["insertedRange"], types.Range)
    assert new_text[slice(*editor.offsets(uri, inserted))] == result["compressedText"]

    # hovering the compressed paragraph tells what it came from
    hover = await editor.hover(uri, start + 2)
    assert hover is not None
    value = hover.contents.value  # type: ignore[union-attr]
    assert f"This paragraph is a compression's output: {result['ratio']:.2f}x" in value


async def test_preview_and_keep_probabilities_leave_the_document_alone(editor: Editor) -> None:
    path = copy_prompt("awesome-copilot/create-technical-spike.prompt.md", _prompts(editor))
    uri = editor.open(path)
    text = editor.texts[uri]
    start = text.index("Create time-boxed technical spike documents for researching critical")
    end = text.index("\n\n", start)  # exactly one paragraph
    args = {"uri": uri, "range": _json_range(editor, uri, start, end), "rate": 0.5}
    preview = await editor.command("lingua.preview", args)
    assert preview["originalText"] == text[start:end]
    asked = 0.5 * preview["originTokens"]
    assert abs(preview["compressedTokens"] - asked) <= BUDGET_TOLERANCE * asked + 1
    assert _cores(preview["compressedText"]) <= _cores(text[start:end])  # whole words only, no fragments
    assert preview["uri"] == uri and preview["range"] == args["range"] and preview["version"] == 1

    # a hover on that paragraph now shows the real ratio of its compression
    hover = await editor.hover(uri, start + 5)
    assert hover is not None
    assert f"Last compression of this paragraph: {preview['ratio']:.2f}x" in hover.contents.value  # type: ignore[union-attr]

    end = start + 700
    args = {"uri": uri, "range": _json_range(editor, uri, start, end), "rate": 0.5}

    heat = await editor.command("lingua.keepProbabilities", args)
    assert heat["uri"] == uri and heat["version"] == 1
    words = heat["words"]
    assert len(words) > 50
    for word in words:
        a, b = editor.offsets(uri, types.Range(**_ranges(word["range"])))
        assert start <= a < b <= end
        assert text[a:b].strip() == text[a:b]  # each range is exactly one word
        assert 0.0 <= word["probability"] <= 1.0
    assert any(w["kept"] for w in words) and not all(w["kept"] for w in words)
    # the words the heat view leaves unstruck are exactly what the same compression keeps
    same = await editor.command("lingua.preview", args)
    kept_text = "".join(
        text[slice(*editor.offsets(uri, types.Range(**_ranges(w["range"]))))] for w in words if w["kept"]
    )
    assert kept_text == "".join(same["compressedText"].split())
    assert editor.texts[uri] == text and editor.versions[uri] == 1


def _cores(text: str) -> set[str]:
    """The words of ``text`` without the punctuation at their ends."""
    return {re.sub(r"^\W+|\W+$", "", word) for word in text.split()} - {""}


def _open_copy(editor: Editor, name: str) -> tuple[str, str, int]:
    """Open a copy of a shared prompt; its uri, text, and the progress tokens seen so far."""
    uri = editor.open(copy_prompt(name, _prompts(editor)))
    return uri, editor.texts[uri], len(editor.client.progress_reports)


async def _under_way(editor: Editor, before: int, reported: bool = False) -> None:
    """Wait until a job started after ``before`` progress tokens shows progress (with
    ``reported``, a report inside it: the model is compressing, not just queued)."""
    for _ in range(400):
        tokens = list(editor.client.progress_reports.values())[before:]
        if tokens and (not reported or any(isinstance(r, types.WorkDoneProgressReport) for r in tokens[0])):
            return
        await asyncio.sleep(0.05)
    pytest.fail("the compression never reported progress")


async def _progress_ends_cancelled(editor: Editor, before: int) -> None:
    """The worker notices a cancel between two model windows and ends the job's progress."""
    token_reports = list(editor.client.progress_reports.values())[before]
    for _ in range(400):
        if isinstance(token_reports[-1], types.WorkDoneProgressEnd):
            break
        await asyncio.sleep(0.05)
    assert isinstance(token_reports[-1], types.WorkDoneProgressEnd)
    assert token_reports[-1].message == "Cancelled"


def _ranges(raw: dict[str, Any]) -> dict[str, types.Position]:
    return {key: types.Position(**raw[key]) for key in ("start", "end")}


async def test_cancel_request_stops_the_model(editor: Editor) -> None:
    uri, text, before = _open_copy(editor, "awesome-copilot/write-coding-standards-from-file.prompt.md")
    params = types.ExecuteCommandParams(
        command="lingua.compress", arguments=[{"uri": uri, "range": _json_range(editor, uri, 0, len(text))}]
    )
    request = asyncio.ensure_future(
        editor.client.protocol.send_request_async("workspace/executeCommand", params, msg_id="cancel-me")
    )
    await _under_way(editor, before, reported=True)  # the compression itself, not just the job
    cancelled_at = time.perf_counter()
    editor.client.cancel_request(types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcException) as failure:
        await request
    assert failure.value.code == -32800
    await _progress_ends_cancelled(editor, before)
    print(f"model stopped {time.perf_counter() - cancelled_at:.2f} s after the cancel")
    assert editor.texts[uri] == text and editor.versions[uri] == 1

    # the worker is free again: a small job runs at once
    small = await editor.command("lingua.preview", {"uri": uri, "range": _json_range(editor, uri, 0, 400), "rate": 0.5})
    assert small["compressedTokens"] < small["originTokens"]


async def test_progress_cancel_button_cancels_a_resolve(editor: Editor) -> None:
    path = copy_prompt("awesome-copilot/breakdown-plan.prompt.md", _prompts(editor))
    uri = editor.open(path)
    text = editor.texts[uri]
    action = (await editor.actions(uri, 0, len(text)))[0]
    before = len(editor.client.progress_reports)
    resolving = asyncio.ensure_future(editor.client.code_action_resolve_async(action))
    token = None
    for _ in range(400):
        tokens = list(editor.client.progress_reports)[before:]
        if tokens and any(
            isinstance(r, types.WorkDoneProgressReport) for r in editor.client.progress_reports[tokens[0]]
        ):
            token = tokens[0]
            break
        await asyncio.sleep(0.05)
    assert token is not None
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(JsonRpcException) as failure:
        await asyncio.wait_for(resolving, 30)
    assert failure.value.code == -32800
    assert editor.texts[uri] == text


async def test_edit_during_compression_is_not_applied(editor: Editor) -> None:
    path = copy_prompt("awesome-copilot/mcp-create-adaptive-cards.prompt.md", _prompts(editor))
    uri = editor.open(path)
    text = editor.texts[uri]
    start = text.index("\n\n", 10) + 2
    end = start + 1200
    before = len(editor.client.progress_reports)
    running = asyncio.ensure_future(
        editor.command("lingua.compress", {"uri": uri, "range": _json_range(editor, uri, start, end), "rate": 0.5})
    )
    await _under_way(editor, before)
    editor.replace(uri, 0, 0, "Typed meanwhile. ")  # the user keeps typing
    result = await asyncio.wait_for(running, 120)
    assert result["applied"] is False
    assert "changed" in result["reason"] and "nothing was applied" in result["reason"]
    assert editor.texts[uri] == "Typed meanwhile. " + text


async def test_counting_and_hovers_answer_while_a_compression_runs(editor: Editor) -> None:
    """The model runs on its own thread: a hover or a count must not queue behind it."""
    uri, text, before = _open_copy(editor, "awesome-copilot/write-coding-standards-from-file.prompt.md")
    params = types.ExecuteCommandParams(
        command="lingua.preview", arguments=[{"uri": uri, "range": _json_range(editor, uri, 0, len(text)), "rate": 0.3}]
    )
    running = asyncio.ensure_future(
        editor.client.protocol.send_request_async("workspace/executeCommand", params, msg_id="long-preview")
    )
    await _under_way(editor, before, reported=True)
    count = await asyncio.wait_for(editor.command("lingua.countTokens", {"uri": uri}), 10)
    hover = await asyncio.wait_for(editor.hover(uri, 5), 10)
    assert not running.done(), "the answers came only after the compression"
    assert count["tokens"] > 1000
    assert hover is not None and "tokens" in hover.contents.value  # type: ignore[union-attr]
    editor.client.cancel_request(types.CancelParams(id="long-preview"))  # its result is not what this test is about
    with pytest.raises(JsonRpcException):
        await asyncio.wait_for(running, 60)
    await _progress_ends_cancelled(editor, before)


async def test_to_fit_action_and_budget_quick_fix_hit_the_target(editor: Editor) -> None:
    path = _prompts(editor) / "budget.prompt.md"
    body = (
        "You are a support agent for {product}. Read the customer's message below and answer politely, "
        "quoting the order number {order_id} and never promising refunds you cannot give. "
    ) * 4
    path.write_text(body + "\n", encoding="utf-8")
    editor.client.set_configuration({"tokenBudget": 60}, section="lingua")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    uri = editor.open(path)
    diagnostics = await editor.diagnostics_for(uri, count=1)
    fix = (await editor.actions(uri, 0, 0, diagnostics))[0]
    assert fix.title == "Compress to fit the budget"
    resolved = await editor.client.code_action_resolve_async(fix)
    assert editor.apply(resolved.edit) == (True, None)  # type: ignore[arg-type]
    assert "{product}" in editor.texts[uri] and "{order_id}" in editor.texts[uri]
    hover = await editor.hover(uri, 1)
    assert hover is not None
    tokens = hover_rows(hover.contents.value)["File"][0]  # type: ignore[union-attr]
    assert tokens <= 60
    assert await editor.diagnostics_for(uri, count=0) == []
    editor.client.set_configuration({}, section="lingua")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))


async def test_the_budget_quick_fix_argument_previews_without_editing(editor: Editor) -> None:
    """What the client's preview sends for the quick fix (its argument, with the version):
    the whole file compressed to the target, nothing applied, the version it belongs to."""
    path = _prompts(editor) / "whole.prompt.md"
    body = "Answer the customer about order {order_id} politely, and never promise a refund. " * 6
    path.write_text(body + "\n", encoding="utf-8")
    editor.client.set_configuration({"tokenBudget": 50}, section="lingua")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    try:
        uri = editor.open(path)
        (fix,) = await editor.actions(uri, 0, 0, await editor.diagnostics_for(uri, count=1))
        applied_before = len(editor.applied)
        preview = await editor.command("lingua.preview", fix.data)
        assert preview["version"] == fix.data["version"] == editor.versions[uri]  # type: ignore[index]
        assert preview["originalText"] == editor.texts[uri] == body + "\n"
        assert preview["compressedTokens"] <= 50 < preview["originTokens"]
        assert "{order_id}" in preview["compressedText"] and preview["loadSeconds"] == 0
        assert len(editor.applied) == applied_before and editor.versions[uri] == 1
    finally:
        editor.client.set_configuration({}, section="lingua")
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))


async def test_restart_model(editor: Editor) -> None:
    seen = len(editor.statuses)
    assert await editor.command("lingua.restartModel", {}) == {"restarted": True}
    assert [s["state"] for s in editor.statuses[seen:]][-2:] == ["loading", "ready"]


async def test_neovim_without_document_changes_gets_plain_changes(tmp_path: Path) -> None:
    """Neovim 0.7 announces no documentChanges: the edit comes as ``changes``, checked by version on our side."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    path = copy_prompt("prompty/shakespeare.prompty", folder)
    async with session("neovim@v0.7.0", root=tmp_path) as nvim:
        uri = nvim.open(path)
        text = nvim.texts[uri]
        start = text.index("system:")
        action = (await nvim.actions(uri, start, len(text)))[0]
        resolved = await nvim.client.code_action_resolve_async(action)
        assert resolved.edit is not None and resolved.edit.document_changes is None
        assert resolved.command is None  # no client command declared: the edit alone
        assert list(resolved.edit.changes) == [uri]
        assert nvim.apply(resolved.edit) == (True, None)
        assert len(nvim.texts[uri]) < len(text)
        assert "{{" in text[start:] and all(p in nvim.texts[uri] for p in PLACEHOLDER_RE.findall(text[start:]))


async def test_rank_method_setting_reaches_the_engine(editor: Editor) -> None:
    """With ``lingua.method`` longllmlingua a selection ending in a question runs question-aware;
    ``lingua.rankMethod`` picks its ranking, and the ranking changes what is kept."""
    from tests.core.test_ranking import _incidents

    reports, _ = _incidents()
    question = "On which date was the power adapter of ticket SM-8517 replaced?"
    text = "\n\n".join(reports) + "\n\n" + question
    path = _prompts(editor) / "incidents.prompt.md"
    path.write_text(text, encoding="utf-8")
    uri = editor.open(path)
    previews = {}
    for method in ("bm25", "embedding"):
        before = len(editor.publications)
        editor.client.set_configuration({"method": "longllmlingua", "rankMethod": method}, section="lingua")
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(200):  # new settings re-diagnose every open document: then they are in force
            if any(p.uri == uri for p in editor.publications[before:]):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the new settings never took effect")
        preview = await editor.command(
            "lingua.preview", {"uri": uri, "range": _json_range(editor, uri, 0, len(text)), "rate": 0.3}
        )
        assert preview["method"] == "longllmlingua"
        assert preview["compressedText"].endswith(question)  # the question is kept whole
        previews[method] = preview["compressedText"]
    assert previews["bm25"] != previews["embedding"]
    editor.client.set_configuration({}, section="lingua")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))


async def test_a_method_the_model_cannot_run_is_refused_when_set(editor: Editor) -> None:
    """LLMLingua-2 with the embedded causal LM: one warning as the setting changes, naming
    both settings, and compressions go on with "auto" instead of failing one by one."""
    path = copy_prompt("promptflow/augmented_chat.jinja2", _prompts(editor))
    uri = editor.open(path)
    text = editor.texts[uri]
    start = text.index("You are")
    end = text.index("\n\n", start)
    seen = len(editor.client.messages)
    editor.client.set_configuration({"method": "llmlingua2"}, section="lingua")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    try:
        for _ in range(200):
            if len(editor.client.messages) > seen:
                break
            await asyncio.sleep(0.05)
        warnings = [m for m in editor.client.messages[seen:] if m.type == types.MessageType.Warning]
        assert len(warnings) == 1, editor.client.messages[seen:]
        assert "lingua.method 'llmlingua2' needs a token-classification model" in warnings[0].message
        assert "lingua.model 'embedded' is a causal LM" in warnings[0].message
        result = await editor.command(
            "lingua.compress", {"uri": uri, "range": _json_range(editor, uri, start, end), "rate": 0.5}
        )
        assert result["applied"] is True and result["method"] == "llmlingua"
    finally:
        editor.client.set_configuration({}, section="lingua")
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))


async def test_a_crlf_document_gets_a_crlf_edit(editor: Editor) -> None:
    """A Windows file: the compressed selection keeps CRLF breaks, none dropped or made bare LF."""
    path = _prompts(editor) / "windows.prompt.md"
    lines = [
        "You are a travel assistant who answers questions about the weather in European cities.",
        "Please be brief and friendly, and always answer in the language of the question.",
        "When the forecast is uncertain, say so and suggest checking again the next morning.",
        "Never invent temperatures; if a city is unknown, ask the user which country it is in.",
    ]
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    uri = editor.open(path)
    text = editor.texts[uri]
    assert text.count("\r\n") == 4
    result = await editor.command(
        "lingua.compress", {"uri": uri, "range": _json_range(editor, uri, 0, len(text) - 2), "rate": 0.5}
    )
    assert result["applied"] is True
    out = result["compressedText"]
    assert out.count("\r\n") == 3 and "\n" not in out.replace("\r\n", ""), repr(out)
    assert editor.texts[uri] == out + "\r\n"
