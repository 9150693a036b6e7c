"""End to end without the model: hovers, diagnostics, actions listed, settings, positions, failures."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from lingua_core.budget import BUDGET_TOLERANCE
from server.diagnostics import DEBOUNCE_SECONDS
from tests.server.conftest import CLIENTS, copy_prompt, hover_rows, lingua_count, session


@pytest.mark.parametrize("capabilities", CLIENTS)
async def test_hover_numbers_equal_lingua_count(capabilities: str, prompts_dir: Path, tmp_path: Path) -> None:
    path = copy_prompt("prompty/chat-agent.prompty", prompts_dir)
    text = path.read_text(encoding="utf-8")
    async with session(capabilities, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        at = text.index("{{question}}") + 3
        hover = await editor.hover(uri, at)
        assert hover is not None
        assert isinstance(hover.contents, types.MarkupContent)
        value = hover.contents.value
        rows = hover_rows(value)
        whole = lingua_count(text, tmp_path)
        assert rows["File"][0] == whole["tokens"]
        assert rows["File"][1] == pytest.approx(whole["cost_usd"], rel=0.01, abs=1e-6)
        # the section is the `user:` role block, from its marker to the end of the file
        section_text = text[text.index("user:") :]
        section = lingua_count(section_text, tmp_path)
        assert rows["Role `user:`"][0] == section["tokens"]
        assert hover.range is not None
        assert editor.offsets(uri, hover.range) == (text.index("user:"), len(text))
        assert "gpt-4o" in value and "o200k_base" in value
        # projected savings at the default rate 0.33: tokens and cost per call and per 1,000 calls
        assert "saved at 3.0x" in value


async def test_hover_markdown_heading_section(prompts_dir: Path, tmp_path: Path) -> None:
    path = copy_prompt("awesome-copilot/breakdown-plan.prompt.md", prompts_dir.parent)  # *.prompt.md anywhere
    text = path.read_text(encoding="utf-8")
    async with session(root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        heading = text.index("### Agile Work Item Hierarchy")
        hover = await editor.hover(uri, heading + 200)
        assert hover is not None and hover.range is not None
        start, end = editor.offsets(uri, hover.range)
        assert start == heading
        assert text[end:].startswith("###")  # the next heading of the same level ends it
        rows = hover_rows(hover.contents.value)  # type: ignore[union-attr]
        assert rows["Section Agile Work Item Hierarchy"][0] == lingua_count(text[start:end], tmp_path)["tokens"]


async def test_no_hover_outside_prompt_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Not a prompt\n\nJust notes.\n", encoding="utf-8")
    async with session(root=tmp_path) as editor:
        uri = editor.open(path)
        assert await editor.hover(uri, 3) is None


@pytest.mark.parametrize("capabilities", CLIENTS)
async def test_positions_with_emoji_cjk_and_crlf(capabilities: str, prompts_dir: Path, tmp_path: Path) -> None:
    text = (
        "system:\r\nYou are 🤖 a helpful assistant 😀😀 who answers in 中文 and English.\r\n\r\n"
        "user:\r\n请总结 😀 this text: {{text}} 🎉 then stop.\r\n"
    )
    path = prompts_dir / "mixed.prompt"
    path.write_bytes(text.encode("utf-8"))
    async with session(capabilities, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        at = text.index("{{text}}")
        hover = await editor.hover(uri, at)
        assert hover is not None and hover.range is not None
        assert editor.offsets(uri, hover.range) == (text.index("user:"), len(text))
        rows = hover_rows(hover.contents.value)  # type: ignore[union-attr]
        assert rows["Role `user:`"][0] == lingua_count(text[text.index("user:") :], tmp_path)["tokens"]

        # an incremental edit right after the emoji lands where the client meant it
        after_emoji = text.index("😀 this") + 1
        editor.replace(uri, after_emoji, after_emoji, " 好")
        hover = await editor.hover(uri, editor.texts[uri].index("{{text}}"))
        assert hover is not None and hover.range is not None
        new_text = editor.texts[uri]
        assert editor.offsets(uri, hover.range) == (new_text.index("user:"), len(new_text))
        assert hover_rows(hover.contents.value)["File"][0] == lingua_count(new_text, tmp_path)["tokens"]  # type: ignore[union-attr]

        # a selection between the emoji and the CJK text: actions carry exactly that range back
        start, end = text.index("🤖"), text.index("中文") + 2
        found = await editor.actions(uri, start, end)
        assert [a.title for a in found][:3] == [
            "Compress selection 2x",
            "Compress selection 3x",
            "Compress selection 5x",
        ]
        data = found[0].data
        assert data["range"] == editor.client.protocol._converter.unstructure(editor.range(uri, start, end))


async def test_diagnostics_open_change_close(prompts_dir: Path) -> None:
    path = prompts_dir / "long.prompt.md"
    paragraph = "Summarise the quarterly report for the board, with risks and next steps. " * 20 + "\n\n"
    path.write_text("\n" + paragraph * 3, encoding="utf-8")
    settings = {"tokenBudget": 500, "targetModel": "gpt-4"}  # gpt-4: an 8,192-token window
    async with session(settings=settings, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        found = await editor.diagnostics_for(uri)
        assert len(found) == 1
        diagnostic = found[0]
        assert diagnostic.code == "over-budget" and diagnostic.source == "lingua"
        assert diagnostic.severity == types.DiagnosticSeverity.Warning
        assert diagnostic.data["budget"] == 500 and diagnostic.data["tokens"] > 500
        text = editor.texts[uri]
        # one file-level problem: shown on the first line with text, not over every line
        assert editor.offsets(uri, diagnostic.range) == (1, 1 + len(paragraph.splitlines()[0].rstrip()))

        # the quick fix is offered on it, without running anything, and rewrites the whole file
        fixes = await editor.actions(uri, 1, 1, [diagnostic])
        assert [a.title for a in fixes] == ["Compress to fit the budget"]
        assert fixes[0].kind == types.CodeActionKind.QuickFix
        assert fixes[0].data["targetTokens"] == 500 and fixes[0].edit is None
        whole = editor.client.protocol._converter.unstructure(editor.range(uri, 0, len(text)))
        assert fixes[0].data["range"] == whole

        # grow past the context window: debounced, then a warning and an error
        editor.replace(uri, len(text), len(text), paragraph * 120)
        found = await editor.diagnostics_for(uri, count=2)
        assert {d.code for d in found} == {"over-budget", "over-context-window"}

        # shrink under the budget: cleared
        editor.replace(uri, 0, len(editor.texts[uri]), "Short prompt.\n")
        assert await editor.diagnostics_for(uri, count=0) == []

        editor.replace(uri, 0, len(editor.texts[uri]), paragraph * 3)
        assert len(await editor.diagnostics_for(uri, count=1)) == 1
        editor.close(uri)
        assert await editor.diagnostics_for(uri, count=0) == []


async def test_diagnostics_are_debounced(prompts_dir: Path) -> None:
    path = prompts_dir / "typing.prompt"
    path.write_text("Hello.\n", encoding="utf-8")
    async with session(settings={"tokenBudget": 5}, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        await editor.diagnostics_for(uri)
        before = len(editor.publications)
        for i in range(10):  # ten keystrokes faster than the debounce: one publication, for the last
            editor.replace(uri, len(editor.texts[uri]), len(editor.texts[uri]), f" word{i}")
        final = editor.versions[uri]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not any(p.version == final for p in editor.publications[before:]) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(2 * DEBOUNCE_SECONDS)  # room for a wrong, late second publication
        published = [p for p in editor.publications[before:] if p.uri == uri]
        assert [p.version for p in published] == [final]


async def test_settings_change_updates_hover_and_diagnostics(prompts_dir: Path, tmp_path: Path) -> None:
    path = copy_prompt("promptflow/augmented_chat.jinja2", prompts_dir)
    text = path.read_text(encoding="utf-8")
    configuration = {"tokenBudget": 100000, "targetModel": "gpt-4o"}
    async with session(configuration=configuration, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        assert await editor.diagnostics_for(uri, count=0) == []
        editor.client.set_configuration(
            {"tokenBudget": 10, "targetModel": "gpt-4", "rate": 0.5, "warmUp": False}, section="lingua"
        )
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        found = await editor.diagnostics_for(uri, count=1)
        assert found[0].data["budget"] == 10
        hover = await editor.hover(uri, 5)
        assert hover is not None
        value = hover.contents.value  # type: ignore[union-attr]
        assert "gpt-4 (cl100k_base" in value and "saved at 2.0x" in value
        assert hover_rows(value)["File"][0] == lingua_count(text, tmp_path, "gpt-4")["tokens"]
        assert "estimate" not in value
        assert (await editor.command("lingua.countTokens", {"uri": uri}))["approximate"] is False
        # Claude's tokenizer does not run here: o200k_base stands in, and every count says so
        editor.client.set_configuration(
            {"tokenBudget": 10, "targetModel": "claude-sonnet-4-5", "warmUp": False}, section="lingua"
        )
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(50):
            answer = await editor.command("lingua.countTokens", {"uri": uri})
            if answer["targetModel"] == "claude-sonnet-4-5":
                break
            await asyncio.sleep(0.1)
        assert answer["approximate"] is True and answer["encoding"] == "o200k_base"
        hover = await editor.hover(uri, 5)
        assert hover is not None
        assert "Counts are an estimate: claude-sonnet-4-5's own tokenizer" in hover.contents.value  # type: ignore[union-attr]


async def test_settings_pushed_without_configuration_support(prompts_dir: Path) -> None:
    """Neovim 0.7 has no workspace/configuration: settings come in the notification."""
    path = prompts_dir / "p.prompt"
    path.write_text("A prompt of a few tokens.\n", encoding="utf-8")
    async with session("neovim@v0.7.0", root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        assert await editor.diagnostics_for(uri, count=0) == []
        settings = {"lingua": {"tokenBudget": 2, "warmUp": False}}
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
        found = await editor.diagnostics_for(uri, count=1)
        assert found[0].data["budget"] == 2


async def test_bad_settings_fall_back_with_one_message(prompts_dir: Path) -> None:
    path = prompts_dir / "p.prompt"
    path.write_text("A prompt.\n", encoding="utf-8")
    settings = {"rate": 7, "tokenBudget": "lots", "preserve": ["("], "device": "toaster", "targetModel": "gpt-99x"}
    async with session("neovim@v0.7.0", settings=settings, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        hover = await editor.hover(uri, 2)
        assert hover is not None
        value = hover.contents.value  # type: ignore[union-attr]
        assert "gpt-4o (o200k_base" in value and "saved at 3.0x" in value  # defaults
        warnings = [m for m in editor.client.messages if m.type == types.MessageType.Warning]
        assert len(warnings) == 1
        for key in ("lingua.rate", "lingua.tokenBudget", "lingua.preserve", "lingua.device", "lingua.targetModel"):
            assert key in warnings[0].message


async def test_actions_listed_without_running_the_model(prompts_dir: Path) -> None:
    path = copy_prompt("awesome-copilot/tldr-prompt.prompt.md", prompts_dir)
    text = path.read_text(encoding="utf-8")
    async with session(settings={"tokenBudget": 50}, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        start = text.index("\n\n") + 2
        end = start + 1500
        found = await editor.actions(uri, start, end)
        titles = [a.title for a in found]
        assert titles == [
            "Compress selection 2x",
            "Compress selection 3x",
            "Compress selection 5x",
            "Compress selection to fit 50 tokens",
        ]
        assert all(a.kind == types.CodeActionKind.RefactorRewrite and a.edit is None for a in found)
        assert [a.data.get("rate") for a in found[:3]] == [0.5, 0.33, 0.2]
        assert found[3].data["targetTokens"] == 50 and found[3].data["version"] == 1
        assert await editor.actions(uri, start, start) == []  # no selection, no diagnostics: nothing
        assert editor.statuses[-1]["state"] == "unloaded"  # listing never loads the model


async def test_stale_resolve_is_refused(prompts_dir: Path) -> None:
    path = prompts_dir / "p.prompt"
    text = "Please write a short friendly greeting for {name} that mentions the weather today.\n"
    path.write_text(text, encoding="utf-8")
    async with session(root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        action = (await editor.actions(uri, 0, len(text) - 1))[0]
        editor.replace(uri, 0, 0, "Hi. ")  # the user types before picking the action
        with pytest.raises(JsonRpcException, match="changed") as failure:
            await editor.client.code_action_resolve_async(action)
        assert failure.value.code == -32801
        assert editor.texts[uri].startswith("Hi. Please")
        assert editor.applied == []
        # the same through the command: refused before compressing
        with pytest.raises(JsonRpcException) as failure:
            await editor.command("lingua.compress", {**action.data, "version": 1})
        assert failure.value.code == -32801


async def test_count_tokens_command(prompts_dir: Path, tmp_path: Path) -> None:
    path = copy_prompt("prompty/basic.prompty", prompts_dir)
    text = path.read_text(encoding="utf-8")
    async with session(root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        whole = await editor.command("lingua.countTokens", {"uri": uri})
        expected = lingua_count(text, tmp_path)
        assert whole["tokens"] == expected["tokens"]
        assert whole["costUsd"] == pytest.approx(expected["cost_usd"])
        assert whole["encoding"] == "o200k_base" and whole["contextWindow"] == 128000
        assert whole["promptFile"] is True  # prompts/*.prompty by the default globs
        part = await editor.command(
            "lingua.countTokens",
            {"uri": uri, "range": editor.client.protocol._converter.unstructure(editor.range(uri, 0, 40))},
        )
        assert part["tokens"] == lingua_count(text[:40], tmp_path)["tokens"]
        free = await editor.command("lingua.countTokens", {"text": "hello world"})
        assert free["tokens"] == 2


async def test_count_tokens_if_prompt_file_answers_by_the_servers_globs(tmp_path: Path) -> None:
    """The status bar's question: the server's globs decide, relative to the workspace folder,
    and agree with its diagnostics; a document that is not a prompt file is not counted."""
    root = tmp_path / "workspace"
    (root / "agents").mkdir(parents=True)
    (tmp_path / "elsewhere" / "agents").mkdir(parents=True)
    text = "You are a careful assistant. Answer the user's question in two sentences.\n"
    prompt = root / "agents" / "a.md"
    notes = root / "notes.md"
    outside = tmp_path / "elsewhere" / "agents" / "a.md"  # matches agents/*.md only if not relative to the folder
    for path in (prompt, notes, outside):
        path.write_text(text, encoding="utf-8")
    settings = {"promptFiles": ["agents/*.md"], "tokenBudget": 1}
    async with session(settings=settings, root=root) as editor:
        uris = {path: editor.open(path) for path in (prompt, notes, outside)}
        expected = lingua_count(text, tmp_path)
        counted = await editor.command("lingua.countTokens", {"uri": uris[prompt], "ifPromptFile": True})
        assert counted["promptFile"] is True
        assert counted["tokens"] == expected["tokens"]
        assert counted["costUsd"] == pytest.approx(expected["cost_usd"])
        assert counted["encoding"] == "o200k_base" and counted["contextWindow"] == 128000
        for path in (notes, outside):
            assert await editor.command("lingua.countTokens", {"uri": uris[path], "ifPromptFile": True}) == {
                "promptFile": False
            }
            # without ifPromptFile the document is counted all the same, and still says what it is
            whole = await editor.command("lingua.countTokens", {"uri": uris[path]})
            assert (whole["promptFile"], whole["tokens"]) == (False, expected["tokens"])
        # a document the server does not have open is not a prompt file to it
        unopened = (root / "agents" / "b.md").as_uri()
        assert await editor.command("lingua.countTokens", {"uri": unopened, "ifPromptFile": True}) == {
            "promptFile": False
        }
        # the diagnostics say the same (budget 1: every prompt file is over it)
        assert [d.code for d in await editor.diagnostics_for(uris[prompt], 1)] == ["over-budget"]
        assert await editor.diagnostics_for(uris[notes], 0) == []
        assert await editor.diagnostics_for(uris[outside], 0) == []
        assert "promptFile" not in await editor.command("lingua.countTokens", {"text": "hello world"})
        for argument in ({"uri": uris[prompt], "ifPromptFile": "yes"}, {"text": "hello", "ifPromptFile": True}):
            with pytest.raises(JsonRpcException) as failure:
                await editor.command("lingua.countTokens", argument)
            assert failure.value.code == -32602


@pytest.mark.parametrize("at_fault", ["model", "device"])
async def test_failing_model_shows_one_message_and_counting_goes_on(
    prompts_dir: Path, tmp_path: Path, at_fault: str
) -> None:
    # The message names the setting to fix: a missing model folder, or a GPU this machine lacks.
    if at_fault == "device":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a CUDA GPU")
    path = prompts_dir / "p.prompt"
    text = "Translate the following sentence into French, keeping {placeholder} as is: good morning.\n"
    path.write_text(text, encoding="utf-8")
    bad = {"model": str(tmp_path / "no-such-model")} if at_fault == "model" else {"device": "cuda"}
    async with session(settings=bad, root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        for _ in range(2):
            with pytest.raises(Exception, match=r"could not (load|use)") as failure:
                await editor.command(
                    "lingua.compress", {"uri": uri, "range": _unstructured_range(editor, uri, 0, len(text) - 1)}
                )
            assert getattr(failure.value, "code", None) == -32803
        errors = [m for m in editor.client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and f"set lingua.{at_fault}" in errors[0].message, errors[0].message
        assert any(s["state"] == "failed" for s in editor.statuses)
        hover = await editor.hover(uri, 3)
        assert hover is not None
        assert hover_rows(hover.contents.value)["File"][0] == lingua_count(text, tmp_path)["tokens"]  # type: ignore[union-attr]
        # The server's log reaches the editor at each record's own level, not as stderr
        # (which VS Code tags [error] whatever the line says).
        logged = [m for m in editor.client.log_messages if "failed to load" in m.message]
        assert logged and all(m.type == types.MessageType.Warning for m in logged), editor.client.log_messages


async def test_bad_arguments_are_invalid_params(prompts_dir: Path) -> None:
    path = prompts_dir / "p.prompt"
    path.write_text("Some prompt text here.\n", encoding="utf-8")
    async with session(root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        for argument in (
            {"uri": uri},  # no range
            {"uri": uri, "range": _unstructured_range(editor, uri, 0, 4), "rate": 3},
            {"uri": "file:///not/open.prompt", "range": _unstructured_range(editor, uri, 0, 4)},
        ):
            with pytest.raises(Exception) as failure:
                await editor.command("lingua.preview", argument)
            assert getattr(failure.value, "code", None) == -32602
        # the server is still alive and well
        assert (await editor.command("lingua.countTokens", {"text": "ok"}))["tokens"] == 1


def _unstructured_range(editor: object, uri: str, start: int, end: int) -> dict[str, object]:
    return editor.client.protocol._converter.unstructure(editor.range(uri, start, end))  # type: ignore[attr-defined,no-any-return]


async def test_hover_projects_the_savings_the_engine_reaches(prompts_dir: Path, compressor) -> None:  # type: ignore[no-untyped-def]
    """A Prompty file that is mostly front matter and template fields cannot reach 3x: the
    hover's projection stops at its protected text, as the engine does."""
    path = copy_prompt("prompty/socrates.prompty", prompts_dir)
    text = path.read_text(encoding="utf-8")
    async with session(root=prompts_dir.parent) as editor:
        uri = editor.open(path)
        hover = await editor.hover(uri, 1)
    assert hover is not None
    value = hover.contents.value  # type: ignore[union-attr]
    row = re.search(r"^\| File \| ([\d,]+) \| \$[\d.]+ \| ([\d,]+) \|", value, re.MULTILINE)
    assert row is not None, value
    tokens, saved = (int(group.replace(",", "")) for group in row.groups())
    result = compressor.compress(text, rate=0.33)
    assert tokens == result.origin_tokens
    assert result.compressed_tokens > 1.2 * round(0.33 * tokens)  # the engine stops well above 3x
    projected = tokens - saved
    assert abs(projected - result.compressed_tokens) <= BUDGET_TOLERANCE * result.compressed_tokens + 2, value
    assert "protected" in value and "at most" in value
