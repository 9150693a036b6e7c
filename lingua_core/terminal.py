"""What the command line shows on stderr besides its own messages: one progress bar shape for
every long command, and the libraries' bars and warnings kept out of the way.

Scripts, pipes and CI read stderr as messages, so a bar is drawn only on a terminal, and a
library's "Loading weights" bar or deprecation notice only with ``--verbose``: users asked
for the prompt, not for the state of the libraries underneath. Kept apart from the commands
so that compressing, distilling and training draw the same bar, and free of torch.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any


def stderr_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def configure_output(quiet: bool = False, verbose: bool = False) -> None:
    """Set before any library is imported: transformers reads these when it loads."""
    if verbose:
        return
    if quiet or not stderr_is_terminal():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' loading bars
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # its fork warning otherwise
    warnings.simplefilter("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)


class TerminalBar:
    """A progress bar on stderr, made on the first update (so a quick job draws nothing) and
    only when stderr is a terminal and the user did not turn bars off."""

    def __init__(self, desc: str, unit: str, enabled: bool = True, initial: int = 0) -> None:
        self.desc, self.unit, self.initial = desc, unit, initial
        self.enabled = enabled and stderr_is_terminal()
        self.bar: Any = None

    def __call__(self, done: int, total: int | None, **postfix: str) -> None:
        """``total`` None: not known (a streamed corpus), the bar counts and shows a rate."""
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=self.initial,
                desc=self.desc,
                unit=self.unit,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )
        self.bar.total = total
        self.bar.n = done
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()

    def write(self, message: str) -> None:
        """A line above the bar (or just a line on stderr without one)."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def show_progress(args: Any) -> bool:
    """A command's bar, unless ``--no-progress`` or ``--quiet`` said no."""
    return not getattr(args, "no_progress", False) and not getattr(args, "quiet", False)
