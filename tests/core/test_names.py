"""Multi-word names are one unit: found as such, and kept or dropped whole by every compression."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lingua_core import Compressor
from lingua_core.names import name_groups, unite_names
from lingua_core.words import split_words


def names_in(text: str) -> list[str]:
    words = split_words(text)
    groups = name_groups(words)
    found: dict[int, list[int]] = {}
    for index, group in enumerate(groups.tolist()):
        if group >= 0:
            found.setdefault(group, []).append(index)
    return [text[int(words.starts[m[0]]) : int(words.ends[m[-1]])] for m in found.values()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gold was found by James W. Marshall at Sutter's Mill in 1848.", ["James W. Marshall", "Sutter's Mill"]),
        ("Leonardo da Vinci painted it; the Bank of America paid.", ["Leonardo da Vinci", "Bank of America"]),
        ("The New York Times said so.", ["New York Times"]),  # an opening "The" is not part of it
        ("In March Yuki Fischer restored service.", ["Yuki Fischer"]),  # a month is not
        ("Paris is nice. When Anna left, nobody noticed.", []),  # single capitalized words
        ("Ask Ada Lovelace\nBabbage replied.", ["Ask Ada Lovelace"]),  # a line break ends a name
        ("Alpha Beta Gamma Delta Epsilon Zeta went home.", []),  # six in a row is a heading, not a name
        ("the bank of america", []),
        ("北京 大学 Tokyo Tower", ["Tokyo Tower"]),
    ],
)
def test_names_are_found(text: str, expected: list[str]) -> None:
    assert names_in(text) == expected


def test_a_name_is_decided_by_its_best_word() -> None:
    words = split_words("Then James W. Marshall left.")  # Then James W . Marshall left .
    keep = np.array([True, False, False, False, True, True, True])
    scores = np.array([1.0, 0.2, 0.1, 0.1, 3.0, 2.0, 5.0])
    fixed = np.zeros(7, dtype=bool)
    united_keep, united_scores = unite_names(name_groups(words), keep, scores, fixed)
    assert united_keep.tolist() == [True, True, True, True, True, True, True]
    assert united_scores.tolist() == [1.0, 3.0, 3.0, 3.0, 3.0, 2.0, 5.0]


def test_a_name_partly_dropped_by_a_coarse_step_stays_as_it_was() -> None:
    words = split_words("Then James Marshall left.")
    keep = np.array([True, False, True, True, True])
    scores = np.array([1.0, -np.inf, 3.0, 2.0, 5.0])
    fixed = np.zeros(5, dtype=bool)
    united_keep, united_scores = unite_names(name_groups(words), keep, scores, fixed)
    assert united_keep.tolist() == keep.tolist()
    assert united_scores.tolist() == scores.tolist()


PEOPLE = [
    "Margarethe Quillfeather",
    "Teodoro Vasquez Brandt",
    "Ingrid Solveig Haugland",
    "Oluwaseun Adebayo",
    "Henrietta Lacks",
    "Priyanka Raghunathan",
    "Bartholomew J. Crumb",
    "Ximena Olmedo Ruiz",
]


def _roster() -> str:
    roles = ["chaired the review", "wrote the first draft", "ran the field tests", "kept the budget"]
    lines = [
        f"{name} {roles[i % len(roles)]} in the spring, and afterwards the team thanked {name.split()[0]} warmly."
        for i, name in enumerate(PEOPLE)
    ]
    return " ".join(lines)


@pytest.mark.parametrize("method", ["llmlingua", "longllmlingua"])
def test_compression_keeps_or_drops_each_name_whole(compressor: Compressor, method: str) -> None:
    text = _roster()
    result = compressor.compress(
        text, rate=0.3, method=method, question="Who ran the field tests?" if method == "longllmlingua" else ""
    )
    kept = np.zeros(len(result.original_text), dtype=bool)
    for start, end in result.kept_spans:
        kept[start:end] = True
    partial = []
    for name in PEOPLE:
        match = re.search(re.escape(name), result.original_text)
        assert match is not None
        word_kept = [kept[match.start() + m.start() : match.start() + m.end()].all() for m in re.finditer(r"\w+", name)]
        if any(word_kept) and not all(word_kept):
            partial.append(name)
    assert not partial, f"names cut inside: {partial}\n{result.compressed_text}"
    assert result.compressed_tokens <= result.origin_tokens * 0.4


def test_the_budget_search_never_stops_inside_a_name() -> None:
    from lingua_core.budget import fit_to_budget

    # Ten words, one word per token; words 3-5 are one name with tied scores. Every target
    # that would need part of the name is met by taking all of it or none of it.
    scores = np.array([9.0, 8.0, 7.0, 5.0, 5.0, 5.0, 3.0, 2.0, 1.0, 0.5])
    groups = np.array([-1, -1, -1, 0, 0, 0, -1, -1, -1, -1])
    nothing = np.zeros(10, dtype=bool)
    for target in range(1, 10):
        keep = fit_to_budget(nothing, scores, nothing, lambda k: int(k.sum()), target, tolerance=0.0, groups=groups)
        assert keep[3:6].all() or not keep[3:6].any(), (target, keep)
