"""Alignment smoke run: human deletion-based sentence compressions turned into word labels.

The SLAHAN data (Google news sentences, 1,000 pairs; broadcast news, 1,370 sentences with
three references each) are extractive by construction, so every compressed word should be
placed: the variation rate and the alignment gap measure the aligner itself here. Prints one
table per set; nothing is written.

    .venv/bin/python scripts/align_sentence_pairs.py [--data DIR]   # default: ../shared/data/...SLAHAN
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingua_core.train.align_labels import Alignment, align_labels, filter_alignments

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_DATA = SHARED / "data" / "compression_pairs" / "sentence_compression_SLAHAN"


def pairs(data: Path) -> dict[str, list[tuple[str, str]]]:
    sets: dict[str, list[tuple[str, str]]] = {}
    google = data / "google"
    originals = (google / "input.txt").read_text(encoding="utf-8").splitlines()
    golds = (google / "gold.txt").read_text(encoding="utf-8").splitlines()
    sets["google"] = list(zip(originals, golds, strict=True))
    bcn = data / "bcn"
    originals = (bcn / "input.txt").read_text(encoding="utf-8").splitlines()
    for k in (1, 2, 3):
        refs = (bcn / f"gold.{k}.comp").read_text(encoding="utf-8").splitlines()
        sets[f"bcn ref {k}"] = list(zip(originals, refs, strict=True))
    return sets


def summary(name: str, alignments: list[Alignment]) -> str:
    report = filter_alignments(alignments)
    keep_rate = statistics.fmean(a.matching_rate for a in alignments)
    variation = statistics.fmean(a.variation_rate for a in alignments)
    gap = statistics.fmean(a.alignment_gap for a in alignments)
    placed = sum(a.compressed_words - a.unmatched_absent - a.unmatched_present for a in alignments)
    total = sum(a.compressed_words for a in alignments)
    return (
        f"| {name} | {len(alignments)} | {keep_rate:.3f} | {placed / max(1, total):.4f} | {variation:.4f} | "
        f"{gap:.4f} | {report.dropped_share:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    columns = ("set", "pairs", "keep rate", "compressed words placed", "mean variation rate", "mean alignment gap")
    print("| " + " | ".join((*columns, "filtered share")) + " |")
    print("|---|---|---|---|---|---|---|")
    for name, items in pairs(args.data).items():
        print(summary(name, [align_labels(original, compressed) for original, compressed in items]))


if __name__ == "__main__":
    main()
