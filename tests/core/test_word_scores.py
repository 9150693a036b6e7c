"""Per-word keep scores (the data behind an editor's heat view), and a selection's question."""

from __future__ import annotations


def test_causal_compression_reports_word_scores(compressor, gsm8k_prompt: str) -> None:  # type: ignore[no-untyped-def]
    text = gsm8k_prompt[:1500]
    result = compressor.compress(text, rate=0.5, word_scores=True)
    assert result.word_scores
    assert all(0.0 <= w.probability <= 1.0 for w in result.word_scores)
    kept = [w for w in result.word_scores if w.kept]
    dropped = [w for w in result.word_scores if not w.kept]
    assert kept and dropped
    # the verdicts are the output's: a kept word lies inside the kept spans, a dropped one outside
    spans = result.kept_spans

    def inside(start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in spans)

    def touches(start: int, end: int) -> bool:
        return any(a < end and start < b for a, b in spans)

    assert all(inside(w.start, w.end) for w in kept)
    assert not any(touches(w.start, w.end) for w in dropped)
    # words ranked higher are kept more often
    top = sorted(result.word_scores, key=lambda w: w.probability)[len(result.word_scores) // 2 :]
    bottom = sorted(result.word_scores, key=lambda w: w.probability)[: len(result.word_scores) // 2]
    assert sum(w.kept for w in top) > sum(w.kept for w in bottom)


def test_trailing_question_becomes_the_question() -> None:
    from lingua_core import Prompt

    prompt = Prompt.with_trailing_question("Doc one.\n\nDoc two.\n\nWhat is in doc two?\n")
    assert prompt.contexts == ("Doc one.\n\nDoc two.",)
    assert prompt.question == "What is in doc two?"
    assert prompt.text == "Doc one.\n\nDoc two.\n\nWhat is in doc two?"
    plain = Prompt.with_trailing_question("Summarise this.\n\nIt is long.")
    assert plain.question == "" and plain.contexts == ("Summarise this.\n\nIt is long.",)
