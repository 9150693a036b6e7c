"""Compressions kept from earlier runs of the retention benchmark, and the digest that says
whether they came from the same code.

Apart from the run so that what may be reused, and when, is decided in one place; nothing here
decides what is scored.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.rag_cases import Case, Output


class Resume:
    """Outputs of earlier runs, one JSON line each, so a table too long for one sitting (the
    reference takes about a minute per key-value prompt here) is built over several.

    A line counts only for the same side, the same engine (a digest of its source, or the
    reference's version and settings) and the same prompt and rate; anything else runs again.
    The random side is cheap and never stored."""

    def __init__(self, path: Path | None, versions: dict[str, str]) -> None:
        self.path, self.versions = path, versions
        self.stored: dict[tuple[str, str, str, float], Output] = {}
        self.reused = 0
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                spans = tuple((int(a), int(b)) for a, b in row["spans"])
                out = Output(row["text"], row["seconds"], spans, row["details"], row["error"])
                self.stored[(row["side"], row["version"], row["case"], row["rate"])] = out

    def key(self, side: str, case: Case, rate: float) -> tuple[str, str, str, float] | None:
        version = self.versions.get(side)
        return None if self.path is None or version is None else (side, version, case.name, rate)

    def get(self, side: str, case: Case, rate: float) -> Output | None:
        key = self.key(side, case, rate)
        out = None if key is None else self.stored.get(key)
        self.reused += out is not None
        return out

    def put(self, side: str, case: Case, rate: float, out: Output) -> None:
        key = self.key(side, case, rate)
        if key is None or self.path is None or out.error is not None:
            return
        row = {
            "side": side,
            "version": key[1],
            "case": case.name,
            "rate": rate,
            "text": out.text,
            "seconds": out.seconds,
            "spans": [list(span) for span in out.spans],
            "details": out.details,
            "error": out.error,
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


def source_digest(package: Path) -> str:
    """A digest of a package's Python source: a stored output is reused only by the same code."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
