"""``lingua batch`` on one machine: the records in order, the model loaded once, resumable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core.batch.job import CompressSettings, compress_record
from lingua_core.batch.output import ShardWriter
from lingua_core.batch.records import Record


@dataclass
class Totals:
    """The job's summary, over every row of the output (earlier runs' rows included)."""

    records: int = 0
    errors: int = 0
    origin_tokens: int = 0
    compressed_tokens: int = 0
    compressed_now: int = 0  # records this run compressed (the rest came from earlier runs)
    seconds: float = 0.0
    error_ids: list[str] = field(default_factory=list)

    def add(self, row: dict[str, Any]) -> None:
        self.records += 1
        if row["error"]:
            self.errors += 1
            if len(self.error_ids) < 20:
                self.error_ids.append(row["id"])
            return
        self.origin_tokens += row["origin_tokens"]
        self.compressed_tokens += row["compressed_tokens"]

    @property
    def saved_tokens(self) -> int:
        return self.origin_tokens - self.compressed_tokens

    @property
    def records_per_second(self) -> float:
        return self.compressed_now / self.seconds if self.seconds > 0 else 0.0


def run_local(
    records: Iterable[Record],
    output: Path,
    compressor: Any,
    settings: CompressSettings,
    job: dict[str, Any],
    *,
    rows_per_shard: int = 64,
    progress: Callable[[int], None] | None = None,
) -> Totals:
    """Compress every record without a row yet, then write the output; ``job`` identifies the
    inputs and options, so that a resumed run is the same job."""
    started = time.perf_counter()
    writer = ShardWriter(output, job, rows_per_shard)
    done = writer.done()
    totals = Totals()
    for position, record in enumerate(records):
        if record.id in done:
            continue
        writer.add(compress_record(compressor, record, settings), position)
        totals.compressed_now += 1
        if progress is not None:
            progress(totals.compressed_now)
    writer.finish(totals.add)
    totals.seconds = time.perf_counter() - started
    return totals
