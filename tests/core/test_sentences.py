"""Tests for the sentence and paragraph splitters."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest

from lingua_core.sentences import split_paragraphs, split_sentences

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
GSM8K = DATA / "gsm8k" / "prompt_hardest.txt"
BBH = DATA / "bbh" / "cot-prompts"
needs_data = pytest.mark.skipif(not GSM8K.exists(), reason="shared data not available")


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def paragraphs(text: str) -> list[str]:
    return [text[a:b] for a, b in split_paragraphs(text)]


def _assert_tiles(text: str, spans: list[tuple[int, int]]) -> None:
    if not text:
        assert spans == []
        return
    assert spans[0][0] == 0
    assert spans[-1][1] == len(text)
    for (a, b), (c, _) in itertools.pairwise(spans):
        assert a < b == c
    assert "".join(text[a:b] for a, b in spans) == text
    # whitespace goes with the sentence before it
    for a, _ in spans[1:]:
        assert not text[a].isspace()


def _boundaries(text: str) -> set[int]:
    return {a for a, _ in split_sentences(text)[1:]}


def _corpus() -> list[tuple[str, str]]:
    if not GSM8K.exists():
        return []
    files = [GSM8K, *sorted(BBH.glob("*.txt"))]
    return [(p.name, p.read_text(encoding="utf-8")) for p in files]


# --- tiling on real prompts and random strings ----------------------------------------


@needs_data
def test_real_prompts_tile_exactly() -> None:
    corpus = _corpus()
    assert len(corpus) == 28
    for name, text in corpus:
        _assert_tiles(text, split_sentences(text))
        _assert_tiles(text, split_paragraphs(text))
        assert len(split_sentences(text)) > len(split_paragraphs(text)), name


@needs_data
def test_real_prompts_never_split_decimals_or_abbreviations() -> None:
    checked = 0
    for name, text in _corpus():
        cuts = _boundaries(text)
        for m in re.finditer(r"\d\.\d|\be\.g\.|\bi\.e\.|\bMr\.|\bDr\.|\bvs\.|\b[A-Z]\. ", text):
            inside = set(range(m.start() + 1, m.end() + 2))
            assert not cuts & inside, (name, text[m.start() - 20 : m.end() + 20])
            checked += 1
    assert checked > 50


@needs_data
def test_gsm8k_structure() -> None:
    text = GSM8K.read_text(encoding="utf-8")
    cuts = _boundaries(text)
    # every demo starts a sentence, and the CoT trigger line is a sentence of its own
    questions = [m.start() for m in re.finditer(r"(?m)^Question:", text)]
    assert len(questions) == 8
    assert set(questions[1:]) <= cuts
    for m in re.finditer(r"(?m)^Let's think step by step\n", text):
        assert m.start() in cuts
        assert m.end() in cuts
    # "The answer is N" ends the demo
    for m in re.finditer(r"(?m)^The answer is .*\n", text):
        assert m.start() in cuts


@needs_data
def test_bbh_options_are_separate_sentences() -> None:
    text = (BBH / "date_understanding.txt").read_text(encoding="utf-8")
    cuts = _boundaries(text)
    options = [m.start() for m in re.finditer(r"(?m)^\([A-F]\) ", text)]
    assert options and set(options) <= cuts
    for m in re.finditer(r"(?m)^(Q|A): ", text):
        assert m.start() in cuts or m.start() == 0


def test_random_strings_tile() -> None:
    rng = random.Random(2024)
    alphabet = ["a", "B", "3", ".", ". ", "? ", "! ", "\n", "\n\n", " ", "e.g. ", "Mr. ", "...", "\u3002"]
    alphabet += ["\uff01", "\u201d", "- ", "# ", "  ", "\t", "\r\n", "\ud55c", "\u2026", "(A) "]
    for _ in range(1000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        _assert_tiles(text, split_sentences(text))
        _assert_tiles(text, split_paragraphs(text))
        # paragraph breaks are always sentence breaks
        assert {a for a, _ in split_paragraphs(text)} <= {a for a, _ in split_sentences(text)}


def test_empty_and_blank_texts() -> None:
    assert split_sentences("") == []
    assert split_paragraphs("") == []
    assert split_sentences("  \n ") == [(0, 4)]
    assert split_paragraphs("\n\n\n") == [(0, 3)]


# --- hand-written cases ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two? Three! Four", ["One. ", "Two? ", "Three! ", "Four"]),
        ("Wait?! Really.", ["Wait?! ", "Really."]),
        ('He said "Stop." Then he left.', ['He said "Stop." ', "Then he left."]),
        ("(See the table.) Next one.", ["(See the table.) ", "Next one."]),
        ("It costs 5. 3 more cost 6.", ["It costs 5. ", "3 more cost 6."]),
        ("trailing space.   ", ["trailing space.   "]),
        ("First.  \n  Second.", ["First.  \n  ", "Second."]),
    ],
)
def test_sentence_ends(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith met Dr. Jones at 5 p.m. today.",
        "Use fruit, e.g. Apples or Pears.",
        "Use fruit, i.e. Apples only.",
        "It was made in the U.S. Army labs.",
        "J. K. Rowling wrote it.",
        "Cats vs. Dogs is a classic.",
        "Pi is 3.14 and e is 2.718 roughly.",
        "Version 1.2.3 fixes it.",
        "See Fig. 3 and No. 5 for details.",
        "Wait... What happened here?",
        "He waited... and waited.",
        "The value is 0.5 percent.",
        "Lowercase after a period. and this continues.",
        "Run it at 9 a.m. Every day.",
    ],
)
def test_no_false_splits(text: str) -> None:
    assert sentences(text) == [text]


def test_answer_no_still_ends_a_sentence() -> None:
    assert sentences("So the answer is No. Next question.") == ["So the answer is No. ", "Next question."]


def test_cjk_and_korean() -> None:
    stop, bang, ask = "\u3002", "\uff01", "\uff1f"  # CJK full stop, exclamation, question mark
    text = f"你好{stop}我很好{bang}你呢{ask}好的"
    assert sentences(text) == [f"你好{stop}", f"我很好{bang}", f"你呢{ask}", "好的"]
    assert sentences("「走吧。」他说。") == ["「走吧。」", "他说。"]
    assert sentences("안녕하세요. 반갑습니다. 감사합니다.") == ["안녕하세요. ", "반갑습니다. ", "감사합니다."]


def test_blank_line_always_splits() -> None:
    assert sentences("no punctuation here\n\nand lowercase after") == [
        "no punctuation here\n\n",
        "and lowercase after",
    ]


def test_wrapped_prose_is_joined() -> None:
    text = "You answer questions briefly, succinctly,\nand in a personable manner using\nmarkdown and emojis."
    assert sentences(text) == [text]


def test_list_items_headings_and_labels() -> None:
    text = "# Title\nIntro line\nSteps:\n- first step\n- second step\n1. numbered\n2) other\nQ: question?\nA: answer"
    assert sentences(text) == [
        "# Title\n",
        "Intro line\n",
        "Steps:\n",
        "- first step\n",
        "- second step\n",
        "1. numbered\n",
        "2) other\n",
        "Q: question?\n",
        "A: answer",
    ]


def test_wrapped_list_item_continues() -> None:
    text = "- a long item that\n  wraps onto the next line\n- next"
    assert sentences(text) == ["- a long item that\n  wraps onto the next line\n", "- next"]


def test_numbered_heading_not_split_after_number() -> None:
    assert sentences("## 1. Introduction\nText here.") == ["## 1. Introduction\n", "Text here."]
    assert sentences("1. First item. Second sentence.") == ["1. First item. ", "Second sentence."]


def test_table_rows_and_rules_are_separate() -> None:
    text = "Intro text\n| a | b |\n|---|---|\n| 1 | 2 |\n-----\nafter the rule"
    assert sentences(text) == ["Intro text\n", "| a | b |\n", "|---|---|\n", "| 1 | 2 |\n", "-----\n", "after the rule"]


# --- paragraphs -----------------------------------------------------------------------


def test_paragraphs() -> None:
    text = "\nfirst para\nstill first\n\n  \nsecond para.\n\n\nthird"
    assert paragraphs(text) == ["\nfirst para\nstill first\n\n  \n", "second para.\n\n\n", "third"]


def test_paragraph_count_matches_blank_runs() -> None:
    rng = random.Random(5)
    for _ in range(200):
        paras = [
            "".join(rng.choice("ab. \n") for _ in range(rng.randint(1, 12))).strip() or "x"
            for _ in range(rng.randint(1, 6))
        ]
        paras = [re.sub(r"\n\s*\n", "\n", p).strip() or "x" for p in paras]
        seps = [rng.choice(["\n\n", "\n \n", "\n\n\n", "\r\n\r\n"]) for _ in paras[1:]]
        text = paras[0] + "".join(s + p for s, p in zip(seps, paras[1:], strict=True))
        got = paragraphs(text)
        assert [g.rstrip() for g in got] == paras
