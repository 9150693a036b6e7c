"""The training commands on ``lingua``: ``distill``, ``label``, ``respond``, ``train-classifier``, ``align``.

Each ``train.cli_*`` module only builds its parsers and names a handler; the handler imports
the heavy training code itself, so registering them costs nothing. The engine never imports
these: the command line sits above both.
"""

from __future__ import annotations

from typing import Any

from lingua_core.train import cli_align, cli_classifier, cli_distill


def add_parsers(commands: Any) -> None:
    """``commands`` is the ``add_subparsers`` result of the ``lingua`` parser."""
    for module in (cli_distill, cli_classifier, cli_align):
        module.add_parsers(commands)
