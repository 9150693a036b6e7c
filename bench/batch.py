"""Corpus compression: records/s and tokens/s of `lingua batch`'s paths against the naive loop.

    .venv/bin/python bench/batch.py [--records 200] [--rate 0.5] [--skip-ray] [--skip-llmlingua2]

The corpus: the first NQ-open questions' 20 retrieved Wikipedia passages each (title and text,
`../shared/data/rag`), one record per passage. Rows, one run each, all in this process
except Ray's actors, the model loaded before the clock starts wherever it is shared:
- naive loop: one `Compressor.compress` call per record, what a user of llmlingua writes;
- local batched: `lingua_core.batch.compress_records`, `--batch-size` records whose texts
  share forwards (`Compressor.compress_many`);
- Ray, 1 and 2 actors: `lingua_core.batch.compress_dataset` over a local Ray started here
  (`num_cpus=3`: the actors take 2, Ray Data's block split 1); each actor loads its own
  model, which the note estimates (one load of the embedded model, measured here);
- LLMLingua-2, naive and batched, on a MiniLM token classifier with a seeded random head
  (no trained LLMLingua-2 checkpoint can be fetched here; the compute is a real encoder's).
Every row's outputs are compared with the naive loop's: "same" counts identical texts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NQ = ROOT.parent / "shared" / "data" / "rag" / "nq-open-20doc-dev.jsonl.gz"


def passages(count: int) -> list[str]:
    texts: list[str] = []
    with gzip.open(NQ, "rt", encoding="utf-8") as handle:
        for line in handle:
            texts += [f"{doc['title']}\n{doc['text']}" for doc in json.loads(line)["documents"]]
            if len(texts) >= count:
                break
    return texts[:count]


def timed(run: Callable[[], list[str]]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    texts = run()
    return time.perf_counter() - started, texts


def row(name: str, seconds: float, texts: list[str], baseline: list[str], tokens: int, note: str = "") -> str:
    same = sum(a == b for a, b in zip(texts, baseline, strict=True))
    speedup = ROWS_BASE[0] / seconds if ROWS_BASE else 1.0
    return (
        f"| {name} | {seconds:.1f} | {len(texts) / seconds:.2f} | {tokens / seconds:.0f} | "
        f"{speedup:.2f}x | {same}/{len(texts)} | {note} |"
    )


ROWS_BASE: list[float] = []


def causal_rows(texts: list[str], rate: float, batch_size: int, ray_actors: list[int]) -> list[str]:
    from lingua_core.api import Compressor
    from lingua_core.batch.job import CompressSettings, compress_records
    from lingua_core.tokens import count_tokens

    started = time.perf_counter()
    compressor = Compressor.load()
    load = time.perf_counter() - started
    compressor.compress(texts[0], rate=rate)  # warm-up: first-call allocations, lazy imports
    tokens = sum(count_tokens(t) for t in texts)
    settings = CompressSettings(rate=rate)

    def naive() -> list[str]:
        return [compressor.compress(t, rate=rate).compressed_text for t in texts]

    def batched() -> list[str]:
        return [r["compressed_text"] for r in compress_records(texts, compressor, settings, batch_size)]

    naive_s, baseline = timed(naive)
    ROWS_BASE[:] = [naive_s]
    lines = [row("LLMLingua, naive loop", naive_s, baseline, baseline, tokens)]
    batched_s, out = timed(batched)
    lines.append(row(f"LLMLingua, local batched ({batch_size})", batched_s, out, baseline, tokens))
    for actors in ray_actors:
        ray_s, ray_out = ray_run(texts, settings, actors, batch_size)
        lines.append(
            row(
                f"LLMLingua, Ray {actors} actor{'s' if actors > 1 else ''}",
                ray_s,
                ray_out,
                baseline,
                tokens,
                f"incl. {actors} model load(s) of ~{load:.1f} s each",
            )
        )
    return [f"model load (embedded, once): {load:.2f} s; {tokens} o200k tokens in {len(texts)} records", *lines]


def ray_run(texts: list[str], settings: Any, actors: int, batch_size: int) -> tuple[float, list[str]]:
    import ray

    from lingua_core.batch import compress_dataset

    records = [{"id": str(i + 1), "text": t} for i, t in enumerate(texts)]
    dataset = ray.data.from_items(records)
    started = time.perf_counter()
    # The machine's 2 cores split between the actors: Ray gives each actor's torch as many
    # threads as the CPUs it reserves.
    rows = compress_dataset(
        dataset, settings=settings, actors=actors, cpus_per_actor=2 / actors, batch_size=batch_size
    ).take_all()
    seconds = time.perf_counter() - started
    by_id = {r["id"]: r["compressed_text"] for r in rows}
    return seconds, [by_id[str(i + 1)] for i in range(len(texts))]


def llmlingua2_rows(texts: list[str], rate: float, batch_size: int) -> list[str]:
    from bench.llmlingua2 import classifier_dir
    from lingua_core.api import Compressor
    from lingua_core.batch.job import CompressSettings, compress_records
    from lingua_core.tokens import count_tokens

    compressor = Compressor.load(str(classifier_dir()))
    compressor.compress(texts[0], rate=rate)
    tokens = sum(count_tokens(t) for t in texts)

    def naive() -> list[str]:
        return [compressor.compress(t, rate=rate).compressed_text for t in texts]

    def batched() -> list[str]:
        settings = CompressSettings(rate=rate)
        return [r["compressed_text"] for r in compress_records(texts, compressor, settings, batch_size)]

    naive_s, baseline = timed(naive)
    ROWS_BASE[:] = [naive_s]
    lines = [row("LLMLingua-2 (MiniLM), naive loop", naive_s, baseline, baseline, tokens)]
    batched_s, out = timed(batched)
    lines.append(row(f"LLMLingua-2 (MiniLM), local batched ({batch_size})", batched_s, out, baseline, tokens))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-llmlingua2", action="store_true")
    args = parser.parse_args()
    texts = passages(args.records)
    ray_actors: list[int] = []
    if not args.skip_ray:
        import ray

        # One logical CPU more than the actors take: Ray Data runs its block split as a 1-CPU task.
        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
        ray_actors = [1, 2]
    print(f"{len(texts)} NQ passages, rate {args.rate}; one run each on this machine")
    print()
    print("| path | seconds | records/s | tokens/s | vs naive | same as naive | note |")
    print("|---|---|---|---|---|---|---|")
    header, *lines = causal_rows(texts, args.rate, args.batch_size, ray_actors)
    for line in lines:
        print(line, flush=True)
    if not args.skip_llmlingua2:
        for line in llmlingua2_rows(texts, args.rate, args.batch_size):
            print(line, flush=True)
    print()
    print(header)


if __name__ == "__main__":
    main()
