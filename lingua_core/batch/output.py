"""Where a batch job's rows go: shards as it runs, one output file at the end, resumable.

Rows are written to ``OUTPUT.parts/`` in small JSONL shards, each under a temporary name
and renamed once complete, so a crash or Ctrl-C loses at most the shard being written.
Rerunning the same command reads the ids of the finished shards and skips them; when every
record has a row, the shards are merged by input position into OUTPUT (JSONL or Parquet by
its extension), written under a temporary name and renamed, and the parts are removed. The
output is then the same as an uninterrupted run's.

A job on Ray writes its shards into the same folder with Ray's ``write_parquet``, which
names its files itself and writes them in place: a file cut short by a crash has no Parquet
footer, reads as no rows, and its records are compressed again. A Ray task retried after a
lost actor may write a row twice; the merge keeps one row per input position.

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
RUNNER = "runner"  # in a Ray job's manifest: its positions are not the local path's


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
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in self._own_shards()), default=0)

    def _claim(self, job: dict[str, Any]) -> None:
        manifest = self.parts / MANIFEST
        if manifest.is_file():
            started = json.loads(manifest.read_text(encoding="utf-8"))
            if started != job:
                raise InputError(_other_job(self.output, self.parts, started, job))
            return
        self.parts.mkdir(parents=True, exist_ok=True)
        temporary = manifest.with_suffix(".tmp")
        temporary.write_text(json.dumps(job, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, manifest)

    def _own_shards(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.jsonl"))

    def _shards(self) -> list[Path]:
        return self._own_shards() + sorted(self.parts.glob("*.parquet"))

    def done(self) -> dict[str, int]:
        """Ids with a row in a finished shard, and their input positions."""
        return {row["id"]: row[POSITION] for shard in self._shards() for row in _shard_rows(shard)}

    def done_positions(self) -> set[int]:
        """Input positions with a row in a finished shard: what a Ray job skips, since a
        repeated id there is only marked as such at the merge."""
        return {row[POSITION] for shard in self._shards() for row in _shard_rows(shard)}

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

    def finish(self, each: Callable[[dict[str, Any]], None] | None = None, *, mark_duplicates: bool = False) -> int:
        """Merge the shards into the output by input position; ``each`` sees every row written.
        Returns the number of rows.

        ``mark_duplicates``: for a runner that compressed records without seeing the input in
        order (Ray), a later row with an id seen before becomes the local reader's
        ``id#N`` duplicate error, so that the output is the local path's.

        Each shard is read whole (they are small), in turn: opening them all at once for a
        lazy merge would run out of file handles on a long job."""
        self.flush()
        shards = [sorted(_shard_rows(shard), key=_position) for shard in self._shards()]
        merged = heapq.merge(*shards, key=_position)

        def rows() -> Iterator[dict[str, Any]]:
            last: int | None = None
            seen: dict[str, int] = {}
            for row in merged:
                if row[POSITION] == last:
                    continue  # a row written twice, by a Ray task retried after its actor died
                last = row[POSITION]
                public = _public(row)
                if mark_duplicates:
                    public = _duplicate_marked(public, seen)
                if each is not None:
                    each(public)
                yield public

        written = _write_output(self.output, rows())
        shutil.rmtree(self.parts, ignore_errors=True)
        return written


def _other_job(output: Path, parts: Path, started: dict[str, Any], job: dict[str, Any]) -> str:
    def without_runner(identity: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in identity.items() if key != RUNNER}

    if without_runner(started) == without_runner(job):
        how = "on Ray (--ray)" if started.get(RUNNER) else "without --ray"
        return f"{output} was started {how} ({parts}); finish it the same way, or delete that folder to start again."
    return (
        f"{output} was started by a job with other inputs or options ({parts}); "
        "rerun it with the same ones to resume, or delete that folder to start again."
    )


def _position(row: dict[str, Any]) -> int:
    return int(row[POSITION])


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != POSITION}


def _duplicate_marked(row: dict[str, Any], seen: dict[str, int]) -> dict[str, Any]:
    """``row``, or the local reader's error row for a repeated id (see ``records.unique_ids``)."""
    from lingua_core.batch.job import error_row
    from lingua_core.batch.records import Record

    count = seen[row["id"]] = seen.get(row["id"], 0) + 1
    if count == 1:
        return row
    error = f"duplicate id {row['id']!r}"
    return error_row(Record(f"{row['id']}#{count}", error=error), row["model"], error, "o200k_base")


def _shard_rows(shard: Path) -> list[dict[str, Any]]:
    """The rows of a finished shard; none for a Parquet file cut short (no footer yet)."""
    if shard.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows: list[dict[str, Any]] = pq.read_table(shard).to_pylist()
        except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
            return []
        return rows
    with shard.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


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
