"""Each integrity check on hand-made compressions of real prompt text: counted when broken,
zero when the compression only drops whole words or sentences."""

from __future__ import annotations

import re
import time

from lingua_core.integrity import align_words, check_integrity

# From GraphRAG's DRIFT primer and claim extraction prompts (shared/data/prompts/graphrag).
PRIMER = (
    "You are a helpful agent designed to reason over a knowledge graph in response to a user query.\n"
    "This is a unique knowledge graph where edges are freeform text rather than verb operators. "
    "You will begin your reasoning looking at a summary of the content of the most relevant communites "
    "and will provide:\n\n"
    "1. score: How well the intermediate answer addresses the query. A score of 0 indicates a poor, "
    "unfocused answer, while a score of 100 indicates a highly focused, relevant answer that addresses "
    "the query in its entirety.\n\n"
    "For the query:\n\n{query}\n\nThe top-ranked community summaries:\n\n{community_reports}\n\nBegin:"
)
CLAIM = (
    "Text: According to an article on 2022/01/10, Company A was fined for bid rigging while participating "
    "in multiple public tenders published by Government Agency B. The company is owned by Person C who was "
    "suspected of engaging in corruption activities in 2015."
)


def test_identity_and_legitimate_compression_are_clean() -> None:
    assert check_integrity(PRIMER, PRIMER).total() == 0
    compressed = (
        "You are agent designed to reason over knowledge graph in response to user query.\n"
        "1. score: How well intermediate answer addresses query. A score of 0 indicates poor answer, "
        "while score of 100 indicates highly focused answer.\n\n"
        "For query:\n\n{query}\n\ncommunity summaries:\n\n{community_reports}\n\nBegin:"
    )
    report = check_integrity(PRIMER, compressed)
    assert report.total() == 0, report
    assert report.problems() == {}


def test_fused_words() -> None:
    original = "You are a friendly\n\nKnowledge assistant. Answer in a event-driven style."
    report = check_integrity(original, "friendlyKnowledge assistant. Answer aevent-driven style.")
    assert report.fused_words == 2
    assert report.fused_examples == ("friendlyKnowledge", "aevent-driven")
    assert report.fragments == 0
    assert report.alien_words == 2
    clean = check_integrity(original, "friendly\nKnowledge assistant. Answer event-driven style.")
    assert clean.fused_words == clean.fragments == 0


def test_fused_across_punctuation() -> None:
    original = "Output the table.\n\nRelationships follow."
    assert check_integrity(original, "Output table.Relationships follow.").fused_words == 1


def test_short_words_do_not_make_a_fragment_fused() -> None:
    original = "The march is at Verdant Oasis Plaza, as is the rally."
    report = check_integrity(original, "march at asis Plaza")
    assert (report.fused_words, report.fragments) == (0, 1)


def test_fragments() -> None:
    original = "Priyanka Sharma ordered part SM-8501 for the 2.4GHz radio, with multiple spares."
    report = check_integrity(original, "ank ordered SM-0 for GHz radio, with multipl spares.")
    assert report.fragments == 4
    assert set(report.fragment_examples) == {"ank", "SM-0", "GHz", "multipl"}
    assert report.fused_words == 0
    # dropping edge punctuation or whole words is not a fragment
    clean = check_integrity(original, "Priyanka ordered SM-8501 for 2.4GHz radio with spares")
    assert clean.fragments == clean.fused_words == 0


def test_lost_placeholders() -> None:
    original = (
        "#user:\n{{ item.inputs.question }}\n{% for item in chat_history %}\n{{ item.outputs.output }}\n"
        "{% endfor %}\nText:\n{input_text}\nrepeat {input_text} ${input:name}"
    )
    compressed = "#user:\n{{ item.inputs.question }}\n{% for item in chat_history %}\nText:\n{input_text}\nrepeat"
    report = check_integrity(original, compressed)
    # {{ item.outputs.output }}, {% endfor %}, one of two {input_text}, ${input:name}
    assert report.lost_placeholders == 4
    assert "{input_text} x1" in report.placeholder_examples
    assert check_integrity(original, re.sub(r"\b(?:repeat|Text:|#user:)", "", original)).lost_placeholders == 0


def test_brace_escapes_are_brackets_not_placeholders() -> None:
    original = "Return JSON like {{'score': int}} for {query}."
    report = check_integrity(original, "Return JSON {{'score': int} for {query}.")
    assert report.lost_placeholders == 0
    assert report.bracket_imbalance == 1


def test_cut_numbers() -> None:
    compressed = (
        "According to an article, Company A was fined for bid rigging while participating in multiple public "
        "tenders published by Government Agency B. The company is owned by Person C who was suspected of "
        "engaging in corruption activities in 2015."
    )
    report = check_integrity(CLAIM, compressed)
    assert report.cut_numbers == 1
    assert report.number_examples == ("2022/01/10,",)
    # a sentence dropped whole takes its numbers with it: not a cut
    whole = "The company is owned by Person C who was suspected of engaging in corruption activities in 2015."
    assert check_integrity(CLAIM, whole).cut_numbers == 0
    # a sentence mostly dropped ("in 2015" left over) is not "kept" either
    assert check_integrity(CLAIM, "Company A was fined. Person C corruption").cut_numbers == 0


def test_doubled_words() -> None:
    original = "Use the data provided to generate follow-up queries. Note that that is fine."
    report = check_integrity(original, "Use the the data to generate generate queries. Note that that is fine.")
    assert report.doubled_words == 2
    assert report.doubled_examples == ("the the", "generate generate")
    # dropping "provided" from "the data provided to" cannot double anything; "that that" was in the input
    assert check_integrity(original, "Use data to generate queries. that that is fine.").doubled_words == 0
    # pure punctuation ("- -", "| |") is ignored
    assert check_integrity("- a\n- b\n| x | y |", "- - | |").doubled_words == 0


def test_bracket_imbalance() -> None:
    original = "[Data: Entities (5), Relationships (37, 38)] and {query}"
    report = check_integrity(original, "[Data: Entities (5), Relationships 37, 38)] and {query")
    assert report.bracket_imbalance == 2
    assert report.bracket_examples == ("(): 1 open, 2 close", "{}: 1 open, 0 close")
    assert check_integrity(original, "[Data: Relationships (37, 38)] {query}").bracket_imbalance == 0
    # an input that was unbalanced to begin with is not blamed on the compressor
    assert check_integrity("smile :) please", "smile please").bracket_imbalance == 0


COMMUNITY = """Output:
{{
    "title": "Verdant Oasis Plaza and Unity March",
    "summary": "The community revolves around the Verdant Oasis Plaza.",
    "rating": 5.0,
    "findings": [
        {{
            "summary": "Verdant Oasis Plaza as the central location"
        }}
    ]
}}

# Real Data

Use the following text for your answer."""


def test_broken_json() -> None:
    broken = COMMUNITY.replace('"rating": 5.0,', '"rating":').replace("    ]\n}}", "")
    report = check_integrity(COMMUNITY, broken)
    assert report.broken_json == 1
    assert report.json_examples[0].startswith("{{")
    plain = COMMUNITY.replace("{{", "{").replace("}}", "}")
    assert check_integrity(plain, plain.replace(" 5.0,", ",")).broken_json == 1


def test_json_kept_or_dropped_whole_is_not_broken() -> None:
    # words dropped inside strings keep it valid
    shorter = COMMUNITY.replace("Plaza and Unity", "Unity").replace(" the following", "")
    assert check_integrity(COMMUNITY, shorter).broken_json == 0
    # the whole example dropped
    dropped = "Output:\n\n# Real Data\n\nUse the following text for your answer."
    assert check_integrity(COMMUNITY, dropped).broken_json == 0


def test_alignment_is_in_order_and_earliest() -> None:
    alignment = align_words("the cat saw the dog , and the bird", "the dog , bird")
    assert alignment.targets == [0, 4, 5, 8]
    # lone punctuation only aligns nearby
    far = align_words("a b c d e f g h i j k l | m", "a |")
    assert far.targets == [0, None]


def test_linear_enough_on_a_long_prompt() -> None:
    text = (PRIMER + "\n\n" + CLAIM + "\n\n" + COMMUNITY + "\n\n") * 90
    words = text.split(" ")
    compressed = " ".join(w for i, w in enumerate(words) if i % 3) + "fused"
    started = time.perf_counter()
    check_integrity(text, compressed)
    assert len(text) > 100_000
    # quadratic alignment takes minutes here; the linear one well under a second (bench/scan.py)
    assert time.perf_counter() - started < 60.0


def test_latex_groups_are_not_counted_as_lost_placeholders() -> None:
    # "binomial{50}{2}" reads as a field to the detector; the "{2}" of a dropped "\\frac{2}{3}" is not one
    original = "Compute binomial{50}{2}. Brian has $\\frac{2}{3}$; write to {name} about {topic}."
    assert check_integrity(original, "Compute binomial{50}{2}. write to {name} about {topic}.").lost_placeholders == 0
    assert check_integrity(original, "Compute binomial{50}{2}. write to {name}.").lost_placeholders == 1
