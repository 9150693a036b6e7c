"""Per-word keep scores (the data behind an editor's heat view), and a selection's question."""

from __future__ import annotations

from lingua_core.api import span_word_scores


def test_share_of_each_word_kept() -> None:
    text = "alpha beta gamma"
    scores = span_word_scores(text, [(0, 5), (8, 10)])
    assert [(w.start, w.end) for w in scores] == [(0, 5), (6, 10), (11, 16)]
    assert [w.probability for w in scores] == [1.0, 0.5, 0.0]
    assert [w.kept for w in scores] == [True, True, False]


def test_no_words() -> None:
    assert span_word_scores("  \n ", [(0, 2)]) == ()


def test_causal_compression_reports_word_scores(compressor, gsm8k_prompt: str) -> None:  # type: ignore[no-untyped-def]
    text = gsm8k_prompt[:1500]
    result = compressor.compress(text, rate=0.5, word_scores=True)
    assert result.word_scores
    assert all(0.0 <= w.probability <= 1.0 for w in result.word_scores)
    kept = [w for w in result.word_scores if w.kept]
    dropped = [w for w in result.word_scores if not w.kept]
    assert kept and dropped
    # every fully kept word appears in the compressed text
    for w in kept:
        if w.probability == 1.0:
            assert text[w.start : w.end] in result.compressed_text


def test_trailing_question_becomes_the_question() -> None:
    from lingua_core import Prompt

    prompt = Prompt.with_trailing_question("Doc one.\n\nDoc two.\n\nWhat is in doc two?\n")
    assert prompt.contexts == ("Doc one.\n\nDoc two.",)
    assert prompt.question == "What is in doc two?"
    assert prompt.text == "Doc one.\n\nDoc two.\n\nWhat is in doc two?"
    plain = Prompt.with_trailing_question("Summarise this.\n\nIt is long.")
    assert plain.question == "" and plain.contexts == ("Summarise this.\n\nIt is long.",)
