"""A corpus through one loaded model: one row per record, errors in their rows, the rest intact."""

from __future__ import annotations

from typing import Any

from lingua_core.batch.job import ROW_FIELDS, CompressSettings, compress_records
from lingua_core.batch.records import Record

REPORT = (
    "The quarterly report covers revenue, costs and hiring across the three regions. Revenue grew "
    "12% to $4.1M, driven by the northern region, while costs rose 3% because of new office leases. "
    "Hiring slowed in the second month and picked up again in the third, ending with 41 engineers."
)


def test_rows_are_the_compressions_of_their_records_and_bad_ones_carry_errors(compressor: Any) -> None:
    records = [
        Record("a", REPORT, question="How much did revenue grow?"),
        Record("b", error="empty text"),
        "Summarise the meeting notes for the board, keeping every figure: 14 attendees, 3 decisions. " * 4,
        "   ",
    ]
    settings = CompressSettings(rate=0.5)
    rows = list(compress_records(records, compressor, settings))
    assert [row["id"] for row in rows] == ["a", "b", "3", "4"]
    assert all(tuple(row) == ROW_FIELDS for row in rows)
    direct = compressor.compress(REPORT, rate=0.5, question="How much did revenue grow?")
    assert rows[0]["compressed_text"] == direct.compressed_text
    assert rows[0]["error"] == "" and rows[0]["method"] == direct.method
    assert rows[0]["compressed_tokens"] < rows[0]["origin_tokens"]
    assert rows[0]["compressed_text"].endswith("How much did revenue grow?")
    assert rows[1]["error"] == "empty text" and rows[1]["compressed_text"] == ""
    assert rows[2]["error"] == "" and "14" in rows[2]["compressed_text"]
    assert rows[3]["error"] == "empty text"


def test_a_setting_every_record_fails_on_gives_every_row_the_reason(compressor: Any) -> None:
    rows = list(
        compress_records(["one prompt to compress", "another"], compressor, CompressSettings(method="llmlingua2"))
    )
    assert len(rows) == 2
    assert all("token-classification" in row["error"] and row["compressed_text"] == "" for row in rows)
    assert rows[0]["origin_tokens"] == 4
