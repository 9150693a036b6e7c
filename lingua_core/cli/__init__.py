"""The ``lingua`` command line (``lingua_core.cli.main``), one layer above the engine and ``train``."""

from lingua_core.cli.main import main, run

__all__ = ["main", "run"]
