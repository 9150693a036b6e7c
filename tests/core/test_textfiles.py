"""Every command that reads a user's file says the same one line for the same mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingua_core.errors import InputError
from lingua_core.textfiles import decode_utf8, read_bytes, read_text
from lingua_core.train.jsonl import iter_jsonl


def test_missing_file_is_named_as_the_command_calls_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^No such pairs file: .*missing\.jsonl$"):
        read_bytes(tmp_path / "missing.jsonl", "pairs file")


def test_a_folder_is_refused_with_the_right_article_and_an_optional_hint(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is a directory, not an instructions file\.$"):
        read_text(tmp_path, "instructions file")
    with pytest.raises(InputError, match=r"is a directory, not a source file; pass its files \(e\.g\. .*/\*\.txt\)\.$"):
        read_text(tmp_path, "source file", folder_hint=True)


def test_not_utf8_names_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9")
    with pytest.raises(InputError, match=r"bad\.txt is not valid UTF-8 \(byte 3\): is it a text file\?"):
        read_text(path)
    with pytest.raises(InputError, match=r"^- is not valid UTF-8 \(byte 0\)"):
        decode_utf8(b"\xff", "-")


def test_windows_newlines_read_as_on_linux(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"one\r\ntwo\rthree\n")
    assert read_text(path) == "one\ntwo\nthree\n"
    assert read_bytes(path) == b"one\r\ntwo\rthree\n"  # bytes stay as on disk (hashed, size-checked)


def test_jsonl_lines_are_cut_at_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    records = [{"text": "a\u2028b\x85c"}, {"text": "d"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in records), encoding="utf-8")
    assert [record for _, record in iter_jsonl(path)] == records
