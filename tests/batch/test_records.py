"""Reading a corpus: every row becomes a record, bad ones with their reason, ids unique and stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lingua_core.batch.records import MAX_TEXT_BYTES, Fields, Record, read_records
from lingua_core.errors import InputError


def _jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_every_line_becomes_a_record_and_bad_ones_say_why(tmp_path: Path) -> None:
    source = _jsonl(
        tmp_path / "in.jsonl",
        [
            json.dumps({"text": "Summarise the report.", "q": "What grew?"}).encode(),
            json.dumps({"text": ""}).encode(),
            json.dumps({"text": 42}).encode(),
            b"{not json",
            b"",  # a blank line is no record
            json.dumps({"body": "the wrong field"}).encode(),
            b'{"text": "caf\xe9"}',  # Latin-1, not UTF-8
            json.dumps({"text": "x" * (MAX_TEXT_BYTES + 1)}).encode(),
            json.dumps(["a list"]).encode(),
            json.dumps({"text": "Last one."}).encode(),
        ],
    )
    records = list(read_records(source, Fields(question="q")))
    assert [r.id for r in records] == ["1", "2", "3", "4", "6", "7", "8", "9", "10"]
    assert records[0] == Record("1", "Summarise the report.", question="What grew?")
    errors = {r.id: r.error for r in records}
    assert errors["2"] == "empty text"
    assert errors["3"] == "field 'text' is int, not text"
    assert errors["4"].startswith("line 4 is not JSON")
    assert errors["6"] == "no 'text' field"
    assert errors["7"].startswith("line 7 is not valid UTF-8")
    assert "at most 4 MB" in errors["8"]
    assert errors["9"] == "row is list, not an object"
    assert errors["10"] == "" and records[-1].text == "Last one."


def test_an_id_field_names_records_and_a_repeated_id_is_an_error(tmp_path: Path) -> None:
    rows = [{"doc": "a", "text": "one"}, {"doc": 7, "text": "two"}, {"doc": "a", "text": "three"}, {"text": "four"}]
    source = _jsonl(tmp_path / "in.jsonl", [json.dumps(row).encode() for row in rows])
    records = list(read_records(source, Fields(id="doc")))
    assert [(r.id, r.text, r.error) for r in records[:2]] == [("a", "one", ""), ("7", "two", "")]
    assert records[2].id == "a#2" and records[2].error == "duplicate id 'a'"
    assert records[3].error == "no usable 'doc' id field"
    assert len({r.id for r in records}) == len(records)


def test_a_folder_of_jsonl_files_prefixes_line_ids_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "part").mkdir()
    _jsonl(tmp_path / "b.jsonl", [json.dumps({"text": "bee"}).encode()])
    _jsonl(tmp_path / "part" / "a.jsonl", [json.dumps({"text": "ay"}).encode(), json.dumps({"text": "ay2"}).encode()])
    (tmp_path / "notes.txt").write_text("ignored beside data files", encoding="utf-8")
    assert [(r.id, r.text) for r in read_records(tmp_path)] == [
        ("b.jsonl:1", "bee"),
        ("part/a.jsonl:1", "ay"),
        ("part/a.jsonl:2", "ay2"),
    ]


def test_a_folder_of_text_files_is_one_record_per_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "system.prompt.md").write_text("You are a careful assistant.\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Answer briefly.", encoding="utf-8")
    (tmp_path / "blob.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # not a text suffix: not a record
    records = {r.id: r for r in read_records(tmp_path)}
    assert sorted(records) == ["a.txt", "blob.txt", "empty.md", "sub/system.prompt.md"]
    assert records["a.txt"].text == "Answer briefly." and not records["a.txt"].error
    assert "not valid UTF-8" in records["blob.txt"].error
    assert records["empty.md"].error == "empty text"


def test_inputs_that_are_no_corpus_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file or folder"):
        list(read_records(tmp_path / "missing.jsonl"))
    (tmp_path / "prompt.docx").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"reads \.jsonl or \.parquet"):
        list(read_records(tmp_path / "prompt.docx"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds no \.jsonl"):
        list(read_records(tmp_path / "empty"))
