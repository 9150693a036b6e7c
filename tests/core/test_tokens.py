"""Token counts must equal tiktoken's own, offline, and fail with a fix-it message otherwise.

The reference is tiktoken's own path (its constructors and ``load_tiktoken_bpe`` reading the
prepared folder as ``TIKTOKEN_CACHE_DIR``), so it shares no code with ``lingua_core.tokens``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
import tiktoken
import tiktoken.load
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from lingua_core import tokens
from lingua_core.errors import AssetError, InputError
from lingua_core.paths import tiktoken_dir

ROOT = Path(__file__).resolve().parents[2]
PREPARE = ROOT / "scripts" / "prepare_tiktoken.py"
PROMPTS = ROOT.parent / "shared" / "data" / "prompts"

OFFICIAL = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
ENCODINGS = sorted(OFFICIAL)

TEXTS = {
    "empty": "",
    "ascii": "The quick brown fox jumps over the lazy dog. It's 2025, isn't it?",
    "emoji": "Ship it 🚀🔥 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 skin 👍🏽",
    "cjk": "大型语言模型的提示压缩可以降低成本。東京都の天気は晴れです。",
    "korean": "프롬프트 압축은 비용을 줄입니다. 안녕하세요, 세계!",
    "mixed_scripts": "Ελληνικά, русский, العربية, हिन्दी, ภาษาไทย, Tiếng Việt",
    "code": 'def f(x: int) -> int:\n\treturn x ** 2  # square\n\nprint(f"{f(3)=}")\r\n',
    "endoftext": "before <|endoftext|> after <|endofprompt|> <|fim_prefix|>",
    "whitespace": "  leading\n\n\n   trailing   \n\t\ttabs\r\n\r\nend   ",
    "numbers": "3.14159265358979 1,234,567 0xDEADBEEF 1e-9 ٣٤٥",
    "long_run": "a" * 5000 + " " + "=" * 3000,
}


def _valid(directory: Path) -> bool:
    for name, sha in OFFICIAL.items():
        path = directory / tokens.RANK_FILES[name].cache_name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            return False
    return True


@pytest.fixture(scope="session")
def rank_dir() -> Path:
    """The prepared folder; runs the set-up script once if the files are not there yet."""
    directory = tiktoken_dir()
    if not _valid(directory):
        result = subprocess.run([sys.executable, str(PREPARE)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    assert _valid(directory)
    return directory


@pytest.fixture(scope="session")
def reference(rank_dir: Path) -> Iterator[dict[str, tiktoken.Encoding]]:
    """tiktoken's own encodings, loaded offline from the prepared folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(rank_dir))
        yield {name: tiktoken.get_encoding(name) for name in ENCODINGS}


def _copy_ranks(rank_dir: Path, root: Path) -> Path:
    target = root / "tiktoken"
    target.mkdir(parents=True)
    for name in ENCODINGS:
        cache_name = tokens.RANK_FILES[name].cache_name
        shutil.copyfile(rank_dir / cache_name, target / cache_name)
    return target


def test_rank_files_are_official_and_named_like_tiktokens_cache(rank_dir: Path) -> None:
    for name, sha in OFFICIAL.items():
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        path = rank_dir / hashlib.sha1(url.encode()).hexdigest()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
        assert tokens.rank_file_path(name) == path


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("label", sorted(TEXTS))
def test_counts_match_tiktoken(reference: dict[str, tiktoken.Encoding], encoding: str, label: str) -> None:
    text = TEXTS[label]
    expected = reference[encoding].encode(text, disallowed_special=())
    assert tokens.count_tokens(text, encoding) == len(expected)
    assert tokens.tiktoken_counter(encoding).encode(text) == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_prompt_files_match_tiktoken(reference: dict[str, tiktoken.Encoding], encoding: str) -> None:
    assert PROMPTS.is_dir(), f"the shared evaluation data is expected beside the repo: {PROMPTS}"
    checked = 0
    for path in sorted(PROMPTS.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        assert tokens.count_tokens(text, encoding) == len(reference[encoding].encode_ordinary(text)), path
        checked += 1
    assert checked > 0


def test_encoding_is_tiktokens_own(reference: dict[str, tiktoken.Encoding]) -> None:
    for name in ENCODINGS:
        ours, theirs = tokens.get_encoding(name), reference[name]
        assert ours.name == theirs.name
        assert ours._pat_str == theirs._pat_str
        assert ours._special_tokens == theirs._special_tokens
        assert ours.n_vocab == theirs.n_vocab


def test_load_tiktoken_bpe_reads_the_same_ranks(rank_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # no copy of the file into a cache
    for name, sha in OFFICIAL.items():
        path = rank_dir / tokens.RANK_FILES[name].cache_name
        ranks = tiktoken.load.load_tiktoken_bpe(str(path), expected_hash=sha)
        assert tokens.get_encoding(name)._mergeable_ranks == ranks


def test_tiktoken_cache_dir_serves_llmlingua(rank_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The reference llmlingua package calls exactly this at import.
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(rank_dir))
    assert tiktoken.encoding_for_model("gpt-3.5-turbo").name == "cl100k_base"


def test_special_token_text_is_counted_as_plain_text(
    reference: dict[str, tiktoken.Encoding],
) -> None:
    as_text = tokens.count_tokens("<|endoftext|>")
    assert as_text == len(reference["o200k_base"].encode_ordinary("<|endoftext|>"))
    assert as_text > len(reference["o200k_base"].encode("<|endoftext|>", allowed_special="all"))


def test_default_encoding_is_o200k(rank_dir: Path) -> None:
    assert tokens.count_tokens("hello world") == tokens.count_tokens("hello world", "o200k_base")
    assert tokens.tiktoken_counter().name == "o200k_base"
    assert tokens.get_encoding() is tokens.get_encoding("o200k_base")


def test_unknown_encoding_lists_known_ones() -> None:
    with pytest.raises(InputError, match="cl100k_base, o200k_base"):
        tokens.get_encoding("p50k_base")


def test_missing_rank_file_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(tmp_path))
    with pytest.raises(AssetError, match=r"missing.*python scripts/prepare_tiktoken\.py"):
        tokens.get_encoding("o200k_base")
    with pytest.raises(AssetError, match="prepare_tiktoken"):
        tokens.count_tokens("hi", "cl100k_base")


def test_corrupt_rank_file_is_refused_and_left_alone(
    rank_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _copy_ranks(rank_dir, tmp_path)
    bad = copy / tokens.RANK_FILES["o200k_base"].cache_name
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(tmp_path))

    with pytest.raises(AssetError, match=r"corrupt.*prepare_tiktoken\.py"):
        tokens.get_encoding("o200k_base")
    assert bad.read_bytes() == bytes(data)  # tiktoken's cache would delete it and download
    assert tokens.count_tokens("still fine", "cl100k_base") > 0  # the other file is intact


def test_concurrent_first_loads_build_one_encoding(
    rank_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_ranks(rank_dir, tmp_path)  # a fresh folder, so nothing is cached yet
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(tmp_path))
    start = threading.Barrier(8)

    def load(_: int) -> tiktoken.Encoding:
        start.wait()
        return tokens.get_encoding("cl100k_base")

    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(load, range(8)))
    assert all(encoding is loaded[0] for encoding in loaded)


def test_counter_is_thread_safe(reference: dict[str, tiktoken.Encoding]) -> None:
    counter = tokens.tiktoken_counter("o200k_base")
    texts = list(TEXTS.values()) * 20
    expected = [len(reference["o200k_base"].encode_ordinary(text)) for text in texts]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(counter.count, texts)) == expected


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("GPT-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini-2025-04-16", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-nano", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo:acme::abc123", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("claude-sonnet-4-5", "o200k_base"),
        ("llama-3.1-8b-instruct", "o200k_base"),
        ("gemini-2.5-pro", "o200k_base"),
    ],
)
def test_encoding_for_model(model: str, encoding: str) -> None:
    assert tokens.encoding_for_model(model) == encoding


def _tiny_hf_tokenizer() -> Tokenizer:
    """A real byte-level BPE trained in a blink, with [CLS]/[SEP] added around each input."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["[UNK]", "[CLS]", "[SEP]"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([*TEXTS.values()] * 3, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    return tok


def test_hf_counter_counts_without_special_tokens() -> None:
    tok = _tiny_hf_tokenizer()
    counter = tokens.hf_counter(tok, name="tiny-bpe")
    assert isinstance(counter, tokens.TokenCounter)
    assert counter.name == "tiny-bpe"
    for text in TEXTS.values():
        plain = tok.encode(text, add_special_tokens=False).ids
        assert counter.encode(text) == plain
        assert counter.count(text) == len(plain) == len(tok.encode(text).ids) - 2


def test_hf_counter_with_transformers_tokenizer() -> None:
    transformers = pytest.importorskip("transformers")
    tok = _tiny_hf_tokenizer()
    hf = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, cls_token="[CLS]", sep_token="[SEP]", model_max_length=16
    )
    counter = tokens.hf_counter(hf)
    texts = list(TEXTS.values()) * 10
    expected = [len(tok.encode(text, add_special_tokens=False).ids) for text in texts]
    with ThreadPoolExecutor(8) as pool:
        # Meanwhile the caller keeps using its own tokenizer, with truncation, on another thread.
        side = pool.submit(lambda: [hf(t, truncation=True, max_length=8) for t in texts])
        assert list(pool.map(counter.count, texts)) == expected
        side.result()


def _load_prepare_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prepare_tiktoken", PREPARE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_script_is_idempotent(rank_dir: Path) -> None:
    result = subprocess.run([sys.executable, str(PREPARE)], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert len(lines) == len(OFFICIAL)
    assert all("ok, already prepared" in line for line in lines)


def test_prepare_script_fails_clearly_without_npm(tmp_path: Path) -> None:
    env = {**os.environ, "LINGUA_CACHE_DIR": str(tmp_path), "PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, str(PREPARE)], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert "npm is not on PATH" in result.stderr
    assert "Traceback" not in result.stderr


def test_prepare_script_decodes_multi_line_compressed_ranks(tmp_path: Path) -> None:
    # The shipped files have one contiguous run; the format allows several, possibly unsorted.
    module = _load_prepare_script()
    bpe_ranks = "b 3 ZA== ZQ==\na 0 YQ== Yg== Yw==\n"
    source = "export default " + json.dumps({"pat_str": "", "bpe_ranks": bpe_ranks}) + ";"
    tarball = tmp_path / "pkg.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        payload = source.encode()
        info = tarfile.TarInfo("package/dist/ranks/demo.js")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    assert module.ranks_from_package(tarball, "demo") == (b"YQ== 0\nYg== 1\nYw== 2\nZA== 3\nZQ== 4\n")


def test_parsed_ranks_are_kept_and_a_tampered_copy_is_ignored(
    rank_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first load parses the rank file and keeps the result; the next loads read that copy
    # (the rank file itself could be gone), and a copy whose bytes changed is not trusted.
    copy = _copy_ranks(rank_dir, tmp_path)
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(tmp_path))
    name = "cl100k_base"
    official = tokens._read_ranks(name, copy)
    assert tokens._ranks(name, copy) == official
    parsed = tokens._parsed_path(name, copy)
    assert parsed.is_file()
    (copy / tokens.RANK_FILES[name].cache_name).unlink()
    assert tokens._ranks(name, copy) == official  # from the parsed copy alone

    data = bytearray(parsed.read_bytes())
    data[-10] ^= 0x01  # one rank changed inside the marshalled dict
    parsed.write_bytes(bytes(data))
    with pytest.raises(AssetError, match="missing"):
        tokens._ranks(name, copy)  # the copy is refused, and the rank file to parse again is gone
    _copy_ranks(rank_dir, tmp_path / "again")
    fresh = tmp_path / "again" / "tiktoken"
    parsed_fresh = tokens._parsed_path(name, fresh)
    parsed_fresh.write_bytes(bytes(data))  # the tampered copy beside a good rank file
    assert tokens._ranks(name, fresh) == official
    assert parsed_fresh.read_bytes() != bytes(data)  # replaced by a good one
