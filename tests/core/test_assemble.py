"""The assembly rules every method's output goes through: whitespace, punctuation, pairs, repeats."""

from __future__ import annotations

import json

import numpy as np

from lingua_core.assemble import _word_text, kept_spans, kept_text, repair
from lingua_core.budget import fit_to_budget
from lingua_core.words import split_words


def compress_by_dropping(text: str, drop: set[str], fixed: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    words = split_words(text)
    pieces = [text[a:b] for a, b in zip(words.starts.tolist(), words.ends.tolist())]
    keep = np.asarray([p not in drop for p in pieces], dtype=bool)
    fixed_mask = np.asarray([p in fixed for p in pieces], dtype=bool)
    keep = repair(words, keep, fixed_mask)
    spans = kept_spans(words, keep)
    assert spans == sorted(spans), "spans must follow the original order"
    assert all(b > a for a, b in spans)
    out = kept_text(words, keep)
    assert out == "".join(text[a:b] for a, b in spans)
    return out


def test_a_dropped_line_break_never_fuses_words() -> None:
    text = "Keep a friendly tone.\n\nKnowledge base article 1 follows.\nReadings are stored."
    out = compress_by_dropping(text, {"tone", "."})
    assert "friendly\n\nKnowledge" in out
    assert "follows\nReadings" in out


def test_the_strongest_dropped_whitespace_separates_the_kept_words() -> None:
    text = "Intro line here\n\nMiddle paragraph words\n\nLast part"
    out = compress_by_dropping(text, {"here", "Middle", "paragraph", "words"})
    assert out == "Intro line\n\nLast part"


def test_list_items_keep_their_lines_and_indentation() -> None:
    text = "Steps:\n  - open the app\n  - hold the button\n  - wait for blue"
    out = compress_by_dropping(text, {"the", "for"}, fixed={"-"})
    assert out == "Steps:\n  - open app\n  - hold button\n  - wait blue"


def test_punctuation_of_a_dropped_word_stays_against_the_word_before() -> None:
    assert compress_by_dropping("So, John thinks", {"So"}) == "John thinks"
    assert compress_by_dropping("Well John, thinking hard", {"thinking"}) == "Well John, hard"
    assert compress_by_dropping("It works well. Then more", {"well"}) == "It works. Then more"


def test_marks_do_not_pile_up_or_start_a_line() -> None:
    out = compress_by_dropping("Install the clamp. So, the reading", {"clamp", "So"})
    assert out == "Install the. reading"
    out = compress_by_dropping("First line\nsecond part.\nThird", {"second", "part"})
    assert out == "First line\nThird"


def test_bracket_and_quote_pairs_stay_balanced() -> None:
    text = 'Reports (report ids) and "Add device" then [note here] end'
    out = compress_by_dropping(text, {"report", "ids", "note", "here"})
    assert out == 'Reports and "Add device" then end'
    out = compress_by_dropping(text, {"ids", "Add"})
    assert out.count("(") == out.count(")") == 1
    assert out.count('"') == 2


def test_a_kept_word_holding_one_bracket_keeps_its_partner() -> None:
    # a Markdown link: "](" sits inside the URL word, "[" and ")" are words of their own
    out = compress_by_dropping("- [C Style Guide](https://x.org/a.html) and more", {"[", "C", "Style", ")", "more"})
    assert out.count("[") == out.count("]") == 1
    assert out.count("(") == out.count(")") == 1
    out = compress_by_dropping("[Data: Entities(6), Relationships (38, 43)]", {")", "Relationships"})
    assert out.count("(") == out.count(")")


def test_an_opening_bracket_or_quote_stays_against_the_next_kept_word() -> None:
    assert compress_by_dropping("See (the docs) now.", {"the"}) == "See (docs) now."
    assert compress_by_dropping('He said "the tall man" left', {"the"}) == 'He said "tall man" left'


def test_quotes_pair_within_their_line_so_a_stray_one_does_not_fuse_code_spans() -> None:
    text = "A stray ` mark.\nParameters **`${fileName}`**, and several optional **`${folderName}`**."
    out = compress_by_dropping(text, {"**", ",", "and", "several", "optional"})
    assert "`${fileName}` `${folderName}`" in out
    text = "* For each item in `### Fetch Links`, run `#fetch ${item}`."
    out = compress_by_dropping(text, {",", "run"})
    assert "`### Fetch Links` `#fetch" in out


def test_escaped_quotes_stay_whole_and_paired() -> None:
    text = 'use {"style": "lively, such as \\"well\\", \\"but\\", etc."} here'
    out = compress_by_dropping(text, {"well", "such", "as"})
    json_part = out[out.index("{") : out.rindex("}") + 1]
    assert json.loads(json_part)["style"].count('"') == 2
    assert "\\ " not in out and not out.count("\\") % 2


def test_a_repeat_the_input_never_had_is_removed() -> None:
    out = compress_by_dropping("the meter and the hub", {"meter", "and"})
    assert out == "the hub"
    # a repeat the input has stays
    assert compress_by_dropping("very very good", set()) == "very very good"
    # a repeat across a kept line break is a new line, not a stutter
    text = "# Spike Document\n\nWrite it all down.\n\n## Document Structure"
    assert (
        compress_by_dropping(text, {"Write", "it", "all", "down", "."}) == "# Spike Document\n\n## Document Structure"
    )


def test_fit_to_budget_moves_the_cut_along_scores_and_spares_fixed_words() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    words = split_words(text)
    scores = np.arange(100, dtype=np.float64)
    fixed = np.zeros(100, dtype=bool)
    fixed[0] = True
    keep = np.ones(100, dtype=bool)

    def measure(mask: np.ndarray) -> int:
        return int(mask.sum())

    out = fit_to_budget(keep, scores, fixed, measure, 40, tolerance=0.05)
    assert abs(int(out.sum()) - 40) <= 2
    assert out[0]  # fixed, although its score is the lowest
    assert out[-20:].all()  # the best-scored words stay
    capped = fit_to_budget(keep, scores, fixed, measure, 40, tolerance=0.05, ceiling=True)
    assert 38 <= int(capped.sum()) <= 40
    assert kept_text(words, capped).startswith("w0 ")


def test_a_backslash_after_a_dropped_mark_does_not_glue_to_the_word_before() -> None:
    text = "Compute $\\\\density binomial{50}{2}$ now."
    words = split_words(text)
    keep = np.array([_word_text(words, i) not in {"$"} for i in range(len(words))])
    out = kept_text(words, keep)
    assert "Compute\\" not in out, out
    assert out.startswith("Compute \\\\density"), out
