"""How many tokens of a range no compression would drop, for the hover's "saved" figures,
without ever making a hover wait long for it on a big document.

Finding protected text runs a dozen regexes over the range and counts what they match: about
1.5 s per megabyte. A hover must answer in milliseconds, and every edit makes a new version.
So small ranges are done on the spot, whole. A big one is cut into units (the paragraphs that
token counting caches by, never cut inside a code fence or front matter, whose protection
spans paragraphs) whose figures are cached by their text: after an edit only the edited unit
is done again. Summing units can differ from the whole range's figure where a protected span
crosses a blank line outside a fence (a JSON block with empty lines, say); on a document of
that size the hover's savings are a projection anyway. The first pass over a big document
runs on a thread of its own, only for the version still open when the thread gets to it;
meanwhile the hover shows the previous version's figure, or none the first time.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from lingua_core.projection import protected_tokens

from .counting import chunk_bounds
from .settings import Settings, protect_options

if TYPE_CHECKING:
    from .documents import Document

log = logging.getLogger(__name__)

IsCurrent = Callable[["Document"], bool]  # whether a document version is still the open one

INLINE_CHARS = 65_536  # about 0.1 s of protection: done while the hover waits
WAIT_SECONDS = 0.05  # a hover waits this long for a running count before showing the last one
CACHE_CHARS = 16_000_000
_FENCE_RE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n.*?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)


class ProtectedCounts:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lingua-protect")
        # Last figure per (uri, which range, settings): shown while a newer version is counted.
        self._last: dict[tuple[str, str, str], int] = {}
        self._units: OrderedDict[tuple[str, str], int] = OrderedDict()  # (options, unit text) -> tokens
        self._unit_chars = 0
        self._lock = threading.Lock()

    async def get(
        self, document: Document, start: int, end: int, settings: Settings, is_current: IsCurrent, which: str
    ) -> int | None:
        """Protected tokens of ``document.text[start:end]``; None while unknown (first count of a
        big range still running). ``which`` names the range across versions ("file", "section")."""
        options = repr((settings.encoding, settings.keep_code_blocks, settings.preserve, settings.unprotect))
        memo = document.memo("protected")
        key = repr((start, end, options))
        found = memo.get(key)
        if found is None:
            if end - start <= INLINE_CHARS:
                found = memo[key] = _count(document.text[start:end], settings)
            else:
                count = self._count_if_current
                found = memo[key] = self._executor.submit(count, document, start, end, settings, options, is_current)
        last_key = (document.uri, which, options)
        if isinstance(found, int):
            self._last[last_key] = found
            return found
        assert isinstance(found, Future)
        try:
            value = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(found)), WAIT_SECONDS)
        except TimeoutError:
            return self._last.get(last_key)
        except Exception:
            log.exception("counting protected tokens failed")
            memo.pop(key, None)
            return self._last.get(last_key)
        if value is None:  # skipped: a newer version came first
            memo.pop(key, None)
            return self._last.get(last_key)
        memo[key] = value
        self._last[last_key] = value
        return int(value)

    def _count_if_current(
        self, document: Document, start: int, end: int, settings: Settings, options: str, is_current: IsCurrent
    ) -> int | None:
        if not is_current(document):
            return None
        return self._count_by_units(document.text[start:end], settings, options)

    def _count_by_units(self, text: str, settings: Settings, options: str) -> int:
        """``options``: the settings as ``get`` keys them, also the unit cache's key."""
        total = 0
        for unit in units(text):
            key = (options, unit)
            with self._lock:
                found = self._units.get(key)
                if found is not None:
                    self._units.move_to_end(key)
            if found is None:
                found = _count(unit, settings)
                with self._lock:
                    self._units[key] = found
                    self._unit_chars += len(unit)
                    while self._unit_chars > CACHE_CHARS and self._units:
                        (_, old), _ = self._units.popitem(last=False)
                        self._unit_chars -= len(old)
            total += found
        return total

    def forget(self, uri: str) -> None:
        for key in [key for key in self._last if key[0] == uri]:
            del self._last[key]

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def units(text: str) -> list[str]:
    """Paragraph-sized pieces of ``text`` in order, none cut inside a fence or front matter."""
    closed: list[tuple[int, int]] = []  # spans no cut may fall inside
    front = _FRONT_MATTER_RE.match(text)
    if front:
        closed.append((0, front.end()))
    fences = [m.start() for m in _FENCE_RE.finditer(text)]
    closed.extend((fences[i], fences[i + 1] if i + 1 < len(fences) else len(text)) for i in range(0, len(fences), 2))
    starts = [a for a, _ in closed]  # sorted and disjoint: front matter, then fences in order

    def inside(bound: int) -> bool:
        at = bisect.bisect_left(starts, bound) - 1
        return at >= 0 and bound < closed[at][1]

    bounds = [b for b in chunk_bounds(text) if not inside(b)]
    if bounds[-1] != len(text):
        bounds.append(len(text))
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _count(text: str, settings: Settings) -> int:
    protect = protect_options(settings.keep_code_blocks, settings.preserve, settings.unprotect)
    return protected_tokens(text, protect, settings.encoding)
