"""The model's home: one thread that loads the compressor lazily and runs every compression.

Loading takes seconds and a compression can take a minute; on the event loop either would
freeze hovers and diagnostics. One worker thread (not a pool) because the model runs one
compression at a time anyway (``Compressor`` holds a lock) and torch already spreads each
forward pass over the cores. torch and transformers are imported here, on first use, so the
server starts in about a second and stays small until someone compresses.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .settings import protect_options

if TYPE_CHECKING:
    from lingua_core import CompressionResult, Compressor

log = logging.getLogger(__name__)


class ModelState(enum.Enum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ModelStatus:
    """What ``lingua/modelStatus`` tells the client."""

    state: ModelState
    model: str
    device: str | None = None
    method: str | None = None
    message: str | None = None
    setting: str | None = None  # when failed: the setting to fix, "lingua.model" or "lingua.device"

    def to_json(self) -> dict[str, str]:
        data = {"state": self.state.value, "model": self.model}
        for key in ("device", "method", "message", "setting"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class CompressJob:
    """Everything one compression needs; immutable so it can cross into the worker thread."""

    text: str
    rate: float | None
    target_tokens: int | None
    method: str
    encoding: str
    preserve: tuple[str, ...]
    keep_code_blocks: bool
    unprotect: tuple[str, ...] = ()
    word_scores: bool = False
    rank_method: str = "fused"  # question-aware ranking, when the selection ends in a question


@dataclass(frozen=True)
class Finished:
    """A compression and the seconds it spent waiting for the model to load (its own load, or a
    warm-up's that was under way when it came): the user waited for both."""

    result: CompressionResult
    load_seconds: float


class ModelLoadError(Exception):
    """The model could not be loaded; the message says how to fix it."""


class JobCancelled(Exception):
    """The user cancelled before or during the compression."""


Progress = Callable[[str, int | None], None]  # (message, percentage or None)


class ModelWorker:
    """Owns the compressor; every public method is safe to call from the event loop."""

    def __init__(self, on_status: Callable[[ModelStatus], None]) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="lingua-model", initializer=_lower_priority
        )
        self._on_status = on_status
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._spec = ("embedded", "auto")
        self._compressor: Compressor | None = None
        self._loaded_spec: tuple[str, str] | None = None
        self._failure: tuple[tuple[str, str], str] | None = None
        self._warm_up_queued = False
        # Seconds spent loading models so far: a job compares it before and after it waited.
        self._load_seconds_total = 0.0
        self.status = ModelStatus(ModelState.UNLOADED, "embedded")

    def configure(self, model: str, device: str) -> None:
        """Use this model from the next job on; the old one is dropped then, not now."""
        with self._lock:
            changed = (model, device) != self._spec
            self._spec = (model, device)
        if changed:
            self._executor.submit(self._drop_stale)

    def _drop_stale(self) -> None:
        """Free the old model's memory once running jobs are done, and say so."""
        with self._lock:
            spec = self._spec
        if self._loaded_spec != spec:
            self._unload()
            self._set_status(ModelStatus(ModelState.UNLOADED, spec[0]))

    def compress(self, job: CompressJob, progress: Progress, cancelled: Callable[[], bool]) -> Future[Finished]:
        """Run ``job`` after the jobs before it; a warm-up under way is waited for, not repeated."""
        if self.status.state is ModelState.LOADING or self._warm_up_queued:
            progress(f"Waiting for the model {self._spec[0]} to load", None)
        submitted = (time.perf_counter(), self._load_seconds_total)
        return self._executor.submit(
            self._run_and_trim, job, progress, lambda: cancelled() or self._closing.is_set(), submitted
        )

    def needs_load(self) -> bool:
        """Whether a warm-up would load anything: not loaded, not loading, not known to fail."""
        with self._lock:
            spec, failure = self._spec, self._failure
        if self._warm_up_queued or self.status.state is ModelState.LOADING:
            return False
        if failure is not None and failure[0] == spec:
            return False
        return not (self._compressor is not None and self._loaded_spec == spec)

    def warm_up(self) -> Future[bool]:
        """Load the configured model on the model thread, ahead of the first compression.

        Answers whether it loaded anything (False: it was there already, or the server is
        closing); raises ``ModelLoadError`` as a compression would. A compression submitted
        meanwhile queues behind it and finds the model loaded.
        """
        self._warm_up_queued = True

        def run() -> bool:
            try:
                if self._closing.is_set():
                    return False
                before = self._load_seconds_total
                self._ensure_loaded(lambda message, percentage: None)
                return self._load_seconds_total != before
            finally:
                self._warm_up_queued = False

        return self._executor.submit(run)

    def restart(self) -> Future[None]:
        """Drop the model and any remembered load failure, then load again."""

        def run() -> None:
            self._unload()
            release_memory()
            with self._lock:
                self._failure = None
            self._ensure_loaded(lambda message, percentage: None)

        return self._executor.submit(run)

    def shutdown(self) -> None:
        """Stop the running job at its next window: Python joins this thread before exiting."""
        self._closing.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- worker thread -----------------------------------------------------------------

    def _set_status(self, status: ModelStatus) -> None:
        self.status = status
        try:
            self._on_status(status)
        except Exception:  # a status display must never break a compression
            log.exception("model status listener failed")

    def _unload(self) -> None:
        if self._compressor is not None:
            self._compressor = None
            self._loaded_spec = None
            gc.collect()

    def _ensure_loaded(self, progress: Progress) -> Compressor:
        with self._lock:
            spec = self._spec
            failure = self._failure
        if self._compressor is not None and self._loaded_spec == spec:
            return self._compressor
        if failure is not None and failure[0] == spec:
            raise ModelLoadError(failure[1])
        self._unload()
        model, device = spec
        self._set_status(ModelStatus(ModelState.LOADING, model, device))
        progress(f"Loading model {model}", None)
        started = time.perf_counter()
        try:
            from lingua_core import Compressor, LinguaError

            _limit_torch_threads()
            compressor = Compressor.load(model, device=device)
        except Exception as exc:
            self._load_seconds_total += time.perf_counter() - started
            message, setting = _load_failure_message(model, exc, isinstance(exc, LinguaError), device)
            with self._lock:
                self._failure = (spec, message)
            log.warning("model %s failed to load: %s", model, exc)
            self._set_status(ModelStatus(ModelState.FAILED, model, device, message=message, setting=setting))
            raise ModelLoadError(message) from exc
        import torch

        seconds = time.perf_counter() - started
        self._load_seconds_total += seconds
        log.info(
            "model %s loaded on %s in %.1f s; compressing on %d torch threads",
            model,
            compressor.lm.device,
            seconds,
            torch.get_num_threads(),
        )
        gc.freeze()  # the model's objects live on: keep them out of every later collection
        self._compressor, self._loaded_spec = compressor, spec
        method = compressor.resolve_method("auto")[0].value
        self._set_status(ModelStatus(ModelState.READY, model, str(compressor.lm.device), method))
        return compressor

    def _run_and_trim(
        self, job: CompressJob, progress: Progress, cancelled: Callable[[], bool], submitted: tuple[float, float]
    ) -> Finished:
        try:
            return self._run(job, progress, cancelled, submitted)
        finally:
            release_memory()

    def _run(
        self, job: CompressJob, progress: Progress, cancelled: Callable[[], bool], submitted: tuple[float, float]
    ) -> Finished:
        if cancelled():
            raise JobCancelled
        compressor = self._ensure_loaded(progress)
        # Loading done since the job came (its own, or a warm-up's it queued behind), but never
        # more than the job has waited: a warm-up may have started before it.
        submitted_at, loaded_before = submitted
        load_seconds = min(self._load_seconds_total - loaded_before, time.perf_counter() - submitted_at)
        if cancelled():
            raise JobCancelled
        from lingua_core import CompressionCancelled, LLMLinguaOptions, Prompt
        from lingua_core.relevance import RankMethod

        label = f"{1 / job.rate:.1f}x" if job.rate else f"to {job.target_tokens} tokens"
        progress(f"Compressing {label}", 0)

        def on_progress(done: int, total: int) -> None:
            progress(f"Compressing {label}", round(100 * done / total) if total else None)

        protect = protect_options(job.keep_code_blocks, job.preserve, job.unprotect)
        try:
            # The engine picks what runs: the model's method for "auto", and for a
            # question-aware method the selection's trailing question (or the plain form).
            result = compressor.compress(
                Prompt.from_text(job.text),
                rate=job.rate,
                target_tokens=job.target_tokens,
                ceiling=job.target_tokens is not None,  # users read a token target as "fit the budget"
                method=job.method,
                encoding=job.encoding,
                options=LLMLinguaOptions(protect=protect, rank_method=RankMethod(job.rank_method)),
                word_scores=job.word_scores,
                progress=on_progress,
                cancelled=cancelled,
            )
        except CompressionCancelled:
            raise JobCancelled from None
        return Finished(result, load_seconds)


def release_memory() -> None:
    """Hand the freed activations of a long prompt (hundreds of MB) back to the system.

    glibc keeps freed blocks in its arenas, so without this the server would sit at its peak
    size, next to the editor, until it exits.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _lower_priority() -> None:
    """Let the event loop (hovers, typing) win the CPU over the model when both want it.

    On Linux a thread has its own nice value, and threads it starts (torch's pool) inherit it.
    """
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)


WORKER_NICENESS = 5


def torch_threads() -> int | None:
    """How many threads torch may use: ``LINGUA_TORCH_THREADS``, else half the cores.

    torch takes every core by default and its OpenMP threads spin while they wait; next to an
    editor on a busy 2-core machine that made a compression 10x slower than one thread did
    (41 s against 3.8 s for 1,437 tokens), besides freezing the editor. ``OMP_NUM_THREADS``
    set by the user wins.
    """
    explicit = os.environ.get("LINGUA_TORCH_THREADS")
    if explicit and explicit.isdigit() and int(explicit) > 0:
        return int(explicit)
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    return max(1, (os.cpu_count() or 2) // 2)


def _limit_torch_threads() -> None:
    threads = torch_threads()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _load_failure_message(model: str, exc: Exception, explained: bool, device: str = "auto") -> tuple[str, str]:
    """The fix first (users read one line of a pop-up), and the setting at fault."""
    from lingua_core.errors import DeviceError

    reason = str(exc) if explained else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, DeviceError):
        return (
            f"Lingua could not use the device {device!r}: {reason} "
            "Fix: set lingua.device to 'auto' (the fastest this machine has) or 'cpu'. "
            "Token counts and hovers keep working meanwhile."
        ), "lingua.device"
    return (
        f"Lingua could not load the compression model {model!r}: {reason} "
        "Fix: set lingua.model to 'embedded' (if it is missing, run `lingua prepare` once and restart "
        "Lingua's server), a local model folder, or a .gguf file. "
        "Token counts and hovers keep working meanwhile."
    ), "lingua.model"
