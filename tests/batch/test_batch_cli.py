"""`lingua batch` as a script runs it: killed mid-job with a real signal, rerun, the same output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lingua_core.batch.output import parts_dir
from tests.core.test_cli import one_line_error, run

LINGUA = [sys.executable, "-m", "lingua_core.cli"]
SUBJECTS = ["the outage on the billing service", "the new hire's first week", "invoice INV-2231", "release 4.2.1"]


def _corpus(path: Path) -> Path:
    rows: list[Any] = []
    for i in range(14):
        subject = SUBJECTS[i % len(SUBJECTS)]
        rows.append(
            {
                "doc": f"d{i:02d}",
                "body": f"Write a short, friendly note to the team about {subject}. Mention the owner, the date "
                f"and the next step, and keep every number as written: ticket {1000 + i}, {i + 2} people.",
            }
        )
    rows[3] = {"doc": "d03", "body": ""}
    rows[7] = {"doc": "d07", "text": "the wrong field"}
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_killed_batch_reruns_to_the_uninterrupted_output(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "in.jsonl")
    options = ["--text-field", "body", "--id-field", "doc", "--rate", "0.5", "--batch-size", "2"]
    whole = tmp_path / "whole.jsonl"
    done = run("batch", str(corpus), "-o", str(whole), *options, "--json")
    assert done.returncode == 0, done.stderr.decode()
    summary = json.loads(done.stdout)
    assert summary["records"] == 14 and summary["errors"] == 2 and summary["compressed_now"] == 14
    assert (
        summary["saved_tokens"] > 0
        and summary["saved_tokens"] == summary["origin_tokens"] - summary["compressed_tokens"]
    )
    expected = _rows(whole)
    assert [row["id"] for row in expected] == [f"d{i:02d}" for i in range(14)]
    assert expected[3]["error"] == "empty text" and expected[7]["error"] == "no 'body' field"
    for i, row in enumerate(expected):
        if i not in (3, 7):
            assert row["error"] == "" and 0 < row["compressed_tokens"] < row["origin_tokens"]

    output = tmp_path / "out.jsonl"
    process = subprocess.Popen([*LINGUA, "batch", str(corpus), "-o", str(output), *options], env=os.environ.copy())
    deadline = time.monotonic() + 240
    while not list(parts_dir(output).glob("part-*.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    written = len(list(parts_dir(output).glob("part-*.jsonl")))
    assert 1 <= written < 7 and not output.exists(), "killed after its first shard, before the end"

    resumed = run("batch", str(corpus), "-o", str(output), *options, "--json")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert json.loads(resumed.stdout)["compressed_now"] <= 14 - 2 * written
    assert _rows(output) == expected  # every record once, in input order, as uninterrupted
    assert not parts_dir(output).exists()


def test_batch_usage_errors_are_one_line(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "in.jsonl")
    wrong = run("batch", str(corpus), "-o", str(tmp_path / "out.csv"))
    assert wrong.returncode == 2 and ".jsonl or a .parquet" in one_line_error(wrong)
    missing = run("batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    assert missing.returncode == 1 and "No such file or folder" in one_line_error(missing)
