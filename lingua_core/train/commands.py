"""Registers the training subcommands on ``lingua``.

Each ``cli_*`` module only builds its parser and names a handler; the handler imports the
heavy training code itself, so ``lingua compress`` never pays for torch training imports.
A handler returns a JSON-able dict that ``lingua`` prints (``--json``) or summarises.
"""

from __future__ import annotations

import argparse
from typing import Any

from lingua_core.train import cli_align, cli_classifier, cli_distill


def add_train_commands(commands: Any) -> None:
    """``commands`` is the ``add_subparsers`` result of the ``lingua`` parser."""
    for module in (cli_distill, cli_classifier, cli_align):
        module.add_parsers(commands)


def with_json_flag(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    return parser
