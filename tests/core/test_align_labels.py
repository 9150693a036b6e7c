"""Word labels from extractive compressions: hand-made cases and the quality filter."""

from __future__ import annotations

import pytest

from lingua_core.train.align_labels import (
    Alignment,
    QualityFilter,
    align_labels,
    filter_alignments,
    normalize,
)


def kept(alignment: Alignment) -> list[str]:
    return [w for w, label in zip(alignment.words, alignment.labels) if label]


def test_simple_deletion() -> None:
    a = align_labels("The quick brown fox jumps over the lazy dog.", "quick fox jumps dog.")
    assert kept(a) == ["quick", "fox", "jumps", "dog", "."]
    assert a.variation_rate == 0.0 and a.alignment_gap == pytest.approx(0.0)


def test_case_and_punctuation_tolerant() -> None:
    a = align_labels('He said: "Stop," and left.', "he said stop left")
    assert kept(a) == ["He", "said", "Stop", "left"]
    assert a.unmatched_absent == 0


def test_repeated_words_take_the_copy_their_neighbour_follows() -> None:
    original = "the cat saw the dog and the bird saw the cat"
    a = align_labels(original, "the dog the cat")
    # "the dog" is words 3-4, "the cat" the last two: not the first "the" of each kind
    assert [i for i, label in enumerate(a.labels) if label] == [3, 4, 9, 10]
    assert kept(a) == ["the", "dog", "the", "cat"]


def test_reordered_words_are_not_matched_backwards() -> None:
    a = align_labels("alpha beta gamma delta", "gamma alpha delta")
    assert kept(a) == ["gamma", "delta"]
    assert a.unmatched_present == 1  # "alpha" exists but comes before "gamma"
    assert a.alignment_gap == pytest.approx(0.25)  # hit 3/4, matched 2/4


def test_hallucinated_words_raise_the_variation_rate() -> None:
    a = align_labels("Revenue grew in the third quarter.", "Revenue soared massively in quarter three.")
    assert kept(a) == ["Revenue", "in", "quarter", "."]
    assert a.unmatched_absent == 3  # soared, massively, three
    assert a.variation_rate == pytest.approx(3 / 7)


def test_far_jump_only_for_a_unique_word() -> None:
    filler = " ".join(f"w{i}" for i in range(200))
    original = f"start the {filler} the end unique"
    near = align_labels(original, "start the unique", window=50)
    assert kept(near) == ["start", "the", "unique"]  # unique: one copy, placed past the window
    far = align_labels(original, "start end", window=50)
    assert kept(far) == ["start", "end"]
    common = align_labels(f"x {filler} the the", "x the", window=50)
    assert kept(common) == ["x"]  # two copies of "the" far ahead: not trusted


def test_normalize() -> None:
    assert normalize("«Hello!»") == "hello"
    assert normalize("...") == "..."
    assert normalize("\uff21\uff22\uff23") == "abc"


def test_cjk_words_align_per_character() -> None:
    a = align_labels("我们保留重要的词语", "保留词语")
    assert "".join(kept(a)) == "保留词语"


def test_quality_filter_drops_the_worst() -> None:
    good = [align_labels(f"a b c d e f g h i j {n}", "a c e g i") for n in range(18)]
    invented = align_labels("a b c d e f g h i j", "x y z a")
    shuffled = align_labels("a b c d e f g h i j", "j i h g f e")
    report = filter_alignments([*good, invented, shuffled], QualityFilter(0.95, 0.90))
    assert 18 not in report.kept and 19 not in report.kept
    assert report.dropped_variation == 1 and report.dropped_gap == 1
    assert report.dropped_share == pytest.approx(0.1)
    everything = filter_alignments(good)
    assert len(everything.kept) == len(good)  # identical samples are never thinned
    assert filter_alignments([]).kept == ()
