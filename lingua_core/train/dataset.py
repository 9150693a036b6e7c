"""The labelled-word dataset that distillation writes and classifier training reads.

One JSON object per line, so a long distillation run can append as results arrive and a
reader can stream it. Each record keeps the original text with each word's character span
rather than a list of words: training then tokenizes the text the way inference does and
gives each sub-token the label of the word it overlaps, so train and inference see the same
tokens. Provenance (source file, chunk, teacher, instruction, quality numbers) rides along,
so a bad teacher or source can be traced and filtered later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core.errors import InputError
from lingua_core.train.align_labels import Alignment
from lingua_core.train.jsonl import iter_jsonl

FORMAT = "lingua-labelled-words/1"


@dataclass(frozen=True)
class LabelledSample:
    """One original text, its word spans and keep labels, and where it came from."""

    text: str
    spans: tuple[tuple[int, int], ...]
    labels: tuple[bool, ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.spans) != len(self.labels):
            raise InputError(f"{len(self.spans)} word spans but {len(self.labels)} labels")

    @classmethod
    def from_alignment(cls, alignment: Alignment, **provenance: Any) -> LabelledSample:
        extra = {
            "variation_rate": round(alignment.variation_rate, 6),
            "alignment_gap": round(alignment.alignment_gap, 6),
            "keep_rate": round(alignment.matching_rate, 6),
        }
        return cls(
            text=alignment.text,
            spans=tuple(zip(alignment.starts, alignment.ends)),
            labels=alignment.labels,
            provenance={**provenance, **extra},
        )

    @property
    def words(self) -> list[str]:
        return [self.text[s:e] for s, e in self.spans]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "text": self.text,
            "spans": [list(span) for span in self.spans],
            "labels": [int(label) for label in self.labels],
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> LabelledSample:
        try:
            text = record["text"]
            spans = tuple((int(s), int(e)) for s, e in record["spans"])
            labels = tuple(bool(x) for x in record["labels"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a labelled-words record ({exc})") from None
        if any(not 0 <= s < e <= len(text) for s, e in spans):
            raise InputError("a word span falls outside its text")
        return cls(text, spans, labels, dict(record.get("provenance") or {}))


def write_samples(path: Path, samples: Iterable[LabelledSample], append: bool = False) -> int:
    """Write (or append) samples, one line each, flushed per line so a crash loses at most one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("a" if append else "w", encoding="utf-8") as out:
        for sample in samples:
            out.write(json.dumps(sample.to_json(), ensure_ascii=False) + "\n")
            out.flush()
            count += 1
    return count


def read_samples(path: Path) -> Iterator[LabelledSample]:
    """Stream samples; a truncated last line (an interrupted writer) is skipped, not fatal."""
    for number, record in iter_jsonl(path, tolerate_torn_tail=True, what="dataset"):
        try:
            yield LabelledSample.from_json(record)
        except InputError as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
