"""Document and sentence ranking on the real embedded model.

The coarse steps decide what an LLM gets to read at all; these tests fail when a ranking
runs the wrong way (the question-aware direction flipped, plain perplexity read upside
down) or a ranking option stops reaching the result.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from lingua_core import Compressor, Prompt
from lingua_core.integrity import check_integrity
from lingua_core.methods.llmlingua import LLMLinguaOptions, Reorder
from lingua_core.prompt import SEPARATOR
from tests.core.conftest import InlineCli

QUESTION = "What color does the hub's light turn during pairing?"
ANSWER = 4  # the index of the one document that answers it
DOCUMENTS = (
    "The Amstel brewery opened in Amsterdam in 1870 and was bought by Heineken in 1968.",
    "Penguins live mostly in the Southern Hemisphere and cannot fly, but they swim very fast.",
    "The museum is closed on Mondays, and tickets cost twelve euros for adults.",
    "Tomatoes grow best in full sun and need watering every morning in summer.",
    "To pair the hub, hold the button on its back until the light turns blue, then open the app.",
    "The river Thames flows through London and reaches the North Sea at its estuary.",
    "Chess players in tournaments must record every move they make on a score sheet.",
    "The bakery on the corner sells rye bread on Saturdays and closes early on Sundays.",
)
# No slack over the target for the document filter (the default lets 100 extra LM tokens
# through, which keeps every one of these short documents).
PLAIN = LLMLinguaOptions(context_budget=0)
QUESTION_AWARE = dataclasses.replace(PLAIN, question_aware=True)


def _documents_prompt() -> Prompt:
    return Prompt(contexts=DOCUMENTS, question=QUESTION)


def _compress(compressor: Compressor, options: LLMLinguaOptions, target_tokens: int = 60):  # type: ignore[no-untyped-def]
    return compressor.compress(_documents_prompt(), target_tokens=target_tokens, options=options)


def test_the_answering_document_survives_the_filter_and_unrelated_ones_go(compressor: Compressor) -> None:
    result = _compress(compressor, QUESTION_AWARE)
    kept = result.details["kept_contexts"]
    assert ANSWER in kept
    assert len(kept) < len(DOCUMENTS)
    assert check_integrity(result.original_text, result.compressed_text).total() == 0


@pytest.mark.parametrize("reorder", [Reorder.SORT, Reorder.TWO_STAGE])
def test_reordering_puts_the_answering_document_first(compressor: Compressor, reorder: Reorder) -> None:
    result = _compress(compressor, dataclasses.replace(QUESTION_AWARE, reorder=reorder))
    kept = result.details["kept_contexts"]
    assert kept[0] == ANSWER
    assert kept != sorted(kept)  # the order is the ranking's, not the input's
    # The kept words are still the user's, mapped back into the original prompt.
    for start, end in result.kept_spans:
        assert result.original_text[start:end].strip()


def test_without_the_question_the_ranking_changes(compressor: Compressor) -> None:
    """Plain LLMLingua ranks by information, not by the question: the question-aware
    ranking must be what puts the answering document first."""
    options = dataclasses.replace(PLAIN, reorder=Reorder.SORT)
    plain = compressor.compress(_documents_prompt(), target_tokens=60, options=options, method="llmlingua")
    aware = _compress(compressor, dataclasses.replace(QUESTION_AWARE, reorder=Reorder.SORT))
    assert plain.details["kept_contexts"] != aware.details["kept_contexts"]


def test_plain_ranking_drops_the_predictable_demonstration_first(compressor: Compressor) -> None:
    predictable = "Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday, Monday, Tuesday, Wednesday."
    contexts = (*DOCUMENTS[:4], predictable, *DOCUMENTS[5:])
    result = compressor.compress(Prompt(contexts=contexts), target_tokens=40, method="llmlingua", options=PLAIN)
    kept = result.details["kept_contexts"]
    assert 4 not in kept and len(kept) >= 1


def _kept_share(result, index: int) -> float:  # type: ignore[no-untyped-def]
    """Share of document ``index``'s characters that the compression kept."""
    start = result.original_text.index(DOCUMENTS[index])
    end = start + len(DOCUMENTS[index])
    kept = sum(max(0, min(e, end) - max(s, start)) for s, e in result.kept_spans)
    return kept / (end - start)


def test_dynamic_ratio_gives_the_best_document_more_of_the_budget(compressor: Compressor) -> None:
    options = dataclasses.replace(QUESTION_AWARE, reorder=Reorder.SORT, dynamic_ratio=0.4)
    result = _compress(compressor, options, target_tokens=110)
    kept = result.details["kept_contexts"]
    assert kept[0] == ANSWER and len(kept) >= 3
    assert _kept_share(result, kept[0]) > _kept_share(result, kept[-1])


def test_contrastive_scoring_off_still_ranks_by_the_question(compressor: Compressor) -> None:
    result = _compress(compressor, dataclasses.replace(QUESTION_AWARE, contrastive=False, reorder=Reorder.SORT))
    assert result.details["kept_contexts"][0] == ANSWER


def test_sentence_filter_keeps_words_of_the_users_text(compressor: Compressor) -> None:
    """The sentence filter drops sentences inside the kept documents; the result must still
    map back onto the original prompt (it once raised IndexError here)."""
    paragraph = " ".join(DOCUMENTS)
    prompt = Prompt(contexts=(paragraph, "Short second document about nothing in particular."), question=QUESTION)
    options = dataclasses.replace(QUESTION_AWARE, use_sentence_filter=True)
    result = compressor.compress(prompt, target_tokens=50, options=options)
    assert result.compressed_text.endswith(QUESTION)
    body = result.compressed_text.removesuffix(QUESTION)
    assert len(body) < len(paragraph)
    assert check_integrity(result.original_text, result.compressed_text).total() == 0
    # Every kept span lies inside the user's text, and they rebuild the output's words.
    rebuilt = "".join(result.original_text[s:e] for s, e in result.kept_spans)
    assert "".join(rebuilt.split()) == "".join(result.compressed_text.split())
    assert "blue" in result.compressed_text or "pair" in result.compressed_text


def test_question_flag_on_the_cli_runs_question_aware_compression(tmp_path, inline_cli: InlineCli) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "documents.md"
    source.write_text(SEPARATOR.join(DOCUMENTS), encoding="utf-8")
    proc = inline_cli("compress", str(source), "--question", QUESTION, "--target-tokens", "60", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    assert data["method"] == "longllmlingua"
    assert data["compressed_prompt"].endswith(QUESTION)
    assert "hub" in data["compressed_prompt"]
