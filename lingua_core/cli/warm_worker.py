"""The warm worker: a background process that keeps the model loaded between ``lingua
compress`` calls and exits after a few idle minutes.

Each call of the command otherwise pays for importing torch and transformers and loading
the model, several times the compression itself for a short prompt. The first call starts
this process and sends it the request; later calls find it listening. It binds its socket
before importing anything heavy, so a caller never waits for a socket that is not there.

One request at a time, in arrival order (the model serves one compression at a time
anyway). A caller that hangs up mid-compression cancels it. Everything it does goes through
``engine_commands.compress_text``, the function the command runs in-process, so the output
is the same either way.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from lingua_core.cli.warm_place import idle_seconds, peer_is_us, private_dir
from lingua_core.cli.warm_wire import PROTOCOL, WireError, receive, send

REQUEST_SECONDS = 30.0  # for a caller to send its request once connected
PROGRESS_EVERY = 0.1  # seconds between progress messages


class WarmModels:
    """The last model asked for, kept loaded; another spec replaces it (one model in memory)."""

    def __init__(self) -> None:
        self.spec: tuple[str, str, str] | None = None
        self.compressor: Any = None

    def get(self, model: str, device: str, dtype: str, loading: Callable[[], None]) -> Any:
        from lingua_core.cli.engine_commands import load_compressor

        spec = (model, device, dtype)
        if self.spec != spec:
            self.spec, self.compressor = None, None
            loading()
            self.compressor = load_compressor(model, device, dtype)
            self.spec = spec
        return self.compressor


class Worker:
    def __init__(self, path: Path, key: str, idle: float) -> None:
        self.path, self.key, self.idle = path, key, idle
        self.models = WarmModels()
        self.started = time.time()
        self.last_request = time.time()
        self.stopping = False

    def serve_forever(self, listener: socket.socket) -> None:
        listener.settimeout(self.idle)
        while not self.stopping:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return  # idle long enough: free the memory
            with conn:
                if not peer_is_us(conn):
                    continue
                with contextlib.suppress(OSError, WireError):  # the caller went away; it falls back
                    self.serve(conn)
            self.last_request = time.time()

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(REQUEST_SECONDS)
        stream = conn.makefile("rwb")
        request = receive(stream)
        if request is None:
            return
        if request.get("protocol") != PROTOCOL or request.get("key") != self.key:
            send(stream, {"error": {"kind": "mismatch", "message": "this worker serves other code or settings"}})
            return
        op = request.get("op")
        if op == "status":
            send(stream, {"result": self.status()})
        elif op == "stop":
            self.stopping = True
            send(stream, {"result": self.status()})
        elif op == "compress":
            conn.settimeout(None)  # a long prompt may compress for minutes
            send(stream, self.compress(conn, stream, request))
        else:
            send(stream, {"error": {"kind": "other", "message": f"unknown request {op!r}"}})

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "key": self.key,
            "socket": str(self.path),
            "model": self.models.spec[0] if self.models.spec else None,
            "idle_timeout": self.idle,
            "idle_for": time.time() - self.last_request,
            "uptime": time.time() - self.started,
        }

    def compress(self, conn: socket.socket, stream: Any, request: dict[str, Any]) -> dict[str, Any]:
        from lingua_core.cli.engine_commands import compress_text
        from lingua_core.cli.errors import UsageError
        from lingua_core.errors import LinguaError
        from lingua_core.progress import CompressionCancelled

        args = argparse.Namespace(**request["args"])
        wants_progress = bool(request.get("progress"))
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if wants_progress and (now - last[0] >= PROGRESS_EVERY or done >= total):
                last[0] = now
                send(stream, {"progress": [done, total]})

        def loading() -> None:
            if wants_progress:
                send(stream, {"stage": "loading"})

        def load(model: str, device: str, dtype: str) -> Any:
            return self.models.get(model, device, dtype, loading)

        try:
            data = compress_text(args, request["text"], load, progress, cancelled=lambda: _hung_up(conn))
        except UsageError as exc:
            return {"error": {"kind": "usage", "message": str(exc)}}
        except LinguaError as exc:
            return {"error": {"kind": "lingua", "message": str(exc)}}
        except CompressionCancelled:
            return {"error": {"kind": "cancelled", "message": "cancelled"}}
        except Exception as exc:  # the worker outlives any one request
            return {"error": {"kind": "other", "message": f"{type(exc).__name__}: {exc}"}}
        return {"result": data}


def _hung_up(conn: socket.socket) -> bool:
    """The caller closed its end (Ctrl-C): readable with nothing to read."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _bind(path: Path) -> socket.socket:
    """A stale socket (its worker was killed) is replaced: the lock says no live worker owns it."""
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)  # the socket file is created 0600
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_mask)
    listener.listen(16)
    return listener


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lingua_core.cli.warm_worker")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    path: Path = args.socket
    private_dir(path.parent)
    lock = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another worker for this key is starting or serving; callers use that one
    from lingua_core.terminal import configure_output

    configure_output(quiet=True)  # nothing of the libraries' chatter reaches a caller
    signal.signal(signal.SIGTERM, _stop)
    listener = _bind(path)
    identity = os.stat(path).st_ino
    try:
        Worker(path, args.key, idle_seconds()).serve_forever(listener)
    finally:
        listener.close()
        try:
            if os.stat(path).st_ino == identity:
                path.unlink()
        except FileNotFoundError:
            pass
        os.close(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
