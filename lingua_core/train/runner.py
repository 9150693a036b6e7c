"""Run a teacher over many requests, writing each result the moment it arrives.

Distillation runs for hours and pays per request, so a crash, a Ctrl-C or a dead endpoint
must cost at most the requests in flight. Results go to a JSONL file, one flushed line per
request, written only by the calling thread; a rerun reads the ids already there and sends
only the rest. A line torn by a crash is cut off before appending, so the file stays valid.

A request that fails for good (after the teacher's own retries) is written to an errors file
and the run goes on; it is retried by the next run, since only successes count as done. A
failure every request would share (bad key, wrong URL) stops the run at once, and so does a
streak of failures, the sign of an endpoint that went away: better to stop than to mark the
whole corpus failed.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lingua_core.errors import InputError
from lingua_core.train.jsonl import iter_jsonl
from lingua_core.train.teachers import Messages, Reply, Teacher, TeacherError

DEFAULT_MAX_CONSECUTIVE_FAILURES = 8

Progress = Callable[[int, int], None]  # (finished, pending)


@dataclass(frozen=True)
class Job:
    """One request: its stable id, the messages to send, and the fields to record with the answer."""

    id: str
    messages: Messages
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOptions:
    max_tokens: int = 1024
    temperature: float = 0.0
    workers: int = 4
    max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES
    limit: int | None = None  # send at most this many new requests (a trial run)


DEFAULT_OPTIONS = RunOptions()


@dataclass
class RunSummary:
    teacher: str
    output: str
    errors: str
    total: int = 0  # distinct jobs asked for
    skipped: int = 0  # already in the output from an earlier run
    done: int = 0
    failed: int = 0
    truncated: int = 0  # done, but cut by max_tokens
    remaining: int = 0  # left for a later run by ``limit``
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "teacher": self.teacher,
            "output": self.output,
            "errors": self.errors,
            "total": self.total,
            "skipped": self.skipped,
            "done": self.done,
            "failed": self.failed,
            "truncated": self.truncated,
            "remaining": self.remaining,
            "seconds": round(self.seconds, 3),
        }


def stable_id(*parts: str) -> str:
    """An id that a rerun recomputes identically from the same inputs."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def repair_tail(path: Path) -> bool:
    """Cut a torn last line (no newline: the writer died mid-line); True if the file changed.

    A last line that is whole JSON and only lacks its newline (an edited file) is kept.
    """
    try:
        with path.open("rb+") as handle:
            size = handle.seek(0, 2)
            if size == 0:
                return False
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return False
            # Find the last newline by reading backwards in blocks.
            position, keep = size, 0
            while position > 0:
                step = min(1 << 16, position)
                position -= step
                handle.seek(position)
                block = handle.read(step)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    keep = position + newline + 1
                    break
            handle.seek(keep)
            try:
                whole = isinstance(json.loads(handle.read()), dict)
            except (ValueError, UnicodeDecodeError):
                whole = False
            if whole:
                handle.seek(0, 2)
                handle.write(b"\n")
            else:
                handle.truncate(keep)
            return True
    except FileNotFoundError:
        return False


def read_done_ids(path: Path) -> set[str]:
    """Ids already in an output file, after repairing a torn last line."""
    if not path.exists():
        return set()
    repair_tail(path)
    return {str(record["id"]) for _, record in iter_jsonl(path) if "id" in record}


_Outcome = tuple[Job, Reply | BaseException, float]


def _ask(teacher: Teacher, job: Job, options: RunOptions) -> _Outcome:
    started = time.perf_counter()
    try:
        reply: Reply | BaseException = teacher.chat(
            job.messages, max_tokens=options.max_tokens, temperature=options.temperature
        )
    except Exception as exc:
        reply = exc
    return job, reply, time.perf_counter() - started


def _sequential(teacher: Teacher, jobs: Sequence[Job], options: RunOptions) -> Generator[_Outcome, None, None]:
    """In the calling thread, so Ctrl-C interrupts a local model mid-generation."""
    for job in jobs:
        yield _ask(teacher, job, options)


def _parallel(
    teacher: Teacher, jobs: Sequence[Job], options: RunOptions, workers: int
) -> Generator[_Outcome, None, None]:
    """Outcomes in completion order from ``workers`` daemon threads.

    Daemon threads, and a stop flag checked between jobs: when the run stops (fatal error,
    Ctrl-C), the process need not wait for requests in flight, which may sit in backoff.
    """
    tasks: queue.SimpleQueue[Job] = queue.SimpleQueue()
    for job in jobs:
        tasks.put(job)
    results: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                job = tasks.get_nowait()
            except queue.Empty:
                return
            results.put(_ask(teacher, job, options))

    for number in range(workers):
        threading.Thread(target=work, name=f"teacher-{number}", daemon=True).start()
    try:
        for _ in range(len(jobs)):
            yield results.get()
    finally:
        stop.set()


def _lock(handle: IO[str], path: Path) -> None:
    """Refuse a second run appending to the same file: it would resend the same requests.

    An advisory lock, released when the file closes (also when the process dies); POSIX
    only, so on Windows two runs must be kept apart by hand.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise InputError(f"another run is writing to {path}; wait for it or pick another output") from None


def _pending(jobs: Sequence[Job], done_ids: set[str], limit: int | None, summary: RunSummary) -> list[Job]:
    """Jobs to send now: distinct ids not yet done, at most ``limit``; counts go to ``summary``."""
    seen: set[str] = set()
    pending: list[Job] = []
    for job in jobs:
        if job.id in seen:
            continue
        seen.add(job.id)
        if job.id in done_ids:
            summary.skipped += 1
        else:
            pending.append(job)
    summary.total = len(seen)
    if limit is not None and len(pending) > limit:
        summary.remaining = len(pending) - limit
        pending = pending[:limit]
    return pending


def _kept(summary: RunSummary) -> str:
    return f"{summary.done} new results are kept in {summary.output} and a rerun resumes"


def _write(handle: IO[str], record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    handle.flush()


def run_jobs(
    jobs: Sequence[Job],
    teacher: Teacher,
    output: Path,
    *,
    result_field: str,
    errors: Path | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
    progress: Progress | None = None,
) -> RunSummary:
    """Ask ``teacher`` every job not yet in ``output``; append each answer as one JSON line.

    Records are ``{"id", **job.fields, "teacher", <result_field>, "finish_reason", "seconds",
    "attempts", "prompt_tokens", "completion_tokens"}``. Failures go to ``errors`` (default:
    next to the output), which each run rewrites, as it lists what is still missing.
    """
    errors = errors or output.with_name(output.name.removesuffix(".jsonl") + ".errors.jsonl")
    summary = RunSummary(teacher.name, str(output), str(errors))
    started = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("a", encoding="utf-8") as out:
        _lock(out, output)
        pending = _pending(jobs, read_done_ids(output), options.limit, summary)
        errors.unlink(missing_ok=True)
        try:
            if pending:
                _run(pending, teacher, out, errors, result_field, options, progress, summary)
        finally:
            summary.seconds = time.perf_counter() - started
    return summary


def _run(
    pending: list[Job],
    teacher: Teacher,
    out: IO[str],
    errors: Path,
    result_field: str,
    options: RunOptions,
    progress: Progress | None,
    summary: RunSummary,
) -> None:
    workers = max(1, min(options.workers, teacher.max_workers or options.workers, len(pending)))
    stream = _sequential(teacher, pending, options) if workers == 1 else _parallel(teacher, pending, options, workers)
    streak = 0
    error_file: IO[str] | None = None
    if progress is not None:
        progress(0, len(pending))
    try:
        for finished, (job, outcome, seconds) in enumerate(stream, start=1):
            base = {"id": job.id, **job.fields, "teacher": teacher.name}
            if isinstance(outcome, Reply):
                streak = 0
                summary.done += 1
                summary.truncated += outcome.finish_reason == "length"
                _write(
                    out,
                    {
                        **base,
                        result_field: outcome.text,
                        "finish_reason": outcome.finish_reason,
                        "seconds": round(seconds, 3),
                        "attempts": outcome.attempts,
                        "prompt_tokens": outcome.prompt_tokens,
                        "completion_tokens": outcome.completion_tokens,
                    },
                )
            elif isinstance(outcome, TeacherError) and not outcome.fatal:
                streak += 1
                summary.failed += 1
                if error_file is None:
                    error_file = errors.open("w", encoding="utf-8")
                failure = {"error": str(outcome), "attempts": outcome.attempts, "seconds": round(seconds, 3)}
                _write(error_file, {**base, **failure})
                if streak >= options.max_consecutive_failures:
                    raise TeacherError(
                        f"{streak} requests in a row failed, the last with: {outcome}. Stopped; {_kept(summary)}",
                        fatal=True,
                    )
            elif isinstance(outcome, TeacherError):
                raise TeacherError(f"{outcome} (stopped; {_kept(summary)})", fatal=True) from None
            else:
                raise outcome
            if progress is not None:
                progress(finished, len(pending))
    finally:
        stream.close()
        if error_file is not None:
            error_file.close()
