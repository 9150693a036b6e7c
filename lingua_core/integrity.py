"""Count the ways a compressed prompt is broken, compared with its original.

Token-level compression can only delete, so everything in a good output is a whole word of
the input, in the input's order. A small LM's per-token choices break that in recognisable
ways: a dropped ``\\n\\n`` fuses two words (``friendlyKnowledge``), dropping part of a
word's tokens leaves a fragment (``ank`` of ``Priyanka``, ``SM-0`` of ``SM-8501``), and
templates lose placeholders, brackets or the JSON examples they carry. These counts let
benches compare compressors on that damage, not just on size.

Definitions (whitespace-separated runs are *words*; *stripping* removes leading and
trailing characters that are neither letters nor digits; a word is *pure punctuation* when
stripping leaves nothing):

* an output word is *known* when it is an input word as is, or its stripped form is the
  stripped form of some input word (dropping a trailing comma is a legitimate edit);
* ``fused_words``: unknown words that split into two or more input words (raw or
  stripped), e.g. ``friendlyKnowledge`` or ``friendly.Knowledge``. A piece must hold a
  letter or digit, and at most one piece may be shorter than three characters, so that
  ``aevent`` is ``a`` + ``event`` but ``ank`` is not ``a`` + ``n`` + ``k``, nor the ``asis``
  of ``Oasis`` ``as`` + ``is``. A fusion of fragments (``multiplKnow``)
  cannot be told from noise and counts as a fragment;
* ``fragments``: all other unknown, non-punctuation words. A part of an input word split at
  inner punctuation is a fragment too (``GHz`` from ``2.4GHz``, ``type`` from
  ``name/type``) unless it is also a whole word elsewhere in the input: a fragment that
  happens to be a real word of the prompt (``the`` cut from ``theory``) is not detectable;
* ``cut_numbers``: input words holding a digit that have no aligned output word although
  their sentence is kept (at least half of its other words, with a letter or digit, are
  aligned, in order). Dropping a whole sentence is compression, not damage;
* ``lost_placeholders``: for each distinct template placeholder of the input (found by
  :func:`lingua_core.protect.find_protected_spans`; lone ``{{``/``}}`` escapes excluded,
  they count as brackets), how many fewer times the detector finds it in the output;
* ``doubled_words``: adjacent output words on one line (pure punctuation skipped, compared
  stripped and case-folded) that are equal, although no two adjacent input words are that word;
* ``bracket_imbalance``: per kind ``()``, ``[]``, ``{}``, 1 when the input has as many
  openers as closers and the output does not; summed over the kinds;
* ``broken_json``: bracketed regions of the input (15+ chars, with ``":``) that parse as
  JSON (directly, or after un-escaping ``{{``/``}}``) whose counterpart in the output does
  not parse. The counterpart runs from the first to the last output word aligned to a word
  of the region, trimmed to its first opener and last closer; a region with no aligned
  word was dropped whole and is not broken. Words fused onto the region's edges are missed.

Output words are aligned to input words greedily in order (earliest next match of the same
stripped word): the right alignment when the output is an in-order subsequence, as deletion
gives. Pure punctuation only aligns within a few words of the previous match, since a lone
``-`` or ``|`` would otherwise jump far ahead and derail what follows. Everything runs in
about linear time in the text length.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from lingua_core.protect import ProtectOptions, find_protected_spans
from lingua_core.sentences import split_sentences

__all__ = [
    "Alignment",
    "IntegrityReport",
    "align_words",
    "check_integrity",
    "strip_word",
    "word_spans",
]

MAX_EXAMPLES = 5
# A lone "-", "|" or "**" may only align this close to the previous match.
PUNCTUATION_LOOKAHEAD = 8
MIN_JSON_CHARS = 15
# Longer regions are not parsed (a whole JSON file is not an "example" and costs time).
MAX_JSON_CHARS = 50_000
# Unknown words longer than this are fragments without trying to split them (URLs, base64).
MAX_FUSED_CHARS = 200
SHORT_PIECE = 3

_WORD_RE = re.compile(r"\S+")
_EDGE_RE = re.compile(r"^[\W_]+|[\W_]+$")
_ALNUM_RE = re.compile(r"[^\W_]")
_DIGIT_RE = re.compile(r"\d")
_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _BRACKETS.items()}


def strip_word(word: str) -> str:
    """The word without edge punctuation, so ``(see`` and ``see,`` both compare as ``see``."""
    return _EDGE_RE.sub("", word)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Char spans of the whitespace-separated words of ``text``."""
    return [m.span() for m in _WORD_RE.finditer(text)]


def _key(word: str) -> str:
    return strip_word(word) or word


@dataclass(frozen=True)
class Alignment:
    """Words of both texts and, per output word, the index of its input word (or None)."""

    original: str
    compressed: str
    original_spans: list[tuple[int, int]]
    compressed_spans: list[tuple[int, int]]
    targets: list[int | None]

    def original_word(self, i: int) -> str:
        s, e = self.original_spans[i]
        return self.original[s:e]

    def compressed_word(self, k: int) -> str:
        s, e = self.compressed_spans[k]
        return self.compressed[s:e]

    def kept(self) -> list[bool]:
        """Per input word: whether some output word aligned to it."""
        flags = [False] * len(self.original_spans)
        for target in self.targets:
            if target is not None:
                flags[target] = True
        return flags


def align_words(original: str, compressed: str) -> Alignment:
    """Align output words to input words, greedily and in order (see the module notes).

    Earliest-match greedy is exact for deciding whether the output is a subsequence and,
    when it is, keeps each word with its nearest plausible source, so repeated words
    ("the") do not pull the pointer past the part the compressor actually kept.
    """
    original_spans = word_spans(original)
    compressed_spans = word_spans(compressed)
    positions: dict[str, list[int]] = {}
    for i, (s, e) in enumerate(original_spans):
        positions.setdefault(_key(original[s:e]), []).append(i)
    targets: list[int | None] = []
    pointer = 0
    for s, e in compressed_spans:
        word = compressed[s:e]
        candidates = positions.get(_key(word))
        target = None
        if candidates:
            at = bisect.bisect_left(candidates, pointer)
            if at < len(candidates):
                found = candidates[at]
                if _ALNUM_RE.search(word) or found - pointer < PUNCTUATION_LOOKAHEAD:
                    target = found
                    pointer = found + 1
        targets.append(target)
    return Alignment(original, compressed, original_spans, compressed_spans, targets)


@dataclass(frozen=True)
class IntegrityReport:
    """Damage counts of one compression, with a few examples of each."""

    fused_words: int = 0
    fragments: int = 0
    lost_placeholders: int = 0
    cut_numbers: int = 0
    doubled_words: int = 0
    bracket_imbalance: int = 0
    broken_json: int = 0
    fused_examples: tuple[str, ...] = ()
    fragment_examples: tuple[str, ...] = ()
    placeholder_examples: tuple[str, ...] = ()
    number_examples: tuple[str, ...] = ()
    doubled_examples: tuple[str, ...] = ()
    bracket_examples: tuple[str, ...] = ()
    json_examples: tuple[str, ...] = ()

    @property
    def alien_words(self) -> int:
        """Output words that are no word of the input at all."""
        return self.fused_words + self.fragments

    def counts(self) -> dict[str, int]:
        """Every count by name, zero or not (``alien_words`` is their sum, so left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.type in ("int", int)}

    def total(self) -> int:
        return sum(self.counts().values())

    def problems(self) -> dict[str, int]:
        """The nonzero counts only: what to show a user or a log line."""
        return {name: count for name, count in self.counts().items() if count}


def _can_piece(piece: str) -> bool:
    return _ALNUM_RE.search(piece) is not None


def _is_fused(word: str, pieces: set[str], longest: int) -> bool:
    """Whether ``word`` splits into two or more input words, at most one of them short.

    Dynamic programming over cut points, minimising the pieces under three characters: short
    words combine into almost any fragment (``asis`` = ``as`` + ``is``), so they must not.
    """
    n = len(word)
    if n < 2 or n > MAX_FUSED_CHARS:
        return False
    unreachable = n + 1
    singles = [unreachable] * (n + 1)
    singles[0] = 0
    for i in range(n):
        if singles[i] > 1:
            continue
        for j in range(i + 1, min(n, i + longest) + 1):
            cost = singles[i] + (j - i < SHORT_PIECE)
            if cost < singles[j] and (i, j) != (0, n) and word[i:j] in pieces:
                singles[j] = cost
    return singles[n] <= 1


def _alien_words(alignment: Alignment) -> tuple[list[str], list[str]]:
    """Fused words and fragments among the output words, in output order."""
    original_words = [alignment.original_word(i) for i in range(len(alignment.original_spans))]
    raw = set(original_words)
    stripped = {strip_word(w) for w in original_words}
    pieces = {p for p in raw | stripped if _can_piece(p)}
    longest = max((len(p) for p in pieces), default=0)
    fused: list[str] = []
    fragments: list[str] = []
    for k, target in enumerate(alignment.targets):
        if target is not None:
            continue
        word = alignment.compressed_word(k)
        core = strip_word(word)
        if not core or word in raw or core in stripped:
            continue
        if _is_fused(word, pieces, longest) or _is_fused(core, pieces, longest):
            fused.append(word)
        else:
            fragments.append(word)
    return fused, fragments


def _placeholder_counts(text: str) -> Counter[str]:
    # Other kinds stay off: merged into a URL or code span, a placeholder would be lost.
    options = replace(ProtectOptions.nothing(), keep_placeholders=True)
    return Counter(text[s.start : s.end] for s in find_protected_spans(text, options) if s.kind == "placeholder")


def _lost_placeholders(original: str, compressed: str) -> tuple[int, list[str]]:
    # Counted where the detector sees a placeholder on both sides, not as substrings: the
    # "{2}" of a dropped "\\frac{2}{3}" is LaTeX, not a lost "{2}" field.
    before, after = _placeholder_counts(original), _placeholder_counts(compressed)
    lost = 0
    examples: list[str] = []
    for text, count in before.items():
        if text in ("{{", "}}"):
            continue
        missing = count - after.get(text, 0)
        if missing > 0:
            lost += missing
            examples.append(f"{text} x{missing}")
    return lost, examples


def _cut_numbers(alignment: Alignment, kept: Sequence[bool]) -> tuple[int, list[str]]:
    original = alignment.original
    starts = [s for s, _ in alignment.original_spans]
    cut = 0
    examples: list[str] = []
    for s, e in split_sentences(original):
        first = bisect.bisect_left(starts, s)
        last = bisect.bisect_left(starts, e)
        numbers: list[int] = []
        others = 0
        others_kept = 0
        for i in range(first, last):
            word = strip_word(alignment.original_word(i))
            if _DIGIT_RE.search(word):
                numbers.append(i)
            elif word:
                others += 1
                others_kept += kept[i]
        if not numbers or not others_kept or others_kept * 2 < others:
            continue
        for i in numbers:
            if not kept[i]:
                cut += 1
                examples.append(alignment.original_word(i))
    return cut, examples


def _doubled_keys(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, str, str]]:
    """Adjacent equal words on one line as (key, first, second), pure punctuation skipped.

    A line break ends the run: a heading that follows a heading with the same word
    (``# Spike Document`` / ``## Document Structure``) is not a stutter."""
    out: list[tuple[str, str, str]] = []
    previous: tuple[str, str] | None = None
    last_end = 0
    for start, end in spans:
        word = text[start:end]
        if "\n" in text[last_end:start]:
            previous = None
        last_end = end
        key = strip_word(word).casefold()
        if not key:
            continue
        if previous is not None and previous[0] == key:
            out.append((key, previous[1], word))
        previous = (key, word)
    return out


def _doubled_words(alignment: Alignment) -> tuple[int, list[str]]:
    allowed = {key for key, _, _ in _doubled_keys(alignment.original, alignment.original_spans)}
    found = [
        f"{a} {b}"
        for key, a, b in _doubled_keys(alignment.compressed, alignment.compressed_spans)
        if key not in allowed
    ]
    return len(found), found


def _bracket_imbalance(original: str, compressed: str) -> tuple[int, list[str]]:
    count = 0
    examples: list[str] = []
    for opener, closer in _BRACKETS.items():
        if original.count(opener) != original.count(closer):
            continue
        opens, closes = compressed.count(opener), compressed.count(closer)
        if opens != closes:
            count += 1
            examples.append(f"{opener}{closer}: {opens} open, {closes} close")
    return count, examples


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _unescape(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def _json_regions(text: str) -> list[tuple[int, int, bool]]:
    """Outermost bracketed regions that parse as JSON, with whether they needed un-escaping.

    One stack pass finds every matched pair (brackets inside JSON strings are rare in
    prompts and only make a region fail to parse); candidates are tried outermost first,
    and regions inside an accepted one are skipped.
    """
    stack: list[tuple[str, int]] = []
    pairs: list[tuple[int, int]] = []
    for m in re.finditer(r"[\[\]{}]", text):
        ch, at = m.group(), m.start()
        if ch in "[{":
            stack.append((ch, at))
        elif stack and stack[-1][0] == _CLOSERS[ch]:
            _, start = stack.pop()
            if MIN_JSON_CHARS <= at + 1 - start <= MAX_JSON_CHARS:
                pairs.append((start, at + 1))
    pairs.sort(key=lambda p: (p[0], -p[1]))
    regions: list[tuple[int, int, bool]] = []
    covered = -1
    for start, end in pairs:
        if end <= covered:
            continue
        body = text[start:end]
        if '":' not in body:
            continue
        if _parses(body):
            regions.append((start, end, False))
        elif ("{{" in body or "}}" in body) and _parses(_unescape(body)):
            regions.append((start, end, True))
        else:
            continue
        covered = end
    return regions


def _widen(text: str, a: int, b: int, opener: str, closer: str) -> tuple[int, int]:
    """Take in the region's own brackets when the aligner matched them to an earlier or
    later copy: the output's ``[`` just before its first kept word is the region's."""
    k = a
    while k > 0 and text[k - 1].isspace():
        k -= 1
    if k > 0 and text[k - 1] == opener and not text[a:b].lstrip().startswith(opener):
        a = k - 1
    k = b
    while k < len(text) and text[k].isspace():
        k += 1
    if k < len(text) and text[k] == closer and not text[a:b].rstrip().endswith(closer):
        b = k + 1
    return a, b


def _broken_json(alignment: Alignment) -> tuple[int, list[str]]:
    regions = _json_regions(alignment.original)
    if not regions:
        return 0, []
    starts = [s for s, _ in alignment.original_spans]
    ends = [e for _, e in alignment.original_spans]
    # Output words by the input word they align to, to find a region's kept words.
    aligned = sorted((t, k) for k, t in enumerate(alignment.targets) if t is not None)
    aligned_targets = [t for t, _ in aligned]
    broken = 0
    examples: list[str] = []
    for start, end, escaped in regions:
        first_word = bisect.bisect_right(ends, start)
        last_word = bisect.bisect_left(starts, end)
        lo = bisect.bisect_left(aligned_targets, first_word)
        hi = bisect.bisect_left(aligned_targets, last_word)
        if lo == hi:
            continue  # dropped whole
        outputs = [k for _, k in aligned[lo:hi]]
        a = alignment.compressed_spans[min(outputs)][0]
        b = alignment.compressed_spans[max(outputs)][1]
        opener = alignment.original[start]
        closer = _BRACKETS[opener]
        a, b = _widen(alignment.compressed, a, b, opener, closer)
        piece = alignment.compressed[a:b]
        i, j = piece.find(opener), piece.rfind(closer)
        candidate = piece[i : j + 1] if 0 <= i < j else ""
        if candidate and (_parses(candidate) or (escaped and _parses(_unescape(candidate)))):
            continue
        broken += 1
        examples.append(piece[:80])
    return broken, examples


def check_integrity(original: str, compressed: str) -> IntegrityReport:
    """Count fused words, fragments, lost placeholders, cut numbers, doubled words,
    unbalanced brackets and broken JSON in ``compressed`` (see the module notes)."""
    alignment = align_words(original, compressed)
    kept = alignment.kept()
    fused, fragments = _alien_words(alignment)
    placeholders, placeholder_examples = _lost_placeholders(original, compressed)
    numbers, number_examples = _cut_numbers(alignment, kept)
    doubled, doubled_examples = _doubled_words(alignment)
    brackets, bracket_examples = _bracket_imbalance(original, compressed)
    broken, json_examples = _broken_json(alignment)
    return IntegrityReport(
        fused_words=len(fused),
        fragments=len(fragments),
        lost_placeholders=placeholders,
        cut_numbers=numbers,
        doubled_words=doubled,
        bracket_imbalance=brackets,
        broken_json=broken,
        fused_examples=tuple(fused[:MAX_EXAMPLES]),
        fragment_examples=tuple(fragments[:MAX_EXAMPLES]),
        placeholder_examples=tuple(placeholder_examples[:MAX_EXAMPLES]),
        number_examples=tuple(number_examples[:MAX_EXAMPLES]),
        doubled_examples=tuple(doubled_examples[:MAX_EXAMPLES]),
        bracket_examples=tuple(bracket_examples[:MAX_EXAMPLES]),
        json_examples=tuple(json_examples[:MAX_EXAMPLES]),
    )
