"""The local job: shards as it goes, a rerun after a crash finishes it, the output is as if uninterrupted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lingua_core.batch.job import CompressSettings
from lingua_core.batch.local import run_local
from lingua_core.batch.output import parts_dir
from lingua_core.batch.records import Record
from lingua_core.errors import InputError

TEXTS = [
    "Summarise the incident report for the on-call engineer, keeping the service names and times.",
    "",
    "List the three risks the audit found, with the owner of each and the date it is due.",
    "Translate the release notes into plain language for customers; keep version 4.2.1 as is.",
    "Write a short reply to the customer who asked about invoice INV-2231 and its due date.",
]
JOB = {"input": "in-memory", "rate": 0.5}


def _records() -> list[Record]:
    return [Record(str(i), text, error="" if text else "empty text") for i, text in enumerate(TEXTS, start=1)]


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Crash(Exception):
    pass


def test_a_crashed_job_resumes_to_the_output_of_an_uninterrupted_one(compressor: Any, tmp_path: Path) -> None:
    settings = CompressSettings(rate=0.5)
    whole = tmp_path / "whole.jsonl"
    totals = run_local(_records(), whole, compressor, settings, JOB, batch_size=2)
    assert totals.records == 5 and totals.errors == 1 and totals.compressed_now == 5
    assert not parts_dir(whole).exists()
    expected = _rows(whole)
    assert [row["id"] for row in expected] == ["1", "2", "3", "4", "5"]

    def crashing() -> Iterator[Record]:
        for record in _records():
            if record.id == "4":
                raise Crash  # the process dies while record 4 is read: row 3 is in no finished shard
            yield record

    resumed = tmp_path / "resumed.jsonl"
    with pytest.raises(Crash):
        run_local(crashing(), resumed, compressor, settings, JOB, batch_size=2)
    assert not resumed.exists() and len(list(parts_dir(resumed).glob("part-*.jsonl"))) == 1
    again = run_local(_records(), resumed, compressor, settings, JOB, batch_size=2)
    assert again.compressed_now == 3  # rows 1 and 2 came from the first run's shard
    assert _rows(resumed) == expected
    assert again.records == 5 and again.origin_tokens == totals.origin_tokens


def test_resuming_with_other_options_is_refused(compressor: Any, tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    with pytest.raises(Crash):
        run_local(_crash_after(1), output, compressor, CompressSettings(rate=0.5), JOB, batch_size=1)
    with pytest.raises(InputError, match="other inputs or options"):
        run_local(_records(), output, compressor, CompressSettings(rate=0.3), {**JOB, "rate": 0.3})


def _crash_after(count: int) -> Iterator[Record]:
    yield from _records()[:count]
    raise Crash
