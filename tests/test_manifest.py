"""One setting, one truth: the extension's manifest, the server's settings, the engine's enums
and the command line must name the same settings, defaults and choices.

A setting lives in ``package.json`` (what VS Code shows), ``server/settings.py`` (what the
server accepts), ``docs/protocol.md`` and the TypeScript client (checked by the extension's
own unit test). The lists of methods, rank methods and protected kinds come from the engine;
everything else must agree with it, and this test says which file disagrees.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from lingua_core.cli.main import build_parser
from lingua_core.methods.base import Method
from lingua_core.protect import PROTECTION_KINDS
from lingua_core.relevance import RankMethod
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def manifest_settings() -> dict[str, dict[str, Any]]:
    configuration = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["contributes"]["configuration"]
    sections = configuration if isinstance(configuration, list) else [configuration]
    found: dict[str, dict[str, Any]] = {}
    for section in sections:
        for key, schema in section["properties"].items():
            found[key.removeprefix("lingua.")] = schema
    return found


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


SERVER_FIELDS = {camel(f.name): f for f in fields(Settings) if f.compare}


def test_the_manifest_and_the_server_name_the_same_settings() -> None:
    assert set(manifest_settings()) == set(SERVER_FIELDS)


@pytest.mark.parametrize("key", sorted(SERVER_FIELDS))
def test_defaults_agree(key: str) -> None:
    default = manifest_settings()[key]["default"]
    server_default = getattr(Settings(), SERVER_FIELDS[key].name)
    assert (tuple(default) if isinstance(default, list) else default) == server_default


ENGINE_CHOICES = {
    "method": {m.value for m in Method},
    "rankMethod": {m.value for m in RankMethod},
    "unprotect": set(PROTECTION_KINDS),
}


@pytest.mark.parametrize("key", sorted(ENGINE_CHOICES))
def test_the_manifest_offers_the_engines_choices(key: str) -> None:
    schema = manifest_settings()[key]
    offered = schema.get("enum") or schema["items"]["enum"]
    assert set(offered) == ENGINE_CHOICES[key]
    descriptions = schema.get("enumDescriptions")
    if descriptions is not None:
        assert len(descriptions) == len(offered)


def _choices(command: str, flag: str) -> set[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    sub = commands.choices[command]  # type: ignore[index]
    action = next(a for a in sub._actions if flag in a.option_strings)
    return set(action.choices or ())


@pytest.mark.parametrize(
    ("flag", "key"), [("--method", "method"), ("--rank-method", "rankMethod"), ("--no-protect", "unprotect")]
)
def test_the_command_line_offers_the_engines_choices(flag: str, key: str) -> None:
    assert _choices("compress", flag) == ENGINE_CHOICES[key]


@pytest.mark.parametrize("key", sorted(SERVER_FIELDS))
def test_the_protocol_document_names_every_setting(key: str) -> None:
    assert f"`{key}`" in (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def _pyproject() -> dict[str, Any]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_installed_and_none_is_called_server() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    folders = {str(p.parent.relative_to(ROOT)).replace("/", ".") for p in (ROOT / "lingua_core").rglob("__init__.py")}
    listed = set(setuptools["packages"])
    assert folders <= listed
    assert "server" not in listed and not any(name.startswith("server.") for name in listed)
    assert setuptools["package-dir"]["lingua_server"] == "server"
    scripts = _pyproject()["project"]["scripts"]
    assert scripts["lingua-server"].startswith("lingua_server.")
