"""Tests for ``<llmlingua ...>`` segment parsing."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from lingua_core.errors import InputError
from lingua_core.segments import (
    Segment,
    find_segment_tags,
    parse_segments,
    strip_segment_tags,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FIXTURES = DATA / "llmlingua_tests" / "test_llmlingua.fixtures.json"


def _content(text: str, seg: Segment) -> str:
    return text[seg.start : seg.end]


def _offset_of(text: str, message: str) -> int:
    """Turn the first ``line:col`` in an error message back into a char offset."""
    m = re.search(r"(\d+):(\d+)", message)
    assert m, f"no line:col in {message!r}"
    line, col = int(m.group(1)), int(m.group(2))
    lines = text.split("\n")
    assert 1 <= line <= len(lines)
    return sum(len(x) + 1 for x in lines[: line - 1]) + col - 1


# --- basic shapes ---------------------------------------------------------------------


def test_empty_text_has_no_segments() -> None:
    assert parse_segments("") == []


def test_text_without_tags_is_one_default_segment() -> None:
    text = "Plain prompt.\nSecond line."
    assert parse_segments(text) == [Segment(0, len(text), None, True)]


@pytest.mark.parametrize(
    ("tag", "rate", "compress"),
    [
        ("<llmlingua rate=0.3>", 0.3, True),
        ('<llmlingua rate="0.3">', 0.3, True),
        ("<llmlingua rate='0.25'>", 0.25, True),
        ("<llmlingua   rate = 0.5 >", 0.5, True),
        ("<llmlingua compress=false>", 1.0, False),
        ("<llmlingua compress=False>", 1.0, False),
        ("<llmlingua compress=0>", 1.0, False),
        ('<llmlingua compress="false">', 1.0, False),
        ("<llmlingua compress=true>", None, True),
        ("<llmlingua compress=True>", None, True),
        ("<llmlingua compress=1>", None, True),
        ("<llmlingua>", None, True),
        ("<llmlingua rate=0.4 compress=true>", 0.4, True),
        ("<llmlingua compress=true rate=0.4>", 0.4, True),
        # the reference package's spelling
        ("<llmlingua, rate=0.3>", 0.3, True),
        ("<llmlingua, compress=False>", 1.0, False),
        ("<llmlingua, rate=0.3, compress=True>", 0.3, True),
        ("<llmlingua, compress=True, rate=0.3>", 0.3, True),
        # compression off wins over a rate; a rate of 1 keeps everything
        ("<llmlingua rate=0.3 compress=false>", 1.0, False),
        ("<llmlingua rate=1>", 1.0, False),
        ("<llmlingua rate=1.0>", 1.0, False),
        ("<LLMLingua rate=0.3>", 0.3, True),
    ],
)
def test_tag_attributes(tag: str, rate: float | None, compress: bool) -> None:
    text = f"before {tag}inside</llmlingua> after"
    segments = parse_segments(text)
    assert [_content(text, s) for s in segments] == ["before ", "inside", " after"]
    assert segments[0].rate is None and segments[0].compress
    assert segments[2].rate is None and segments[2].compress
    assert segments[1].rate == rate
    assert segments[1].compress is compress


def test_content_ranges_exclude_tags_and_keep_newlines() -> None:
    text = "A\n<llmlingua rate=0.5>\nx < y\n</llmlingua>\nB"
    segments = parse_segments(text)
    assert [_content(text, s) for s in segments] == ["A\n", "\nx < y\n", "\nB"]
    for seg in segments:
        assert "<llmlingua" not in _content(text, seg)
        assert "</llmlingua>" not in _content(text, seg)


def test_adjacent_tags_leave_no_empty_segments() -> None:
    text = "<llmlingua rate=0.5>a</llmlingua><llmlingua compress=false>b</llmlingua>"
    segments = parse_segments(text)
    assert [(_content(text, s), s.rate, s.compress) for s in segments] == [
        ("a", 0.5, True),
        ("b", 1.0, False),
    ]
    assert parse_segments("<llmlingua rate=0.5></llmlingua>") == []


def test_effective_rate() -> None:
    assert Segment(0, 1, None, True).effective_rate(0.4) == 0.4
    assert Segment(0, 1, 0.2, True).effective_rate(0.4) == 0.2
    assert Segment(0, 1, 1.0, False).effective_rate(0.4) == 1.0


# --- errors with positions ------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "0.0", "1.5", "-0.2", "nan", "inf", "abc", ""])
def test_bad_rate_is_rejected_with_position(value: str) -> None:
    text = f"line one\n  text <llmlingua rate={value}>x</llmlingua>"
    with pytest.raises(InputError) as info:
        parse_segments(text)
    tag_start = text.index("<llmlingua")
    tag_end = text.index(">", tag_start) + 1
    assert tag_start <= _offset_of(text, str(info.value)) < tag_end


@pytest.mark.parametrize(
    "text",
    [
        "<llmlingua compress=maybe>x</llmlingua>",
        "<llmlingua ratio=0.3>x</llmlingua>",
        "<llmlingua rate=0.3 rate=0.4>x</llmlingua>",
        "<llmlingua rate 0.3>x</llmlingua>",
        "<llmlingua rate=0.3>x</llmlingua rate=0.3>",
    ],
)
def test_bad_attributes_are_rejected(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_segments(text)
    assert re.search(r"\d+:\d+", str(info.value))


def test_nested_tag_points_at_inner_tag() -> None:
    text = "a <llmlingua rate=0.5>b\n  <llmlingua rate=0.2>c</llmlingua></llmlingua>"
    with pytest.raises(InputError) as info:
        parse_segments(text)
    assert _offset_of(text, str(info.value)) == text.index("<llmlingua rate=0.2>")
    assert "nested" in str(info.value)


def test_unmatched_close_points_at_it() -> None:
    text = "one\ntwo </llmlingua> three"
    with pytest.raises(InputError) as info:
        parse_segments(text)
    assert _offset_of(text, str(info.value)) == text.index("</llmlingua>")


def test_unclosed_tag_points_at_opening() -> None:
    text = "x\n\n   <llmlingua, rate=0.3>never closed"
    with pytest.raises(InputError) as info:
        parse_segments(text)
    assert _offset_of(text, str(info.value)) == text.index("<llmlingua")


def test_unterminated_tag_is_an_error_not_prose() -> None:
    text = "x <llmlingua rate=0.3 and then text</llmlingua>"
    with pytest.raises(InputError) as info:
        parse_segments(text)
    assert _offset_of(text, str(info.value)) == text.index("<llmlingua")


def test_similar_tag_names_are_plain_text() -> None:
    text = "<llmlingua_x rate=9>a</llmlingua-y> <llmlinguas>"
    assert parse_segments(text) == [Segment(0, len(text), None, True)]
    assert strip_segment_tags(text) == text
    assert find_segment_tags(text) == []


# --- strip ----------------------------------------------------------------------------


def test_strip_removes_only_tags_and_is_lenient() -> None:
    text = "a<llmlingua, rate=0.3>b</llmlingua>c</llmlingua>d<llmlingua>"
    assert strip_segment_tags(text) == "abcd"
    with pytest.raises(InputError):
        parse_segments(text)


def test_find_segment_tags_returns_tag_ranges() -> None:
    text = "a <llmlingua rate=0.3>b</llmlingua> c"
    tags = find_segment_tags(text)
    assert [text[s:e] for s, e in tags] == ["<llmlingua rate=0.3>", "</llmlingua>"]


# --- generated documents: the structure we build is the oracle ------------------------


def _random_doc(rng: random.Random) -> tuple[str, list[tuple[str, float | None, bool]]]:
    alphabet = "abc XYZ.,\n<>=\"'{}é中"
    parts: list[str] = []
    expected: list[tuple[str, float | None, bool]] = []
    for _ in range(rng.randint(0, 6)):
        plain = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        plain = plain.replace("<", "(")  # keep plain text free of anything tag-like
        parts.append(plain)
        if plain:
            expected.append((plain, None, True))
        inner = "".join(rng.choice(alphabet.replace("<", "")) for _ in range(rng.randint(0, 8)))
        choice = rng.randrange(4)
        sep = rng.choice([" ", ", ", "  ", ",", "\t"])
        if choice == 0:
            rate = rng.choice([0.1, 0.25, 0.5, 0.9])
            quote = rng.choice(["", '"', "'"])
            tag = f"<llmlingua{sep}rate={quote}{rate}{quote}>"
            want: tuple[float | None, bool] = (rate, True)
        elif choice == 1:
            flag = rng.choice(["false", "False", "0"])
            tag = f"<llmlingua{sep}compress={flag}>"
            want = (1.0, False)
        elif choice == 2:
            flag = rng.choice(["true", "True", "1"])
            tag = f"<llmlingua{sep}compress={flag}>"
            want = (None, True)
        else:
            tag = "<llmlingua>"
            want = (None, True)
        parts.append(f"{tag}{inner}</llmlingua>")
        if inner:
            expected.append((inner, *want))
    return "".join(parts), expected


def test_generated_documents_match_their_construction() -> None:
    rng = random.Random(1234)
    for _ in range(500):
        text, expected = _random_doc(rng)
        segments = parse_segments(text)
        assert [(_content(text, s), s.rate, s.compress) for s in segments] == expected
        assert "".join(_content(text, s) for s in segments) == strip_segment_tags(text)
        tag_chars = {i for s, e in find_segment_tags(text) for i in range(s, e)}
        last_end = 0
        for seg in segments:
            assert last_end <= seg.start < seg.end <= len(text)
            assert not tag_chars.intersection(range(seg.start, seg.end))
            last_end = seg.end


# --- the reference package's own fixture ----------------------------------------------

# The reference package's regex (microsoft/LLMLingua, segment_structured_context).
_REFERENCE_RE = re.compile(
    r"<llmlingua\s*(?:,\s*rate\s*=\s*([\d\.]+))?\s*(?:,\s*compress\s*=\s*(True|False))?"
    r"\s*(?:,\s*rate\s*=\s*([\d\.]+))?\s*(?:,\s*compress\s*=\s*(True|False))?\s*>"
    r"([^<]+)</llmlingua>"
)


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared data not available")
def test_reference_json_prompt_matches_reference_regex() -> None:
    text = json.loads(FIXTURES.read_text(encoding="utf-8"))["constants"]["JSON_PROMPT"]
    expected = []
    for m in _REFERENCE_RE.finditer(text):
        rate_text = m.group(1) or m.group(3)
        flag = m.group(2) or m.group(4)
        compress = flag != "False"
        rate = float(rate_text) if rate_text else None
        if not compress:
            rate = 1.0
        expected.append((m.group(5), rate, compress))
    assert len(expected) > 10
    segments = parse_segments(text)
    assert [(_content(text, s), s.rate, s.compress) for s in segments] == expected
