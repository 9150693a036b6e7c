"""Facts stated in a prompt that compression must keep whole: numbers, dates, identifiers, quotes.

A small LM finds a number, a ticket ID or a date hard to predict, so perplexity-based
compression cuts it to a fragment (``SM-8501`` -> ``SM-0``, ``2.4 GHz`` -> nothing) and the
compressed prompt states a different fact. These few tokens carry most of a sentence's
meaning and cost little to keep.

Each finder yields ``(start, end)`` character spans. They are built to scan a megabyte in
a fraction of a second: numbers and identifiers are found from a cheap anchor (a digit,
an underscore, a camel hump) and extended in Python, and every regex has bounded
repetition, so no input makes them backtrack without end.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

__all__ = ["find_dates", "find_identifiers", "find_numbers", "find_quotes"]


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# --- numbers ---------------------------------------------------------------------------
# Thousands separators only in groups of three, so that "(1,3)" is two numbers and a list
# "1, 2, 3" is three; a fraction or a ratio ("3/4") and an exponent ("1e-5") belong to it.
_NUMBER_RE = re.compile(r"[0-9]+(?:,[0-9]{3})*(?![0-9])(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?(?:/[0-9]+(?:\.[0-9]+)?)?")
_CURRENCY_SYMBOLS = frozenset("$€£¥₹₩₽¢")
_SIGNS = frozenset("-+\u2212\u00b1")
# Currency codes written before the amount ("USD 100", "EUR 20").
_CURRENCY_CODE_BEFORE_RE = re.compile(r"(?:USD|EUR|GBP|JPY|CNY|INR|CHF|CAD|AUD|US\$|A\$|C\$)[ \u00a0]?\Z")
# Units written right after the number, case-sensitive because "5 m" and "5 M" differ
# and because lowercase English words ("in", "am", "a") must not count as units.
_UNIT_SYMBOLS = _words(
    """
    ns us µs μs ms sec secs min mins hr hrs h d wk yr yrs
    Hz kHz MHz GHz THz
    B KB kB MB GB TB PB KiB MiB GiB TiB Kb kb Mb Gb Tb bps kbps Kbps Mbps Gbps
    nm mm cm km ft mi yd mph kph km/h m/s
    mg kg lb lbs oz
    ml mL
    mV kV mA kW MW GW kWh MWh GWh Wh kJ kcal kPa MPa psi dB dBm rpm fps FPS
    px pt em rem vh vw dpi ppi
    k K M bn mn tn
    USD EUR GBP JPY CNY INR CHF CAD AUD BTC ETH
    x X
    """
)
# Single letters are units only when attached ("10s", "5m", "3x"): spaced, "option 2 A"
# and "step 1 s..." would swallow a word.
_ATTACHED_ONLY = frozenset("smhdgtlLVAWJNKCFBMxX")
# Unit and currency words, compared in lowercase.
_UNIT_WORDS = _words(
    """
    percent per-cent percentage pct basis
    euro euros dollar dollars cent cents pound pounds yen yuan renminbi rupee rupees franc francs
    peso pesos won rouble roubles ruble rubles krona kronor krone bitcoin bitcoins
    thousand thousands million millions billion billions trillion trillions
    token tokens byte bytes kilobyte kilobytes megabyte megabytes gigabyte gigabytes terabyte terabytes
    bit bits
    nanosecond nanoseconds microsecond microseconds millisecond milliseconds second seconds
    minute minutes hour hours day days week weeks month months year years decade decades
    century centuries
    meter meters metre metres kilometer kilometers kilometre kilometres centimeter centimeters
    millimeter millimeters mile miles foot feet inch inches yard yards
    gram grams kilogram kilograms milligram milligrams ton tons tonne tonnes liter liters litre litres
    degree degrees celsius fahrenheit kelvin volt volts watt watts amp amps hertz
    times words characters chars sentences paragraphs lines pages
    """
)
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
# The word after a number, spaced or attached; a slash joins per-units ("GB/s", "km/h").
_UNIT_AFTER_RE = re.compile(r"([ \u00a0]?)([^\W\d_]+(?:/[^\W\d_]+)?(?![\w-])|[%\u2030\u00d7]|\u00b0[CFK]?(?!\w))")


def _is_unit(word: str, spaced: bool) -> bool:
    if word in {"%", "\u2030", "\u00d7"} or word.startswith("\u00b0"):
        return True
    if spaced and len(word) == 1:
        return False
    return word in _UNIT_SYMBOLS or word in _ATTACHED_ONLY or word.lower() in _UNIT_WORDS


def _number_start(text: str, start: int) -> int | None:
    """Where the number at ``start`` begins (sign, currency), or None if it is part of a word."""
    if start == 0:
        return 0
    before = text[start - 1]
    if before.isalnum() or before == "_":
        return None  # "v2", "T20", "x86": an identifier's digits
    if before == "." and start >= 2 and text[start - 2].isdigit():
        return None  # the tail of "1.2.3"
    if before in _SIGNS and (start < 2 or not (text[start - 2].isalnum() or text[start - 2] in "%.")):
        start -= 1  # "-3.5%" but not the dash of "3.5%-3.75%" or "SM-8501"
        before = text[start - 1] if start else ""
    if before in {" ", "\u00a0"} and start >= 2 and text[start - 2] in _CURRENCY_SYMBOLS:
        return start - 2
    if before in _CURRENCY_SYMBOLS:
        code = _CURRENCY_CODE_BEFORE_RE.search(text, max(0, start - 4), start)
        return code.start() if code else start - 1
    code = _CURRENCY_CODE_BEFORE_RE.search(text, max(0, start - 5), start)
    if code is not None and (code.start() == 0 or not text[code.start() - 1].isalnum()):
        return code.start()
    return start


def _number_end(text: str, end: int) -> int:
    """Extend past an ordinal suffix and up to two unit words ("5 million dollars", "9th century")."""
    for _ in range(2):
        m = _UNIT_AFTER_RE.match(text, end)
        if m is None:
            break
        spaced, word = bool(m.group(1)), m.group(2)
        if not spaced and word.lower() in _ORDINAL_SUFFIXES:
            end = m.end()  # "9th", and a unit after it: "the 9th century"
            continue
        if not _is_unit(word, spaced):
            break
        end = m.end()
    return end


def find_numbers(text: str) -> Iterator[tuple[int, int]]:
    """Numbers with their sign, currency and unit: ``-3.5%``, ``$1,200``, ``2.4 GHz``, ``649,257 euros``."""
    for m in _NUMBER_RE.finditer(text):
        start = _number_start(text, m.start())
        if start is None:
            continue
        yield start, _number_end(text, m.end())


# --- dates and times ---------------------------------------------------------------------
# Capitalised only, so that "may" and "march" the verbs are not months; a month is a date
# only next to a day or a year.
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)
_DAY = r"[0-3]?[0-9](?:st|nd|rd|th)?"
_YEAR = r"[0-9]{4}"
_SP = r"[ \t\u00a0]{1,3}"
_CLOCK = r"[0-2]?[0-9]:[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
_MERIDIEM = r"(?:[ \u00a0]?(?:[aApP]\.[mM]\.|[aApP][mM]\b))"
_ZONE = (
    r"(?:[ \u00a0](?:UTC|GMT|[ECMP][SD]?T|AKST|AKDT|HST|BST|CET|CEST|EET|EEST|IST|JST|KST|SGT|HKT|AEST|AEDT)"
    r"(?:[+-][0-9]{1,2}(?::?[0-9]{2})?)?\b)"
)
_TIME = _CLOCK + _MERIDIEM + r"?" + _ZONE + r"?"
_HOUR_MERIDIEM = r"[0-2]?[0-9]" + _MERIDIEM + _ZONE + r"?"
# A time right after a date belongs to it: "18 September 2033 at 12:45", "May 5, 9 am".
_TIME_TAIL = r"(?:,?" + _SP + r"(?:at" + _SP + r")?(?:" + _TIME + r"|" + _HOUR_MERIDIEM + r"))?"
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?" + _SP + r")?"
_ISO = (
    r"[0-9]{4}-[01][0-9]-[0-3][0-9]"
    r"(?:[T ][0-2][0-9]:[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?(?:Z|[+-][0-2][0-9]:?[0-5][0-9])?)?"
)
_DATE_FORMS = "|".join(
    [
        _ISO,
        r"[0-9]{1,4}[/.][0-9]{1,2}[/.][0-9]{2,4}(?![0-9])",  # 03/27/2024, 2022/01/10, 27.03.2024
        _WEEKDAY + _DAY + _SP + "(?:of" + _SP + ")?" + _MONTH + "(?:,?" + _SP + _YEAR + ")?",  # 18 September 2033
        _WEEKDAY + _MONTH + _SP + "(?:" + _DAY + "(?![0-9])(?:,?" + _SP + _YEAR + ")?|" + _YEAR + ")",  # Sept. 5, 2021
    ]
)
_DATE_RE = re.compile(
    r"(?<![\w.:/-])(?:" + _DATE_FORMS + ")" + _TIME_TAIL + r"(?!\w)"
    r"|(?<![\w.:])(?:" + _TIME + "|" + _HOUR_MERIDIEM + r")(?![\w:])"
)


def find_dates(text: str) -> Iterator[tuple[int, int]]:
    """Dates and times, a date with its time as one span: ``18 September 2033 at 12:45``, ``9:30 am``."""
    for m in _DATE_RE.finditer(text):
        yield m.start(), m.end()


# --- identifiers -------------------------------------------------------------------------
# Cheap anchors that an identifier has and a plain English word lacks; each is expanded to
# its whole token and then classified. ``well-known`` has none of them.
_ID_ANCHOR_RE = re.compile(
    r"[^\W\d_][0-9]|[0-9][^\W\d_]|[^\W_]-[0-9]|_|[a-z][A-Z]|\w[./\\]\w|#[0-9]|::|[.~]/|(?<![\w.])/\w|--[A-Za-z]"
)
# A token is a run of word characters and the joiners of names and paths. Its start is
# looked for a bounded distance back: a longer token is not a name anyway.
_TOKEN_TAIL_RE = re.compile(r"[\w.\-/\\:#~]*")
_JOINERS = frozenset("_.-/\\:#~")
_STRIP_TRAILING = ".,:;-"
_STRIP_LEADING = ":-"
_MAX_NAME_CHARS = 64
_DRIVE_RE = re.compile(r"[A-Za-z]:\\")
_EXTENSION_RE = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}\Z")
_ORDINAL_RE = re.compile(r"[0-9]+(?:st|nd|rd|th)\Z")
# An underscore inside a name, or a dunder/private name; not Markdown's ``_emphasis_``.
_SNAKE_RE = re.compile(r"[^\W_]_[^\W_]|\A__\w+__\Z|\A_[^\W_]\w*[^\W_]\Z")
_DOTTED_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+){2,}\Z")


def _is_identifier(token: str) -> bool:
    if not any(ch.isalnum() for ch in token):
        return False
    if len(token) > _MAX_NAME_CHARS and "/" not in token and "\\" not in token:
        return False  # a run of unspaced (e.g. Chinese) text, not a name
    if token.startswith("--"):
        return token[2:3].isalpha()
    if token.startswith("#"):
        return token[1:].isdigit()
    if token.startswith(("./", "../", "~/")) or _DRIVE_RE.match(token):
        return True
    if token.startswith("/"):
        # "/docs/plan.md" but not the name of a closing tag ("</doc>") or a slash command
        return token.count("/") >= 2 or bool(_EXTENSION_RE.search(token))
    has_digit = any(ch.isdigit() for ch in token)
    has_alpha = any(ch.isalpha() for ch in token)
    if has_digit and has_alpha:
        return not _ORDINAL_RE.match(token)  # "21st" is a number's business
    if has_digit:
        return bool(_DOTTED_NUMBER_RE.match(token))  # "10.0.0.1", "1.2.3"
    if "::" in token or _SNAKE_RE.search(token):
        return True
    if any(a.islower() and b.isupper() for a, b in itertools.pairwise(token)):
        return True  # camelCase, TechGlobal
    if "/" in token or "\\" in token:
        parts = re.split(r"[/\\]", token)
        # "and/or" and "CI/CD" are prose; "src/app" plus a file or a third level is a path
        return all(parts) and (len(parts) >= 3 or bool(_EXTENSION_RE.search(token)))
    if "." in token:
        parts = token.split(".")
        # "e.g", "U.S" are abbreviations; "config.yaml", "os.path" are names
        return all(parts) and sum(len(p) >= 2 for p in parts) >= 2
    return False


def find_identifiers(text: str) -> Iterator[tuple[int, int]]:
    """IDs, versions, code names and paths: ``SM-8501``, ``v2.3.1``, ``snake_case``, ``src/app/main.py``."""
    done = 0
    for m in _ID_ANCHOR_RE.finditer(text):
        if m.start() < done:
            continue  # inside a token already classified
        start = m.start()
        floor = max(0, start - _MAX_NAME_CHARS - 1)
        while start > floor and (text[start - 1].isalnum() or text[start - 1] in _JOINERS):
            start -= 1
        end = _TOKEN_TAIL_RE.match(text, m.start()).end()  # type: ignore[union-attr]
        done = end
        while end > start and text[end - 1] in _STRIP_TRAILING:
            end -= 1
        while start < end and text[start] in _STRIP_LEADING and not text.startswith("--", start):
            start += 1
        if start < end and _is_identifier(text[start:end]):
            yield start, end


# --- quotes ------------------------------------------------------------------------------
# Short quoted strings are UI labels, commands, exact answers ("Add device", `lingua count`):
# a partly kept quote points the LLM at a string that does not exist. Long quotes are prose
# and stay compressible.
_MAX_QUOTE_WORDS = 6
_MAX_QUOTE_CHARS = 60
_MAX_CODE_CHARS = 120
_DOUBLE_RE = re.compile(r'"([^"\n]{1,200})"')
_CURLY_RE = re.compile(r"\u201c([^\u201c\u201d\n]{1,200})\u201d")
_BACKTICK_RE = re.compile(r"(?<!`)`([^`\n]{1,200})`(?!`)")
_SINGLE_RE = re.compile(r"(?<![\w'])'([^'\n]{1,60})'(?![\w'])")
_OPENS_AFTER = frozenset(" \t\n([{:\u2014-")


def _short(inner: str) -> bool:
    return len(inner) <= _MAX_QUOTE_CHARS and len(inner.split()) <= _MAX_QUOTE_WORDS


def _trimmed(inner: str) -> bool:
    return inner == inner.strip()


def _double_quotes(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    while True:
        m = _DOUBLE_RE.search(text, pos)
        if m is None:
            return
        inner = m.group(1)
        after = text[m.end()] if m.end() < len(text) else " "
        opens = m.start() == 0 or text[m.start() - 1] in _OPENS_AFTER
        if not (_trimmed(inner) and opens and not after.isalnum()):
            pos = m.start() + 1  # probably a closing quote paired with the next opening one
            continue
        if _short(inner):
            yield m.start(), m.end()
        pos = m.end()


def find_quotes(text: str) -> Iterator[tuple[int, int]]:
    """Short quoted strings in double, curly or single quotes, and inline code in backticks."""
    yield from _double_quotes(text)
    for m in _CURLY_RE.finditer(text):
        if _short(m.group(1)) and _trimmed(m.group(1)):
            yield m.start(), m.end()
    for m in _BACKTICK_RE.finditer(text):
        if len(m.group(1)) <= _MAX_CODE_CHARS and m.group(1).strip():
            yield m.start(), m.end()
    # An apostrophe looks like a single quote, so a quote must start after a space or an
    # opening bracket, close before a space or punctuation, and hold no space at its edges.
    for m in _SINGLE_RE.finditer(text):
        inner = m.group(1)
        if m.start() > 0 and text[m.start() - 1] not in _OPENS_AFTER:
            continue
        if _trimmed(inner) and _short(inner) and not inner[0].isdigit():
            yield m.start(), m.end()
