"""How long-running work talks back to its caller: progress callbacks and cancellation.

Kept apart from the methods so that modules needing only these names (the LLMLingua-2 word
code, the training tools) do not import torch with them.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]  # (done, total)


class CompressionCancelled(Exception):
    """Raised between windows when the caller cancelled (the editor's Cancel button)."""
