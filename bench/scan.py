"""Text scanning speed: protection detection and the integrity check on large and hostile input.

    .venv/bin/python bench/scan.py [--repeats 3]

The tests only guard these scans against catastrophic backtracking (a bound no busy
machine comes near); the figures a user feels (hover and diagnostics run the protection
scan on every prompt file) are measured here. Prints one table, min and median of repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from lingua_core.integrity import check_integrity
from lingua_core.protect import find_protected_spans

SENTENCE = (
    "On 18 September 2033 at 12:45 the team paid 649,257 euros for ticket SM-8501 (v2.3.1); "
    'only 2.4 GHz networks are supported, see "Add device" and the list below.\n'
    "- The response should be JSON formatted as follows, without any extra prose around it.\n"
)
HOSTILE = {
    "100k '{'": "{" * 100_000,
    "50k '{{'": "{{" * 50_000,
    "100k quotes": '"' * 100_000,
    "20k '{\"a\": ['": '{"a": [' * 20_000,
    "25k '<a b=1'": "<a " + "b=1 " * 25_000,
    "25k list items": "- x\n" * 25_000,
    "25k table rules": "|---" * 25_000,
}


def timed(job: Callable[[], object], repeats: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        job()
        runs.append(time.perf_counter() - started)
    return min(runs), statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    prose = SENTENCE * (1_000_000 // len(SENTENCE))
    words = prose.split(" ")
    dropped = " ".join(w for i, w in enumerate(words) if i % 3)
    rows: list[tuple[str, str, float, float]] = []
    rows.append(
        ("protection scan", "1 MB prose, numbers, ids", *timed(lambda: find_protected_spans(prose), args.repeats))
    )
    for name, text in HOSTILE.items():
        rows.append(("protection scan", name, *timed(lambda t=text: find_protected_spans(t), args.repeats)))  # type: ignore[misc]
    rows.append(
        (
            "integrity check",
            "1 MB vs every third word dropped",
            *timed(lambda: check_integrity(prose, dropped), args.repeats),
        )
    )
    print("| scan | input | min s | median s |\n|---|---|---:|---:|")
    for scan, name, low, mid in rows:
        print(f"| {scan} | {name} | {low:.3f} | {mid:.3f} |")


if __name__ == "__main__":
    main()
