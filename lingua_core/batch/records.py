"""The records of a batch job, read from JSONL, Parquet or a folder of text files.

A corpus has bad rows: an empty text, a number where the text should be, a line that is not
JSON, a file that is not UTF-8, a text longer than anyone should compress in one go. Each
becomes a record that carries its error, so the job writes it with the reason and goes on;
nothing in the input stops the run or loses the rows around it.

Ids are what resume keys on, so they must be stable and unique: the id field when the user
names one, else the line number (one file) or ``file:line`` (a folder), or the file's path
relative to the folder for text files. A repeated id is an error on its later rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lingua_core.errors import InputError

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet",)
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".prompt", ".prompty", ".text")
MAX_TEXT_BYTES = 4 * 1024 * 1024  # the CLI's limit for one prompt


@dataclass(frozen=True)
class Fields:
    """Which fields of a JSON or Parquet row hold what; None: the row has no such field."""

    text: str = "text"
    question: str | None = None
    instruction: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Record:
    id: str
    text: str = ""
    question: str = ""
    instruction: str = ""
    error: str = ""  # why the record cannot be compressed; empty when it can


def _text_field(row: dict[str, Any], name: str | None, required: bool) -> tuple[str, str]:
    """(value, error) of one field of a row."""
    if name is None:
        return "", ""
    if name not in row or row[name] is None:
        return "", f"no {name!r} field" if required else ""
    value = row[name]
    if not isinstance(value, str):
        return "", f"field {name!r} is {type(value).__name__}, not text"
    return value, ""


def record_from_row(row: Any, default_id: str, fields: Fields) -> Record:
    """A record from one parsed row, with the first problem it has as its error."""
    if not isinstance(row, dict):
        return Record(default_id, error=f"row is {type(row).__name__}, not an object")
    record_id = default_id
    if fields.id is not None:
        value = row.get(fields.id)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) != "":
            record_id = str(value)
        else:
            return Record(default_id, error=f"no usable {fields.id!r} id field")
    text, error = _text_field(row, fields.text, required=True)
    question, question_error = _text_field(row, fields.question, required=False)
    instruction, instruction_error = _text_field(row, fields.instruction, required=False)
    error = error or question_error or instruction_error or text_problem(text)
    return Record(record_id, text, question, instruction, error)


def text_problem(text: str) -> str:
    if not text.strip():
        return "empty text"
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT_BYTES:
        return f"text is {size / 1e6:.1f} MB; at most {MAX_TEXT_BYTES // (1024 * 1024)} MB per record"
    return ""


def _jsonl_rows(lines: Iterable[bytes], prefix: str) -> Iterator[tuple[str, Any, str]]:
    """(default id, parsed row or None, error) per non-blank line."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        default_id = f"{prefix}{number}"
        try:
            yield default_id, json.loads(raw.decode("utf-8")), ""
        except UnicodeDecodeError as exc:
            yield default_id, None, f"line {number} is not valid UTF-8 (byte {exc.start})"
        except json.JSONDecodeError as exc:
            yield default_id, None, f"line {number} is not JSON ({exc.msg})"


def _parquet_rows(source: Path | BinaryIO, name: str, prefix: str) -> Iterator[tuple[str, Any, str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{name} is Parquet; reading it needs pyarrow (pip install 'lingua-prompt[ray]').") from None
    number = 0
    for batch in pq.ParquetFile(source).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            number += 1
            yield f"{prefix}{number}", row, ""


def data_file_records(name: str, handle: BinaryIO, prefix: str, fields: Fields) -> Iterator[Record]:
    """The records of one JSONL or Parquet file (by ``name``'s suffix), open as ``handle``.

    The local reader and the Ray one (which gets each file's bytes from Ray's reader) both
    read through this, so that a file gives the same ids and errors either way."""
    if Path(name).suffix.lower() in PARQUET_SUFFIXES:
        rows = _parquet_rows(handle, name, prefix)
    else:
        rows = _jsonl_rows(handle, prefix)
    for default_id, row, error in rows:
        yield Record(default_id, error=error) if error else record_from_row(row, default_id, fields)


def _text_file_record(path: Path, record_id: str) -> Record:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Record(record_id, error=f"cannot read ({exc.strerror})")
    return text_record(raw, record_id)


def text_record(raw: bytes, record_id: str) -> Record:
    """The record of one text file's bytes."""
    if len(raw) > MAX_TEXT_BYTES:
        return Record(record_id, error=f"text is {len(raw) / 1e6:.1f} MB; at most 4 MB per record")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(record_id, error=f"not valid UTF-8 (byte {exc.start}): is it a text file?")
    return Record(record_id, text, error=text_problem(text))


def data_files(source: Path) -> list[Path]:
    """The JSONL or Parquet files of a folder, in a stable order; none for a text folder."""
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in JSON_SUFFIXES + PARQUET_SUFFIXES)


def text_files(source: Path) -> list[Path]:
    """The text files of a folder, in a stable order."""
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)


def not_a_corpus_file(source: object) -> InputError:
    return InputError(f"{source}: a batch reads .jsonl or .parquet files, or a folder of them or of text files.")


def no_corpus_files(source: object) -> InputError:
    return InputError(f"{source} holds no .jsonl, .parquet or text files ({', '.join(TEXT_SUFFIXES)}).")


def _file_records(path: Path, prefix: str, fields: Fields) -> Iterator[Record]:
    with path.open("rb") as handle:
        yield from data_file_records(path.name, handle, prefix, fields)


def _raw_records(source: Path, fields: Fields) -> Iterator[Record]:
    if source.is_file():
        if source.suffix.lower() not in JSON_SUFFIXES + PARQUET_SUFFIXES:
            raise not_a_corpus_file(source)
        yield from _file_records(source, "", fields)
        return
    if not source.is_dir():
        raise InputError(f"No such file or folder: {source}")
    files = data_files(source)
    if files:
        for path in files:
            yield from _file_records(path, f"{path.relative_to(source).as_posix()}:", fields)
        return
    texts = text_files(source)
    if not texts:
        raise no_corpus_files(source)
    for path in texts:
        yield _text_file_record(path, path.relative_to(source).as_posix())


def unique_ids(records: Iterable[Record]) -> Iterator[Record]:
    """Later records with an id already seen get an error instead of a second output row."""
    seen: dict[str, int] = {}
    for record in records:
        count = seen[record.id] = seen.get(record.id, 0) + 1
        yield record if count == 1 else Record(f"{record.id}#{count}", error=f"duplicate id {record.id!r}")


def read_records(source: Path | str, fields: Fields = Fields()) -> Iterator[Record]:
    """Every record of ``source`` in input order, each with its error if it has one."""
    return unique_ids(_raw_records(Path(source), fields))
