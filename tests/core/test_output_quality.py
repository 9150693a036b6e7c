"""What compression produces on the real embedded model: whole words, intact facts and shape.

Each test pins one rule of the word-level data path on a prompt where breaking the rule is
likely (numbers a small LM finds predictable, ids it would cut, line structure it would
flatten). They use the session's real SmolLM2, never a stub.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lingua_core import LLMLinguaOptions
from lingua_core.integrity import check_integrity
from lingua_core.methods.iterative import IterativeSettings, Scoring
from tests.core.conftest import file_id, prompt_files

SUPPORT_PROMPT = """\
You are a support assistant for {product_name}. Answer only from the articles below.

Article 1: Pairing the hub. The hub pairs with the app over Bluetooth and then switches to the home Wi-Fi network. \
Only 2.4 GHz networks are supported; 5 GHz networks do not appear in the list. If pairing fails three times, \
restart the hub by unplugging it for ten seconds.

Article 2: Incidents. Ticket SM-8501 was opened by Priyanka Raman in Tallinn on 18 September 2033 at 12:45 and \
closed after a refund of $1,200. Ticket INC0042 concerns firmware v2.3.1 on host 10.0.0.1 and is still open.

Article 3: Privacy. Readings are stored on the hub for thirty days and uploaded to the cloud only when the \
customer enables history in the app. Customers can export their data as a CSV file at any time.
"""

FACTS = ["SM-8501", "INC0042", "v2.3.1", "10.0.0.1", "$1,200", "12:45", "{product_name}"]


def words_of(text: str) -> list[str]:
    return re.findall(r"\S+", text)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """LLMLingua-2 on a tiny random-weight BERT: its word choice means nothing, but the path
    from its scores to the text (whole words, whitespace, protection) is the real one."""
    from lingua_core import Compressor
    from tests.core.test_llmlingua2 import _tiny_bert

    return Compressor.load(str(_tiny_bert(tmp_path_factory.mktemp("classifier") / "model")))


QUESTION = "Which firmware version does ticket INC0042 concern?"


@pytest.mark.parametrize("rate", [0.5, 0.33])
@pytest.mark.parametrize("method", ["llmlingua", "longllmlingua", "llmlingua2"])
def test_output_is_the_inputs_whole_words_in_order(compressor, classifier, method: str, rate: float) -> None:  # type: ignore[no-untyped-def]
    from lingua_core import Prompt
    from lingua_core.budget import BUDGET_TOLERANCE

    engine = classifier if method == "llmlingua2" else compressor
    question = QUESTION if method == "longllmlingua" else ""
    prompt = Prompt(contexts=tuple(SUPPORT_PROMPT.split("\n\n")), question=question)
    result = engine.compress(prompt, rate=rate, method=method)
    assert result.method == method
    report = check_integrity(prompt.text, result.compressed_text)
    assert report.fragments == 0, report
    assert report.fused_words == 0, report
    assert report.doubled_words == 0, report
    assert report.lost_placeholders == 0, report
    assert report.bracket_imbalance == 0, report
    # the kept spans are the output, in the original's order
    spans = list(result.kept_spans)
    assert spans == sorted(spans)
    rebuilt = "".join(prompt.text[s:e] for s, e in spans)
    assert "".join(rebuilt.split()) == "".join(result.compressed_text.split())
    target = result.target_tokens
    assert target is not None
    assert abs(result.compressed_tokens - target) <= BUDGET_TOLERANCE * target + 1, result.compressed_tokens
    if question:
        assert result.compressed_text.endswith(question)


def _sentence_of(text: str, fact: str) -> tuple[int, int]:
    at = text.index(fact)
    start = max(text.rfind(". ", 0, at) + 2, text.rfind("\n", 0, at) + 1)
    end = text.find(".", text.find(fact) + len(fact))
    return start, (end + 1 if end >= 0 else len(text))


def test_facts_survive_whole_or_go_with_their_sentence(compressor) -> None:  # type: ignore[no-untyped-def]
    result = compressor.compress(SUPPORT_PROMPT, rate=0.5)
    out = result.compressed_text
    for fact in FACTS:
        if fact in out:
            continue
        # allowed only if its whole sentence was dropped: nothing of it is kept
        start, end = _sentence_of(SUPPORT_PROMPT, fact)
        inside = [SUPPORT_PROMPT[max(s, start) : min(e, end)] for s, e in result.kept_spans if s < end and e > start]
        assert not any(re.search(r"\w", piece) for piece in inside), (fact, inside, out)
    assert "{product_name}" in out
    without_whole = out.replace("SM-8501", "").replace("v2.3.1", "")
    for fragment in ("SM-0", "SM-85", "v2.3"):
        assert fragment not in without_whole
    if "5 GHz" in out:
        assert "not appear" in out, out  # the negation stays with the word it negates
    report = check_integrity(SUPPORT_PROMPT, out)
    assert report.cut_numbers == 0, report


RELEASE_PROMPT = (
    "# Role\n"
    "You are the release assistant of the Nimbus team and you help engineers ship new versions safely.\n\n"
    "## Rules\n"
    "Never publish a release on a Friday afternoon, whatever the engineer says about the deadline.\n"
    "Do not share the signing key with anyone, not even with members of the team who ask for it politely.\n"
    "The full checklist for every release lives at https://wiki.example.com/nimbus/release-checklist#steps "
    "and it must be followed from the first step to the last one.\n\n"
    "## Output\n"
    "Answer in two or three short sentences, and always give the link to the checklist at the end."
)


def test_headings_urls_and_negations_survive_on_the_default_method(compressor) -> None:  # type: ignore[no-untyped-def]
    prompt = RELEASE_PROMPT
    result = compressor.compress(prompt, rate=0.5)
    out = result.compressed_text
    lines = out.splitlines()
    for heading in ("# Role", "## Rules", "## Output"):
        assert heading in lines, out
    assert "https://wiki.example.com/nimbus/release-checklist#steps" in out
    assert "Never publish" in out, out
    assert re.search(r"not share", out), out
    assert check_integrity(prompt, out).total() == 0


def test_a_heavy_dropped_sentence_lets_lighter_ones_come_back(compressor) -> None:  # type: ignore[no-untyped-def]
    """At 2.5x the sentence holding the long link goes whole; that frees enough budget for the
    role and the output instruction, which were dropped before it, to stay as shortened
    sentences rather than leave two rules untouched under empty headings."""
    out = compressor.compress(RELEASE_PROMPT, rate=0.4).compressed_text
    sections = dict(re.findall(r"^#+ (\w+)\n(.*?)(?=\n\n|\Z)", out, flags=re.M | re.S))
    assert set(sections) == {"Role", "Rules", "Output"}, out
    assert all(len(words_of(body)) >= 4 for body in sections.values()), out
    assert "Never publish" in sections["Rules"], out


def test_the_setup_demo_keeps_its_frequencies(compressor) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "scripts" / "sample_prompt.md").read_text(encoding="utf-8")
    result = compressor.compress(text, rate=0.33)
    assert "2.4 GHz" in result.compressed_text
    assert "5 GHz" in result.compressed_text
    assert check_integrity(text, result.compressed_text).fused_words == 0


def test_role_lines_and_front_matter_delimiters_survive(compressor) -> None:  # type: ignore[no-untyped-def]
    prompty = (
        "---\nname: Support\ndescription: A support chat prompt\nmodel:\n  api: chat\n---\n"
        "system:\nYou are an assistant that answers questions about the product catalogue in a short and "
        "friendly way, always citing the product name and the price that the catalogue lists for it.\n\n"
        "user:\n{{question}}\n"
    )
    result = compressor.compress(prompty, rate=0.6)
    lines = result.compressed_text.splitlines()
    assert lines[0] == "---"
    assert "system:" in lines and "user:" in lines
    assert "{{question}}" in result.compressed_text
    # a selection that starts inside the front matter keeps its closing delimiter
    inside = prompty[prompty.index("description") :]
    out = compressor.compress(inside, rate=0.6).compressed_text
    assert "\n---\n" in out


def test_numbered_steps_keep_their_markers_and_lines(compressor) -> None:  # type: ignore[no-untyped-def]
    steps = (
        "Follow these steps carefully to extract the graph.\n"
        "1. Identify all entities that are mentioned in the text and give each one a name and a type.\n"
        "2. From the entities identified in step 1, identify all pairs of entities that are clearly related.\n"
        "3. Return the output in English as a single list of all the entities and relationships.\n"
    )
    out = compressor.compress(steps, rate=0.5).compressed_text
    markers = [line.split(" ", 1)[0] for line in out.splitlines() if line[:1].isdigit()]
    assert markers == ["1.", "2.", "3."], out
    assert all(len(line.split()) >= 3 for line in out.splitlines() if line[:1].isdigit()), out


def test_a_json_output_example_still_parses(compressor) -> None:  # type: ignore[no-untyped-def]
    import json

    prompt = (
        "Summarise the report for the analyst and score its importance from 0 to 100.\n"
        "Return your answer as JSON in exactly this format:\n"
        '{"title": "A short title that names the main finding of the report",\n'
        ' "points": [{"description": "The first key point of the report in one sentence", "score": 80}],\n'
        ' "sources": ["report ids that support the point"]}\n'
        "Do not add any text before or after the JSON, and do not invent report ids that were not given."
    )
    out = compressor.compress(prompt, rate=0.4).compressed_text
    start, end = out.index("{"), out.rindex("}") + 1
    parsed = json.loads(out[start:end])
    assert set(parsed) == {"title", "points", "sources"}
    assert parsed["points"][0]["score"] == 80


def test_own_token_scoring_drops_the_filler_the_shifted_rule_keeps(compressor) -> None:  # type: ignore[no-untyped-def]
    """The shifted rule scores a word by the surprise of the *next* one, so a predictable
    "the" before a rare name survives and the name's own surprise is ignored."""
    text = (
        "The meeting with the Zorblax delegation is on the morning of the Quenthar festival, "
        "and the budget of the Vellmoor project is the first item on the agenda of the day."
    )
    own = LLMLinguaOptions(min_sentence_rate=0.0, keep_sentence_ends=False)
    shifted = replace(own, iterative=IterativeSettings(scoring=Scoring.NEXT_TOKEN))

    def kept_share(options: LLMLinguaOptions, word: str) -> float:
        out = compressor.compress(text, rate=0.4, options=options, exact_budget=False).compressed_text
        tokens = words_of(out)
        return sum(t.strip(",.").lower() == word for t in tokens) / max(1, text.lower().split().count(word))

    assert kept_share(own, "the") < kept_share(shifted, "the")
    names = ["Zorblax", "Quenthar", "Vellmoor"]
    own_out = compressor.compress(text, rate=0.4, options=own, exact_budget=False).compressed_text
    assert sum(name in own_out for name in names) >= 2, own_out


def test_tight_budgets_drop_whole_sentences_and_say_what_was_protected(compressor) -> None:  # type: ignore[no-untyped-def]
    repeated = "The hub stores readings for thirty days. " * 3
    text = (
        "Readings are uploaded every 15 minutes to the cloud. " + repeated + "The clamp must never be placed "
        "around the neutral and live cables together, because the two currents cancel and the reading is zero."
    )
    result = compressor.compress(text, rate=0.3)
    assert result.details["dropped_sentences"] > 0
    assert result.details["protected_tokens"] > 0
    # a repeated sentence goes before the new facts
    assert result.compressed_text.count("thirty days") <= 1
    kept_sentences = [s for s in re.split(r"(?<=\.)\s+", result.compressed_text) if s]
    # every surviving sentence keeps a good share of its words: readable, not shredded
    for sentence in kept_sentences:
        assert len(words_of(sentence)) >= 3, result.compressed_text


def test_protection_beyond_the_budget_is_reported(compressor) -> None:  # type: ignore[no-untyped-def]
    text = "Codes: " + " ".join(f"AB-{1000 + i}" for i in range(60)) + ". Please keep all of them in the reply."
    result = compressor.compress(text, target_tokens=20)
    assert result.compressed_tokens > 20
    assert "cannot be met" in result.details["budget_note"]
    assert all(f"AB-{1000 + i}" in result.compressed_text for i in range(60))


def test_ratio_reached_is_within_the_promised_tolerance(compressor) -> None:  # type: ignore[no-untyped-def]
    from lingua_core.budget import BUDGET_TOLERANCE

    for rate in (0.5, 0.33):
        result = compressor.compress(SUPPORT_PROMPT * 3, rate=rate)
        target = result.target_tokens
        assert target is not None
        assert abs(result.compressed_tokens - target) <= BUDGET_TOLERANCE * target + 1, (rate, result.compressed_tokens)
    capped = compressor.compress(SUPPORT_PROMPT * 3, target_tokens=300, ceiling=True)
    assert capped.compressed_tokens <= 300


def test_word_scores_cover_every_word(compressor) -> None:  # type: ignore[no-untyped-def]
    result = compressor.compress(SUPPORT_PROMPT, rate=0.5, word_scores=True)
    assert result.word_scores is not None
    kept = np.asarray([w.kept for w in result.word_scores])
    assert 0 < kept.mean() < 1


@pytest.mark.parametrize("path", prompt_files(), ids=file_id)
def test_real_prompt_templates_come_out_intact(compressed_file, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every template of the shared set: JSON examples with escaped quotes, str.format-escaped
    reports with "[Data: Entities(6), ...]" references, Markdown links, inline code next to
    bold markers, front matter. No placeholder lost, no word cut, no bracket left open."""
    result = compressed_file(path)
    report = check_integrity(path.read_text(encoding="utf-8"), result.compressed_text)
    assert report.total() == 0, report
