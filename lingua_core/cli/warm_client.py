"""The command's side of the warm worker: find it or start it, send the request, show its
progress, return its answer.

Anything that keeps a worker from serving (no private place for the socket, a worker that
does not start or dies mid-request) makes ``compress_warm`` return None, and the command
compresses in its own process: the worker may only make a call faster, never fail it. Its
answers, errors included, are the ones the command would have given by itself.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lingua_core.cli.errors import ReportedError, UsageError
from lingua_core.cli.warm_place import (
    MAX_SOCKET_PATH,
    UnsafePlace,
    check_socket_file,
    peer_is_us,
    private_dir,
    runtime_dir,
    socket_path,
    worker_key,
)
from lingua_core.cli.warm_wire import PROTOCOL, WireError, receive, send
from lingua_core.errors import LinguaError
from lingua_core.terminal import TerminalBar, show_progress, stderr_is_terminal

START_SECONDS = 20.0  # for a new worker to listen: it binds before importing torch


class WorkerGone(Exception):
    """The worker could not be reached or stopped answering."""


def compress_warm(args: argparse.Namespace, text: str) -> dict[str, Any] | None:
    """The worker's answer, or None when none can serve (the caller then compresses itself)."""
    key = worker_key()
    progress = show_progress(args) and stderr_is_terminal()
    request = {"op": "compress", "args": wire_args(args), "text": text, "progress": progress}
    try:
        path = socket_path(private_dir(runtime_dir()), key)
        if len(str(path)) > MAX_SOCKET_PATH:
            return None
        conn = connect(path) or start(path, key)
        if conn is None:
            return None
        with conn:
            return exchange(conn, key, request, progress)
    except UnsafePlace as exc:
        print(f"lingua: warning: {exc}; not using a background worker.", file=sys.stderr)
        return None
    except (WorkerGone, WireError, OSError):
        return None


def wire_args(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags, with a local model path made absolute (the worker runs elsewhere)."""
    values = {name: value for name, value in vars(args).items() if name != "handler"}
    model = Path(str(values.get("model", ""))).expanduser()
    if values.get("model") and model.exists():
        values["model"] = str(model.resolve())
    return values


def connect(path: Path) -> socket.socket | None:
    """A connection to a live worker of ours at ``path``, or None when none listens there."""
    if not check_socket_file(path):
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        conn.close()
        return None  # a stale socket: the worker was killed; a new one replaces it
    if not peer_is_us(conn):
        conn.close()
        raise UnsafePlace(f"the process listening on {path} runs as another user")
    return conn


def start(path: Path, key: str) -> socket.socket | None:
    """Start a worker and connect once it listens; None if it does not come up in time."""
    log = path.with_suffix(".log")
    with open(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "lingua_core.cli.warm_worker", "--socket", str(path), "--key", key],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,  # not killed with the terminal's process group, and no zombie
            close_fds=True,
        )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        conn = connect(path)
        if conn is not None:
            return conn
        # A worker that exited at once lost the start-up race: another one is binding.
        if worker.poll() not in (None, 0):
            return None
        time.sleep(0.02)
    return None


def exchange(conn: socket.socket, key: str, request: dict[str, Any], progress: bool) -> dict[str, Any]:
    """Send ``request`` and return the worker's result, showing its progress if ``progress``.

    An error answer is raised as the command would raise it (``WorkerGone`` for one that
    means "compress in your own process"); a closed connection raises ``WorkerGone``.
    """
    stream = conn.makefile("rwb")
    send(stream, {**request, "protocol": PROTOCOL, "key": key})
    bar: TerminalBar | None = None
    try:
        while True:
            message = receive(stream)
            if message is None:
                raise WorkerGone("the worker closed the connection")
            if "stage" in message and progress:
                bar = _new_bar(bar, "loading model", "step")
                bar(0, 1)
            elif "progress" in message and progress:
                if bar is None or bar.desc != "compressing":
                    bar = _new_bar(bar, "compressing", "tok")
                done, total = message["progress"]
                bar(int(done), int(total))
            elif "result" in message:
                result: dict[str, Any] = message["result"]
                return result
            elif "error" in message:
                _raise(message["error"])
    finally:
        if bar is not None:
            bar.close()


def _new_bar(old: TerminalBar | None, desc: str, unit: str) -> TerminalBar:
    if old is not None:
        old.close()
    return TerminalBar(desc, unit)


def _raise(error: dict[str, Any]) -> None:
    kind, message = error.get("kind"), str(error.get("message", "the worker failed"))
    if kind == "usage":
        raise UsageError(message)
    if kind == "lingua":
        raise LinguaError(message)
    if kind in ("mismatch", "cancelled"):
        raise WorkerGone(message)
    raise ReportedError(message)
