"""Tests for the finders of facts: numbers with units, dates, identifiers and quotes.

Most cases are sentences from the real prompts that compression damaged, asserting the
exact protected substrings, plus the prose that must stay compressible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from lingua_core import facts
from lingua_core.protect import ProtectOptions, find_protected_spans

Finder = Callable[[str], Iterator[tuple[int, int]]]


def _found(finder: Finder, text: str) -> list[str]:
    return [text[start:end] for start, end in finder(text)]


# --- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Only 2.4 GHz networks are supported; 5 GHz networks do not appear",
            ["2.4 GHz", "5 GHz"],
        ),
        ("A fine of 649,257 euros was paid.", ["649,257 euros"]),
        ("Prices fell -3.5% to $1,200 or \u20ac20.", ["-3.5%", "$1,200", "\u20ac20"]),
        ("Latency is 12 ms, learning rate 1e-5, 3/4 of runs, 10x faster.", ["12 ms", "1e-5", "3/4", "10x"]),
        ("Use 4096 tokens and 16 GB of RAM.", ["4096 tokens", "16 GB"]),
        ("It grew 12 percent to 5 million dollars.", ["12 percent", "5 million dollars"]),
        ("The $8bn swap; jailed for 8 years.", ["$8bn", "8 years"]),
        ("Pay USD 100 at 20\u00b0C on the 21st.", ["USD 100", "20\u00b0C", "21st"]),
        ("The comma appeared in the 9th century, not on the 3rd floor.", ["9th century", "3rd"]),
        ("Score between 0-100, range of 3.5%-3.75%.", ["0", "100", "3.5%", "3.75%"]),
        ("(1, 3) and 1, 2, 3", ["1", "3", "1", "2", "3"]),
    ],
)
def test_numbers_with_units(text: str, expected: list[str]) -> None:
    assert _found(facts.find_numbers, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Send 5 apples and 3 pears.",  # "apples" is not a unit
        "Option 2 A is better than 1 s...",  # spaced single letters are words
        "Wait 5 in the hall.",
    ],
)
def test_numbers_do_not_swallow_words(text: str) -> None:
    assert all(not any(c.isalpha() for c in found) for found in _found(facts.find_numbers, text))


def test_digits_inside_names_are_not_numbers() -> None:
    assert _found(facts.find_numbers, "v2 T20 x86 SM-8501") == ["8501"]  # the id finder keeps "SM-8501"


# --- dates and times ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Due on 18 September 2033 at 12:45 sharp.", ["18 September 2033 at 12:45"]),
        ("From 2024-03-27 to 03/27/2024.", ["2024-03-27", "03/27/2024"]),
        ("Meet at 12:45 or 9:30 am, else 9 pm.", ["12:45", "9:30 am", "9 pm"]),
        ("Kickoff is after 9pm ET; the call at 10:30 PT, then 11:00 CET.", ["9pm ET", "10:30 PT", "11:00 CET"]),
        ("Signed Sept. 5, 2021 and in March 2024.", ["Sept. 5, 2021", "March 2024"]),
        ("Stamp 2022-01-10T00:00:00 and 2024-03-27T12:45:00Z.", ["2022-01-10T00:00:00", "2024-03-27T12:45:00Z"]),
        ("On Thursday at 1:30 p.m. PDT the chair spoke.", ["1:30 p.m. PDT"]),
        ("Held from October 16 to November 13, 2022.", ["October 16", "November 13, 2022"]),
        ("According to an article on 2022/01/10, Company A", ["2022/01/10"]),
        ("Born 14 March 1879 \u2013 died 18 April 1955.", ["14 March 1879", "18 April 1955"]),
    ],
)
def test_dates(text: str, expected: list[str]) -> None:
    assert _found(facts.find_dates, text) == expected


@pytest.mark.parametrize("text", ["You may march on.", "In May we met.", "Version 1.2.3 and 10.0.0.1"])
def test_not_dates(text: str) -> None:
    assert _found(facts.find_dates, text) == []


# --- identifiers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier",
    [
        "SM-8501",
        "v2.3.1",
        "INC0042",
        "10.0.0.1",
        "gpt-4o",
        "snake_case_name",
        "camelCaseName",
        "src/app/main.py",
        "./config.yaml",
        "C:\\x\\y",
        "#1234",
        "ISO-8601",
        "__init__",
        "name.prompt.md",
        "--verbose",
        "/docs/ways-of-work/plan",
    ],
)
def test_identifiers(identifier: str) -> None:
    text = f"See {identifier}, then go on."
    assert _found(facts.find_identifiers, text) == [identifier]


@pytest.mark.parametrize(
    "text",
    [
        "A well-known set-up for time-of-use tariffs.",
        "Done. Then stop.",
        "Use and/or CI/CD, e.g. or i.e. in the U.S. today.",
        "Some _emphasis_ here.",
        "A closing </doc> tag and a /command.",
        "Three words---no spaces...here",
    ],
)
def test_not_identifiers(text: str) -> None:
    assert _found(facts.find_identifiers, text) == []


def test_identifiers_from_graphrag_format_lines() -> None:
    text = "- entity_name: Name of the entity, capitalized\n- entity_type: One of [{entity_types}]"
    assert _found(facts.find_identifiers, text) == ["entity_name", "entity_type", "entity_types"]


# --- quotes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Click "Add device" and run `lingua count`.', ['"Add device"', "`lingua count`"]),
        ("Say \u201cyes please\u201d now.", ["\u201cyes please\u201d"]),
        ("Answer with 'approved' or 'rejected'.", ["'approved'", "'rejected'"]),
        ('modal verbs such as "shall", "may" or "will".', ['"shall"', '"may"', '"will"']),
        ('the "end. Then "foo" here', ['"foo"']),  # a stray quote does not pair with the next one
        ("Run `python -m pytest tests/core -q -x --maxfail=3 -k 'not slow'` first.", None),
    ],
)
def test_quotes(text: str, expected: list[str] | None) -> None:
    found = _found(facts.find_quotes, text)
    if expected is None:  # inline code of any short length (the quote inside it overlaps)
        assert text[text.index("`") : text.rindex("`") + 1] in found
    else:
        assert found == expected


@pytest.mark.parametrize(
    "text",
    [
        "I don't know what they've done; it's the users' choice.",
        "The '70s and the '80s were loud.",
        '"This is an example sentence supported by data references [Data: Reports (report ids)]"',
        "Don't 'quote across' words' edges.",
        'href="https://a.b/c" stays a URL',
        "Use ```code``` inline.",
    ],
)
def test_not_quotes(text: str) -> None:
    found = _found(facts.find_quotes, text)
    if "quote across" in text:
        assert found == ["'quote across'"]
    else:
        assert found == []


# --- through find_protected_spans ---------------------------------------------------------

FACTS_ONLY = ProtectOptions(
    keep_code_blocks=False,
    keep_front_matter=False,
    keep_urls=False,
    keep_placeholders=False,
    keep_segment_tags=False,
    keep_role_markers=False,
    keep_negations=False,
    keep_headings=False,
    keep_structure=False,
    keep_format_lines=False,
)


def test_fact_kinds_and_options() -> None:
    text = 'Ticket SM-8501 costs $1,200 on 18 September 2033 at 12:45; press "Add device".'
    spans = find_protected_spans(text, FACTS_ONLY)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("identifier", "SM-8501"),
        ("number", "$1,200"),
        ("date", "18 September 2033 at 12:45"),
        ("quote", '"Add device"'),
    ]
    assert find_protected_spans(text, ProtectOptions.nothing()) == []
    no_numbers = ProtectOptions(keep_numbers=False, keep_negations=False)
    assert [text[s.start : s.end] for s in find_protected_spans(text, no_numbers)] == ["SM-8501", '"Add device"']


@pytest.mark.parametrize(
    "text",
    [
        "Summarize the community's key entities and their relationships in plain words.",
        "A well-known set-up (for most readers) works.",
        "If a < b then stop; otherwise continue with the rest.",
    ],
)
def test_prose_has_no_facts(text: str) -> None:
    assert find_protected_spans(text, FACTS_ONLY) == []
