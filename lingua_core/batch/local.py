"""``lingua batch`` on one machine: the records in order, the model loaded once, resumable."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core.batch.job import BATCH_SIZE, CompressSettings, compress_batch
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
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Totals:
    """Compress every record without a row yet, then write the output; ``job`` identifies the
    inputs and options, so that a resumed run is the same job."""
    started = time.perf_counter()
    writer = ShardWriter(output, job, batch_size)
    done = writer.done()
    totals = Totals()
    pending: list[tuple[int, Record]] = []

    def compress_pending() -> None:
        rows = compress_batch(compressor, [record for _, record in pending], settings)
        for (position, _), row in zip(pending, rows, strict=True):
            writer.add(row, position)
        writer.flush()  # a batch is a shard: what a crash can lose at most
        totals.compressed_now += len(pending)
        pending.clear()
        if progress is not None:
            progress(totals.compressed_now)

    for position, record in enumerate(records):
        if record.id in done:
            continue
        pending.append((position, record))
        if len(pending) >= batch_size:
            compress_pending()
    if pending:
        compress_pending()
    writer.finish(totals.add)
    totals.seconds = time.perf_counter() - started
    return totals
