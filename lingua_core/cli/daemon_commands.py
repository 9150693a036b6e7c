"""``lingua daemon status`` and ``lingua daemon stop``: see and free the warm workers.

A worker holds a model in memory for a few idle minutes; a user who wants the memory back
now, or who upgraded Lingua and wants no old worker around, stops them here.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lingua_core.arg_types import with_output_flags
from lingua_core.cli.warm_place import UnsafePlace, private_dir, runtime_dir


def add_parsers(commands: Any) -> None:
    daemon = commands.add_parser(
        "daemon",
        help="list or stop the background workers that keep a model warm",
        description="The warm workers of `lingua compress` (see --no-daemon).",
    )
    daemon.add_argument("action", choices=["status", "stop"])
    with_output_flags(daemon)
    daemon.set_defaults(handler=_daemon)


def _ask(path: Path, op: str) -> dict[str, Any] | None:
    """The answer of the worker listening at ``path`` to ``op``; None if none answers it."""
    from lingua_core.cli.errors import ReportedError, UsageError
    from lingua_core.cli.warm_client import WorkerGone, connect, exchange
    from lingua_core.cli.warm_wire import WireError
    from lingua_core.errors import LinguaError

    key = path.stem.removeprefix("worker-")
    try:
        conn = connect(path)
        if conn is None:
            return None
        with conn:
            conn.settimeout(10.0)
            return exchange(conn, key, {"op": op}, progress=False)
    except (OSError, UnsafePlace, WireError, WorkerGone, ReportedError, UsageError, LinguaError):
        return None  # an error answer too: that worker is not listed


def _daemon(args: argparse.Namespace) -> dict[str, Any]:
    directory = runtime_dir()
    workers: list[dict[str, Any]] = []
    if directory.is_dir():
        private_dir(directory)  # a foreign directory is reported, not trusted
        for path in sorted(directory.glob("worker-*.sock")):
            status = _ask(path, args.action)
            if status is not None:
                workers.append(status)
    return {"action": args.action, "runtime_dir": str(directory), "workers": workers}


def print_human(data: dict[str, Any]) -> None:
    workers = data["workers"]
    if not workers:
        print(f"no warm worker running (in {data['runtime_dir']})")
        return
    verb = "stopped" if data["action"] == "stop" else "running"
    for worker in workers:
        model = worker["model"] or "no model loaded yet"
        print(
            f"{verb}: pid {worker['pid']}, {model}, idle {worker['idle_for']:.0f} s "
            f"of {worker['idle_timeout']:.0f} s, socket {worker['socket']}"
        )
