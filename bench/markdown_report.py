"""What every benchmark's Markdown report is made of besides its own numbers: the table, and the
line saying when and on what machine it ran.

Apart from any one benchmark so that one can use them without importing another's models and data.
"""

from __future__ import annotations

import datetime
import os
import platform
from typing import Any


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def machine() -> str:
    import torch

    return (
        f"{datetime.datetime.now().astimezone().isoformat(timespec='seconds')}; {platform.platform()}; "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} on {torch.get_num_threads()} threads"
    )
