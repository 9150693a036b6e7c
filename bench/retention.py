"""Answer retention under question-aware compression: Lingua vs the reference vs random word dropping.

A RAG prompt is compressed so that an LLM can still answer it; the least it needs is the answer
itself. Downstream accuracy needs an LLM and mixes its errors in, so this measures the
compressor alone: does an accepted answer string still appear, verbatim, in the compressed
contexts? (The instruction and question are cut off first: every side keeps them whole, and an
answer that also occurs in the question would count as kept.) Three sets, three failure modes:

1. ``nq``: Natural Questions, 20 Wikipedia passages, the gold one at position 0, 9 or 19 among
   19 hard distractors (``rag/nq-open-20doc-dev.jsonl.gz``). Tests ranking: dropping the gold
   passage loses the answer. Prompt as lost-in-the-middle's ``qa.prompt``, one context per
   passage (``Document [i](Title: ...) text``). Kept: any alias, case-sensitive substring; the
   normalized column lowercases and collapses whitespace on both sides.
2. ``kv``: 75 UUID key-value pairs (``rag/kv-retrieval-75_keys.jsonl.gz``). Tests token-level
   care with opaque strings: a value cut by one token is lost. Prompt as
   ``kv_retrieval.prompt``, the JSON object as ONE context, formatted exactly as
   lost-in-the-middle's ``get_kv_retrieval_prompt`` does: ``{"k": "v",`` then ``\\n "k": "v",``
   per pair, closing ``}`` on the last (``bench/data.py``'s ``_kv_contexts`` joined by newlines).
3. ``dup``: sets of 12 near-identical records (``bench/near_duplicates.py``, held-out seeds):
   ranking by topic cannot tell records apart, only the id or name in the question can.

Sides, each loaded once, run in turn on every prompt (so the host's speed swings hit them alike):

- ``lingua``: ``Compressor.load("embedded").compress(Prompt(...), method="longllmlingua")`` with
  ``LLMLinguaOptions(question_aware=True)`` and any ``--lingua-option``; one row per
  ``--rank-methods`` entry when the options have a ``rank_method`` field;
- ``reference``: llmlingua 0.2.2 on the same model folder and dtype, LongLLMLingua with the
  settings of ``bench/run_reference.py`` (README's: contrastive perplexity, sort, dynamic ratio
  0.3, budget +100). It reads ``rate`` in its own cl100k tokens, so compare reached rates;
- ``random``: whole words of the contexts dropped uniformly at random (seeded per prompt) down
  to the o200k count the first Lingua row reached: the floor any ranking must beat;
- ``uncompressed``: the ceiling (NQ's gold passage does not always hold an alias verbatim).

Reached rate is compressed over original o200k tokens, summed over the slice. Seconds are
wall-clock per compression call, model loading excluded.

    .venv/bin/python bench/retention.py [--datasets nq kv dup] [--limit N] [--rates 0.25 0.33]
        [--skip-reference | --skip-lingua] [--rank-methods longllmlingua bm25 ...] [--lingua-option key=value ...]
        [--dtype bf16] [--torch-threads N] [--examples 3] [--out FILE] [--resume FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import publish
from bench.lingua_options import describe, lingua_variants, with_option
from bench.markdown_report import machine
from bench.rag_cases import ENCODING, LOADERS, Case, Output, load_dup
from bench.retention_report import Score, lost_examples, progress, score, summary_table
from bench.retention_sides import Side, guarded, lingua_side, random_side, reference_side
from bench.stored_outputs import Resume, source_digest
from lingua_core.tokens import count_tokens

DEFAULT_RATES = {"nq": [0.25, 0.33], "kv": [0.33], "dup": [0.33]}


# --- the run ------------------------------------------------------------------------------------


def warm_up(sides: dict[str, Side]) -> None:
    """Run each side once, untimed: the first call pays one-off costs (about 30 s here: kernel
    choice, allocator growth, lazily loaded rankers) that would otherwise land on one prompt."""
    case = load_dup(1)[0]
    for side in sides.values():
        side(case, 0.5, count_tokens(case.text, ENCODING) // 2)


def run_case(sides: dict[str, Side], case: Case, rate: float, resume: Resume) -> dict[str, Output]:
    """Every side on one prompt; random drops to the size the first (successful) Lingua row reached."""
    outputs: dict[str, Output] = {"uncompressed": Output(case.text, 0.0)}
    target: int | None = None
    for name, side in sides.items():
        out = resume.get(name, case, rate)
        if out is None:
            out = side(case, rate, target or max(1, round(count_tokens(case.text, ENCODING) * rate)))
            resume.put(name, case, rate, out)
        outputs[name] = out
        if name.startswith("lingua") and target is None and out.error is None:
            target = count_tokens(out.text, ENCODING)
    return outputs


# --- main ---------------------------------------------------------------------------------------


def load_sides(args: argparse.Namespace) -> tuple[dict[str, Side], list[str], dict[str, str]]:
    """The compressors, in the order they run on each prompt, notes on what ran, and each
    stored side's version (see :class:`Resume`)."""
    from lingua_core import Compressor, LLMLinguaOptions

    options = LLMLinguaOptions(question_aware=True)
    for pair in args.lingua_option:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--lingua-option wants key=value, got {pair!r}")
        options = with_option(options, key.strip(), raw.strip())
    variants, note = lingua_variants(options, args.rank_methods)
    if args.skip_lingua:
        variants, note = {}, None
    sides: dict[str, Side] = {}
    if variants:
        compressor = Compressor.load("embedded", dtype=args.dtype)
        sides = {name: guarded(name, lingua_side(compressor, opts)) for name, opts in variants.items()}
    engine = source_digest(Path(__file__).resolve().parents[1] / "lingua_core")
    versions = {name: f"{engine} {args.dtype} {describe(opts)}" for name, opts in variants.items()}
    notes = [f"Lingua: embedded SmolLM2 ({args.dtype}), method longllmlingua, options: {describe(options)}."]
    if note:
        notes.append(note)
        print(note, file=sys.stderr)
    if not args.skip_reference:
        from importlib.metadata import version

        from bench.run_reference import reference_settings

        sides["reference"] = guarded("reference", reference_side(args.dtype))
        notes.append("Reference: llmlingua 0.2.2, same model and dtype, LongLLMLingua settings of run_reference.py.")
        settings = sorted(reference_settings(question_aware=True).items())
        versions["reference"] = f"llmlingua {version('llmlingua')} {args.dtype} {settings}"
    sides["random"] = guarded("random", random_side)
    return sides, notes, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(LOADERS), default=list(LOADERS))
    parser.add_argument("--limit", type=int, default=None, help="first N prompts per dataset (NQ stratified)")
    parser.add_argument("--rates", type=float, nargs="+", default=None, help="default: NQ 0.25 0.33, others 0.33")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--skip-lingua",
        action="store_true",
        help="the reference alone (random then drops to the rate), to fill a --resume store",
    )
    parser.add_argument("--rank-methods", nargs="+", default=[], help="one Lingua row per LLMLinguaOptions.rank_method")
    parser.add_argument(
        "--lingua-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="repeatable; e.g. reorder=sort",
    )
    parser.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16", help="both model sides")
    parser.add_argument("--torch-threads", type=int, default=0, help="0 keeps torch's default")
    parser.add_argument("--examples", type=int, default=3, help="lost Lingua answers shown per dataset")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    parser.add_argument(
        "--resume", type=Path, default=None, metavar="FILE", help="reuse and extend outputs stored here (JSON lines)"
    )
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)

    sides, notes, versions = load_sides(args)
    resume = Resume(args.resume, versions)
    print("warming up", file=sys.stderr)
    warm_up(sides)
    scores: list[Score] = []
    outputs: dict[tuple[str, float, str], Output] = {}
    started = time.perf_counter()
    for dataset in args.datasets:
        cases = LOADERS[dataset](args.limit)
        for rate in args.rates or DEFAULT_RATES[dataset]:
            batch: list[Score] = []
            for done, case in enumerate(cases, 1):
                result = run_case(sides, case, rate, resume)
                outputs.update({(case.name, rate, n): o for n, o in result.items() if n.startswith("lingua")})
                batch += score(case, rate, result)
                if done % 10 == 0 or done == len(cases):
                    progress(dataset, rate, done, len(cases), started, batch)
            scores += batch
    seconds = time.perf_counter() - started

    side_names = ["uncompressed", *sides]
    lines = [
        "# Answer retention under question-aware compression",
        "",
        f"Machine: {machine()}; {seconds:.0f} s in all.",
        "",
        *(
            [f"{resume.reused} outputs reused from `{args.resume}` (earlier runs of the same code on this machine)."]
            if resume.reused
            else []
        ),
        *(f"- {n}" for n in notes),
        "",
        *summary_table(scores, side_names),
        "",
        "Lost answers (the uncompressed prompt has one, Lingua's output none; ~~struck~~ = dropped):",
        "",
        *(lost_examples(scores, outputs, args.examples) or ["- none"]),
    ]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
