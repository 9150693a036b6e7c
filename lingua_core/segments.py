"""User-marked segments of a prompt: ``<llmlingua rate=0.3 compress=false>...</llmlingua>``.

Users mark the parts of a prompt that need their own compression rate, or none at all
(a JSON skeleton, an answer format). Two spellings are accepted so that prompts written
for the reference LLMLingua package keep working:

* ours: ``<llmlingua rate=0.3 compress=false>`` (space separated, quotes optional,
  ``compress`` one of ``true/false/True/False/1/0``);
* the reference's: ``<llmlingua, rate=0.3, compress=False>`` (comma separated).

Semantics follow the reference implementation: ``compress=false`` means "keep verbatim",
which is the same as ``rate=1.0``; a rate of exactly 1.0 likewise turns compression off,
and when both are given, ``compress=false`` wins over the rate. Mistakes are reported
as :class:`~lingua_core.errors.InputError` with a ``line:col`` position, because a
silently ignored directive would compress text the user asked to keep.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from lingua_core.errors import InputError

__all__ = [
    "Segment",
    "find_segment_tags",
    "parse_segments",
    "strip_segment_tags",
]

# Where a tag *starts*: used to notice tags we cannot read (e.g. a missing ``>``) instead of
# treating them as prose. The name must end there: ``<llmlingua_x>`` is someone else's tag.
_TAG_START_RE = re.compile(r"</?llmlingua(?![\w-])", re.IGNORECASE)
# A whole tag. Attributes cannot contain ``<`` or ``>``; the length bound keeps a stray
# ``<llmlingua`` from making the scan quadratic on long texts.
_TAG_RE = re.compile(r"<(?P<close>/)?llmlingua(?![\w-])(?P<attrs>[^<>]{0,500})>", re.IGNORECASE)
_ATTR_RE = re.compile(r"""[\s,]*(?P<name>[A-Za-z_][\w-]*)\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s,"'<>]+)""")
_SEPARATORS = " \t\r\n,"
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


@dataclass(frozen=True)
class Segment:
    """A run of prompt text with its own compression settings.

    ``start``/``end`` delimit the content in the original text (tags excluded), so that
    callers can map results back onto the user's document. ``rate=None`` means "use the
    global rate"; ``compress=False`` always comes with ``rate=1.0``.
    """

    start: int
    end: int
    rate: float | None
    compress: bool

    def effective_rate(self, default: float) -> float:
        """The rate to apply, given the call's global rate (1.0 when compression is off)."""
        if not self.compress:
            return 1.0
        return default if self.rate is None else self.rate


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{col}"


def find_segment_tags(text: str) -> list[tuple[int, int]]:
    """Char ranges of every well-formed ``<llmlingua ...>`` / ``</llmlingua>`` tag.

    Lenient on purpose (no balance or attribute checks): the protector and
    :func:`strip_segment_tags` must work on text whose directives are still being typed.
    """
    return [(m.start(), m.end()) for m in _TAG_RE.finditer(text)]


def strip_segment_tags(text: str) -> str:
    """The text with the segment tags removed and their content kept.

    Does not validate the tags, so it never fails on a prompt that is half edited.
    """
    return _TAG_RE.sub("", text)


def _parse_bool(value: str, text: str, pos: int) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InputError(
        f"<llmlingua> at {_line_col(text, pos)}: compress={value!r} is not a boolean; "
        "use compress=true or compress=false"
    )


def _parse_rate(value: str, text: str, pos: int) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise InputError(
            f"<llmlingua> at {_line_col(text, pos)}: rate={value!r} is not a number; use a fraction such as rate=0.3"
        ) from None
    if math.isnan(rate) or not 0.0 < rate <= 1.0:
        raise InputError(
            f"<llmlingua> at {_line_col(text, pos)}: rate={value} is outside (0, 1]; "
            "the rate is the fraction of tokens to keep, e.g. rate=0.3"
        )
    return rate


def _parse_attrs(text: str, attrs_start: int, attrs_end: int) -> tuple[float | None, bool]:
    """Read ``rate``/``compress`` from a tag's attribute text; reject anything else.

    Unknown names are errors rather than ignored, because a typo such as ``ratio=0.3``
    would otherwise silently compress at the global rate.
    """
    rate: float | None = None
    compress: bool | None = None
    seen: set[str] = set()
    pos = attrs_start
    while True:
        while pos < attrs_end and text[pos] in _SEPARATORS:
            pos += 1
        if pos >= attrs_end:
            break
        m = _ATTR_RE.match(text, pos, attrs_end)
        if m is None:
            raise InputError(
                f"<llmlingua> at {_line_col(text, pos)}: cannot read the attributes "
                f"{text[pos:attrs_end].strip()!r}; write them as rate=0.3 compress=false"
            )
        name = m.group("name").lower()
        value = m.group("value")
        if value[:1] in "\"'":
            value = value[1:-1].strip()
        name_pos = m.start("name")
        if name in seen:
            raise InputError(f"<llmlingua> at {_line_col(text, name_pos)}: {name} is given twice")
        seen.add(name)
        if name == "rate":
            rate = _parse_rate(value, text, name_pos)
        elif name == "compress":
            compress = _parse_bool(value, text, name_pos)
        else:
            raise InputError(
                f"<llmlingua> at {_line_col(text, name_pos)}: unknown attribute "
                f"{m.group('name')!r}; only rate and compress are understood"
            )
        pos = m.end()
    # Reference semantics: compress=False forces rate 1.0, and rate 1.0 means no compression.
    if compress is False or rate == 1.0:
        return 1.0, False
    return rate, True


def parse_segments(text: str) -> list[Segment]:
    """Split the prompt into segments that together cover all non-tag text, in order.

    Text outside any tag is a segment with the global rate (``rate=None``). Empty
    segments (e.g. between two adjacent tags) are left out, since there is nothing in
    them to compress. Raises InputError for nesting, unbalanced or unreadable tags.
    """
    segments: list[Segment] = []
    open_tag: tuple[int, float | None, bool] | None = None  # (tag start, rate, compress)
    content_start = 0
    pos = 0

    def emit(end: int, rate: float | None, compress: bool) -> None:
        if end > content_start:
            segments.append(Segment(content_start, end, rate, compress))

    while True:
        start_match = _TAG_START_RE.search(text, pos)
        if start_match is None:
            break
        tag_start = start_match.start()
        tag = _TAG_RE.match(text, tag_start)
        if tag is None:
            raise InputError(f"unterminated <llmlingua> tag at {_line_col(text, tag_start)}: expected '>' to close it")
        if tag.group("close"):
            if tag.group("attrs").strip():
                raise InputError(f"closing </llmlingua> at {_line_col(text, tag_start)} cannot have attributes")
            if open_tag is None:
                raise InputError(f"</llmlingua> at {_line_col(text, tag_start)} has no matching <llmlingua>")
            emit(tag_start, open_tag[1], open_tag[2])
            open_tag = None
        else:
            if open_tag is not None:
                raise InputError(
                    f"<llmlingua> at {_line_col(text, tag_start)} is nested inside the one "
                    f"opened at {_line_col(text, open_tag[0])}; close that one first"
                )
            rate, compress = _parse_attrs(text, tag.start("attrs"), tag.end("attrs"))
            emit(tag_start, None, True)
            open_tag = (tag_start, rate, compress)
        content_start = pos = tag.end()

    if open_tag is not None:
        raise InputError(f"<llmlingua> opened at {_line_col(text, open_tag[0])} is never closed; add </llmlingua>")
    emit(len(text), None, True)
    return segments
