"""The command line's own error: a flag combination argparse cannot check by itself."""

from __future__ import annotations


class UsageError(Exception):
    """Exits with argparse's usage code (2), like a flag argparse rejected."""


class ReportedError(Exception):
    """An error already worded for the user (by the warm worker): printed as it is."""
