"""BM25 over a prompt's own documents: exact terms, above all the identifiers a question names.

A small LM and a sentence embedder both see ``INC0042`` and ``INC0043`` as nearly the same
text, so among near-duplicate documents they cannot tell which one the question asks about.
A lexical score can, provided the tokenizer keeps identifiers matchable. Each identifier
(``SM-8501``, ``v2.3.1``, a UUID, an e-mail address) yields its whole form, its parts and
its parts run together: the whole form is rare and decides between ``v2.3.1`` and
``v2.1.3`` (same parts); the parts and the joined form still match a question that writes
``SM 8501`` or ``SM8501``.

The corpus is a single prompt (a few to a few hundred documents), so it is indexed afresh on
every call; that takes milliseconds and keeps nothing between prompts.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Word characters joined by one separator form an identifier; a comma joins digits only
# (``1,200``), so a list written without spaces does not turn into one token.
_JOINER = r"(?:[-./:@#+]|(?<=\d),(?=\d))"
# Scripts written without spaces: each character is a token, or a whole sentence would be
# one unmatchable word.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
_WORD = rf"[^\W{_UNSPACED}]+"
_TOKEN = re.compile(rf"[{_UNSPACED}]|{_WORD}(?:{_JOINER}{_WORD})*")
_PART = re.compile(r"[^\W_]+")


@functools.cache
def _stop_words() -> frozenset[str]:
    """NLTK's English list (bm25s ships it): unlike Lucene's, it drops question words (what, how, did)."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def _forms(match: str, stop_words: frozenset[str]) -> Iterator[str]:
    """The ways a question may write what the text wrote as ``match``."""
    parts = _PART.findall(match)
    if len(parts) <= 1:
        if match not in stop_words:
            yield match
        return
    yield match
    joined = "".join(parts)
    if joined != match:
        yield joined
    yield from (part for part in parts if part not in stop_words)


def tokenize(text: str, stop_words: frozenset[str] | None = None) -> list[str]:
    """Lowercased Unicode words and identifiers in every form that should match, stop words out."""
    if not isinstance(text, str) or not text.strip():
        return []
    stop_words = _stop_words() if stop_words is None else stop_words
    normalized = unicodedata.normalize("NFKC", text).casefold()
    return [form for match in _TOKEN.findall(normalized) for form in _forms(match, stop_words)]


def _unique(tokens: list[str]) -> list[str]:
    """A question that repeats a word does not make that word count twice."""
    return list(dict.fromkeys(tokens))


def bm25_scores(documents: Sequence[str], query: str) -> FloatArray:
    """One BM25 score per document (higher is more relevant); 0 wherever nothing matches."""
    scores = np.zeros(len(documents), dtype=np.float64)
    stop_words = _stop_words()
    query_tokens = _unique(tokenize(query, stop_words))
    corpus = [tokenize(document, stop_words) for document in documents]
    if not query_tokens or not any(corpus):
        return scores
    import bm25s

    # bm25s sets its own logger to DEBUG on import, which would put its indexing chatter
    # into any application log configured at INFO.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    index = bm25s.BM25(method="lucene")
    index.index(corpus, show_progress=False)
    ids = index.get_tokens_ids(query_tokens)
    if not ids:
        return scores
    scores[:] = index.get_scores_from_ids(ids)
    return np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
