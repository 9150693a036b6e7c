"""`lingua compress` as a script calls it: whole-process wall time, cold and repeated.

    .venv/bin/python bench/cli_latency.py [--runs 5] [--prompt scripts/sample_prompt.md]

Rows, each a fresh `lingua compress PROMPT --rate 0.33 --json` process, timed from outside:
- in-process (`--no-daemon`): imports, model load and compression in the command itself;
- the same through transformers (`LINGUA_BACKEND=transformers`): what the native Llama
  runner saves;
- first call with the warm worker: the command starts the worker, which imports, loads and
  compresses (every worker stopped before each run);
- repeated call: the worker is already warm.
Each row gives the median wall time, the engine's own `seconds` and `load_seconds` from the
JSON, and wall / seconds. Targets of issue 18: repeated wall <= 1.5x the engine's seconds;
a cold call <= 6 s for a ~500-token prompt. Workers live in a private temporary directory
and are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LINGUA = [sys.executable, "-m", "lingua_core.cli"]


def call(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    proc = subprocess.run([*LINGUA, *args], capture_output=True, env=env, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"lingua {' '.join(args)} failed: {proc.stderr.decode().strip()}")
    data: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip().startswith(b"{") else {}
    return wall, data


def row(name: str, runs: list[tuple[float, dict[str, Any]]]) -> str:
    wall = statistics.median(w for w, _ in runs)
    seconds = statistics.median(d["seconds"] for _, d in runs)
    load = statistics.median(d["load_seconds"] for _, d in runs)
    return f"| {name} | {len(runs)} | {wall:.2f} | {seconds:.2f} | {load:.2f} | {wall / seconds:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompt", type=Path, default=ROOT / "scripts" / "sample_prompt.md")
    args = parser.parse_args()
    place = Path(tempfile.mkdtemp(prefix="lb-"))
    env = {**os.environ, "LINGUA_RUNTIME_DIR": str(place), "LINGUA_NO_DAEMON": ""}
    compress = ["compress", str(args.prompt), "--rate", "0.33", "--json"]
    try:
        call(env, *compress, "--no-daemon")  # page cache warm for every row alike
        rows: dict[str, list[tuple[float, dict[str, Any]]]] = {
            "in-process": [],
            "in-process, transformers backend": [],
            "first call": [],
            "repeated": [],
        }
        through_transformers = {**env, "LINGUA_BACKEND": "transformers"}
        for _ in range(args.runs):
            rows["in-process"].append(call(env, *compress, "--no-daemon"))
            rows["in-process, transformers backend"].append(call(through_transformers, *compress, "--no-daemon"))
            call(env, "daemon", "stop")
            rows["first call"].append(call(env, *compress))
            rows["repeated"].append(call(env, *compress))
        tokens = rows["repeated"][0][1]["origin_tokens"]
        print(f"`lingua compress` on {args.prompt.name} ({tokens} tokens, o200k_base) at rate 0.33; medians")
        print()
        print("| call | runs | wall s | engine seconds | load_seconds | wall / engine |")
        print("|---|---|---|---|---|---|")
        for name, runs in rows.items():
            print(row(name, runs))
    finally:
        call(env, "daemon", "stop")
        shutil.rmtree(place, ignore_errors=True)


if __name__ == "__main__":
    main()
