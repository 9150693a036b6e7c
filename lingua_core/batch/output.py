"""Where a batch job's rows go: shards as it runs, one output file at the end, resumable.

Rows are written to ``OUTPUT.parts/`` in small JSONL shards, each under a temporary name
and renamed once complete, so a crash or Ctrl-C loses at most the shard being written.
Rerunning the same command reads the ids of the finished shards and skips them; when every
record has a row, the shards are merged by input position into OUTPUT (JSONL or Parquet by
its extension), written under a temporary name and renamed, and the parts are removed. The
output is then the same as an uninterrupted run's.

The parts remember the job they belong to (input, settings): resuming with other options
would mix two jobs' rows, so it is refused with what to do.
"""

from __future__ import annotations

import heapq
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError

POSITION = "_position"  # a row's place in the input, kept in the shards for the final merge
MANIFEST = "job.json"


def parts_dir(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def output_format(output: Path) -> str:
    suffix = output.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    raise InputError(f"{output}: the output is a .jsonl or a .parquet file.")


class ShardWriter:
    """Appends rows to the job's parts, a shard every ``rows_per_shard`` rows."""

    def __init__(self, output: Path, job: dict[str, Any], rows_per_shard: int = 64) -> None:
        output_format(output)
        self.output = output
        self.parts = parts_dir(output)
        self.rows_per_shard = max(1, rows_per_shard)
        self._pending: list[dict[str, Any]] = []
        self._claim(job)
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in self._shards()), default=0)

    def _claim(self, job: dict[str, Any]) -> None:
        manifest = self.parts / MANIFEST
        if manifest.is_file():
            started = json.loads(manifest.read_text(encoding="utf-8"))
            if started != job:
                raise InputError(
                    f"{self.output} was started by a job with other inputs or options ({self.parts}); "
                    "rerun it with the same ones to resume, or delete that folder to start again."
                )
            return
        self.parts.mkdir(parents=True, exist_ok=True)
        temporary = manifest.with_suffix(".tmp")
        temporary.write_text(json.dumps(job, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, manifest)

    def _shards(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.jsonl"))

    def done(self) -> dict[str, int]:
        """Ids with a row in a finished shard, and their input positions."""
        return {row["id"]: row[POSITION] for row in _read_shards(self._shards())}

    def add(self, row: dict[str, Any], position: int) -> None:
        self._pending.append({**row, POSITION: position})
        if len(self._pending) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        shard = self.parts / f"part-{self._next:06d}.jsonl"
        temporary = shard.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for row in self._pending:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, shard)
        self._pending = []
        self._next += 1

    def finish(self, each: Callable[[dict[str, Any]], None] | None = None) -> int:
        """Merge the shards into the output by input position; ``each`` sees every row written.
        Returns the number of rows."""
        self.flush()
        merged = heapq.merge(*(_read_shards([shard]) for shard in self._shards()), key=lambda row: row[POSITION])

        def rows() -> Iterator[dict[str, Any]]:
            for row in merged:
                public = _public(row)
                if each is not None:
                    each(public)
                yield public

        written = _write_output(self.output, rows())
        shutil.rmtree(self.parts, ignore_errors=True)
        return written


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != POSITION}


def _read_shards(shards: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for shard in shards:
        with shard.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)


def _write_output(output: Path, rows: Iterable[dict[str, Any]]) -> int:
    temporary = output.with_name(f".{output.name}.tmp")
    count = 0
    if output_format(output) == "jsonl":
        with temporary.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError("A .parquet output needs pyarrow (pip install 'lingua-prompt[ray]').") from None
        table = pa.Table.from_pylist(list(rows))
        count = table.num_rows
        pq.write_table(table, temporary)
    os.replace(temporary, output)
    return count
