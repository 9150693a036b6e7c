"""Output quality: Lingua vs the reference vs random word dropping, on the embedded SmolLM2 (bf16).

Size and speed say nothing about whether a compressed prompt still works. Two measures here:

1. Integrity (``lingua_core.integrity.check_integrity``) of real prompt templates from
   ``shared/data/prompts`` (GraphRAG, awesome-copilot, Prompty, Promptflow; LICENSE files and
   the JSON collections are skipped), at each rate: fused words, fragments, lost placeholders,
   cut numbers, doubled words, unbalanced brackets, broken JSON, summed over files per side.
2. Word choice against humans: the SLAHAN deletion-based sentence compressions (Google news,
   one gold; broadcast news, three golds), on the sentences ``bench/sentence_compression.py``
   holds out of training. Each text is compressed to its gold's own o200k token share (BCN:
   the mean of the three), kept words are mapped back to input words by integrity's in-order
   aligner, and micro precision/recall/F1 and accuracy are taken over words with a letter or
   digit, beside ``keep everything``. One table per ``--slahan-group``: 1 compresses each
   sentence alone; 10 joins ten consecutive sentences into one text, because the reference
   returns any text shorter than its 200-token window uncompressed.

Sides, each loaded once per process:

- ``lingua``: ``Compressor.load("embedded", dtype="bf16").compress(text, rate=r)``, defaults;
- ``reference``: llmlingua 0.2.2, ``compress_prompt(context=[text], rate=r)`` in the plain
  settings of ``bench/run_reference.py``. It reads ``rate`` in its own GPT (cl100k) tokens,
  so the rate it reaches is shown in o200k tokens like the others;
- ``random``: whole whitespace words dropped uniformly at random (seeded per text) down to
  the o200k count Lingua reached (SLAHAN: to the gold's count);
- ``classifier`` (with ``--classifier DIR``): LLMLingua-2 on a checkpoint from
  ``lingua train-classifier``, or on ``bench/sentence_compression.py --out DIR``'s two
  (each corpus scored with its own model, the prompt files with the Google one).

Seconds are wall-clock per compression call, model loading excluded.

    .venv/bin/python bench/quality.py [--rates 0.5 0.33] [--files 'graphrag/*'] [--slahan-limit 0]
        [--slahan-group 1 10] [--max-tokens 0] [--skip-reference] [--classifier DIR] [--out results.md]
"""

from __future__ import annotations

import argparse
import fnmatch
import random
import re
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import publish, shared_data_dir
from bench.markdown_report import machine, table
from bench.sentence_compression import DEFAULT_DATA as SLAHAN_DIR
from bench.sentence_compression import SEED, TEST_SHARE, load_pairs, prf, scores
from lingua_core.integrity import IntegrityReport, align_words, check_integrity, word_spans
from lingua_core.tokens import count_tokens, get_encoding

ENCODING = "o200k_base"
PROMPT_GLOBS = ("graphrag/*.txt", "awesome-copilot/*.prompt.md", "prompty/*.prompty", "promptflow/*.jinja2")
COUNTS = (
    "fused_words",
    "fragments",
    "alien_words",
    "lost_placeholders",
    "cut_numbers",
    "doubled_words",
    "bracket_imbalance",
    "broken_json",
)
_ALNUM_RE = re.compile(r"[^\W_]")


@dataclass
class Output:
    """One side's compression of one text."""

    text: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


Pairs = list[tuple[str, str]]  # one text: (original, compression) per human reference
Compress = Callable[[str, float, int], Output]  # (text, rate, random side's target tokens)


def load_lingua(spec: str) -> Compress:
    from lingua_core import Compressor

    compressor = Compressor.load(spec, dtype="bf16")

    def compress(text: str, rate: float, _target: int) -> Output:
        started = time.perf_counter()
        result = compressor.compress(text, rate=rate)
        return Output(result.compressed_text, time.perf_counter() - started, dict(result.details))

    return compress


def load_reference_side() -> Compress:
    import torch

    from bench.reference import load_reference
    from bench.run_reference import reference_settings
    from lingua_core.embedded import embedded_model_dir

    reference = load_reference(embedded_model_dir(), dtype=torch.bfloat16)
    settings = reference_settings(question_aware=False)

    def compress(text: str, rate: float, _target: int) -> Output:
        started = time.perf_counter()
        out = reference.compress_prompt(context=[text], rate=rate, **settings)
        return Output(out["compressed_prompt"], time.perf_counter() - started)

    return compress


def random_drop(text: str, target_tokens: int, seed: int) -> str:
    """Drop whole words (with the whitespace after them) in a seeded random order until the
    o200k count is at most ``target_tokens``; the number dropped is found by bisection."""
    spans = [m.span() for m in re.finditer(r"\S+\s*", text)]
    head = text[: spans[0][0]] if spans else text
    order = np.random.default_rng(seed).permutation(len(spans))

    def build(dropped: int) -> str:
        gone = set(order[:dropped].tolist())
        return head + "".join(text[s:e] for i, (s, e) in enumerate(spans) if i not in gone)

    lo, hi = 0, len(spans)
    while lo < hi:
        mid = (lo + hi) // 2
        if count_tokens(build(mid), ENCODING) <= target_tokens:
            hi = mid
        else:
            lo = mid + 1
    return build(lo)


def load_random() -> Compress:
    def compress(text: str, _rate: float, target: int) -> Output:
        started = time.perf_counter()
        out = random_drop(text, target, zlib.crc32(text.encode()))
        return Output(out, time.perf_counter() - started)

    return compress


def guarded(side: str, compress: Compress) -> Compress:
    """Record a side's failure on one text as a cell, not a crash of the whole run."""

    def run(text: str, rate: float, target: int) -> Output:
        try:
            return compress(text, rate, target)
        except Exception as error:
            print(f"  {side} failed: {type(error).__name__}: {error}", file=sys.stderr)
            return Output(text, 0.0, error=f"{type(error).__name__}: {error}")

    return run


def prompt_files(patterns: list[str]) -> list[Path]:
    root = shared_data_dir() / "prompts"
    files = sorted({p for g in PROMPT_GLOBS for p in root.glob(g)})
    return [p for p in files if any(fnmatch.fnmatch(p.relative_to(root).as_posix(), g) for g in patterns)]


def head_tokens(text: str, limit: int) -> str:
    """The first ``limit`` o200k tokens of ``text``, cut back to a line end so that no word is
    split (a cut word would show up as a fragment on every side)."""
    if limit <= 0:
        return text
    ids = get_encoding(ENCODING).encode(text, disallowed_special=())
    if len(ids) <= limit:
        return text
    head = get_encoding(ENCODING).decode(ids[:limit])
    cut = head.rfind("\n")
    return head[: cut + 1] if cut > 0 else head


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@dataclass
class Cell:
    """One side on one file at one rate."""

    origin: int
    compressed: int
    seconds: float
    report: IntegrityReport
    details: dict[str, Any]
    error: str | None


def integrity_tables(
    sides: dict[str, Compress], files: list[Path], rates: list[float], max_tokens: int
) -> tuple[list[str], list[str], list[str]]:
    root = shared_data_dir() / "prompts"
    cells: dict[tuple[str, float, str], Cell] = {}
    per_file: list[list[Any]] = []
    for path in files:
        name = path.relative_to(root).as_posix()
        text = head_tokens(path.read_text(encoding="utf-8"), max_tokens)
        origin = count_tokens(text, ENCODING)
        for rate in rates:
            target = max(1, round(origin * rate))
            for side, compress in sides.items():
                out = compress(text, rate, target)
                compressed = count_tokens(out.text, ENCODING)
                if side == "lingua" and out.error is None:
                    target = compressed  # random drops to what Lingua reached
                cells[(side, rate, name)] = Cell(
                    origin, compressed, out.seconds, check_integrity(text, out.text), out.details, out.error
                )
            row = [name, origin, f"{rate:.2f}"]
            for side in sides:
                if side != "random":
                    c = cells[(side, rate, name)]
                    row.append("error" if c.error else fmt_rate(c.compressed / origin))
            lingua = cells.get(("lingua", rate, name))
            row.append(lingua.details.get("protected_tokens", "-") if lingua else "-")
            for side in sides:
                row.append(cells[(side, rate, name)].report.total())
            for side in sides:
                if side != "random":
                    row.append(f"{cells[(side, rate, name)].seconds:.2f}")
            per_file.append(row)
            print(f"  {row}", file=sys.stderr)
    model_sides = [s for s in sides if s != "random"]
    per_file_header = (
        ["file", "origin tokens", "asked rate"]
        + [f"{s} rate" for s in model_sides]
        + ["lingua protected tokens"]
        + [f"{s} problems" for s in sides]
        + [f"{s} s" for s in model_sides]
    )
    summary: list[list[Any]] = []
    for rate in rates:
        for side in sides:
            group = [cells[(side, rate, p.relative_to(root).as_posix())] for p in files]
            origin = sum(c.origin for c in group)
            compressed = sum(c.compressed for c in group)
            counts = [sum(getattr(c.report, k) for c in group) for k in COUNTS]
            seconds = statistics.fmean(c.seconds for c in group) if group else 0.0
            errors = sum(c.error is not None for c in group)
            summary.append(
                [
                    side,
                    f"{rate:.2f}",
                    fmt_rate(compressed / origin if origin else None),
                    *counts,
                    sum(c.report.total() for c in group),
                    errors,
                    f"{seconds:.2f}",
                ]
            )
    summary_header = ["side", "asked rate", "reached rate", *COUNTS, "total", "errors", "s/prompt"]
    return table(summary_header, summary), table(per_file_header, per_file), examples(cells, rates, sides)


EXAMPLE_FIELDS = {
    "fused": "fused_examples",
    "fragment": "fragment_examples",
    "placeholder": "placeholder_examples",
    "number": "number_examples",
    "doubled": "doubled_examples",
    "bracket": "bracket_examples",
    "json": "json_examples",
}


def examples(cells: dict[tuple[str, float, str], Cell], rates: list[float], sides: dict[str, Compress]) -> list[str]:
    """A few instances of each problem per side, so a count can be checked by eye."""
    lines = []
    for rate in rates:
        for side in sides:
            found = []
            for kind, name in EXAMPLE_FIELDS.items():
                seen = [e for (s, r, _), c in cells.items() if s == side and r == rate for e in getattr(c.report, name)]
                if seen:
                    found.append(f"{kind}: " + ", ".join(repr(e[:40]) for e in seen[:4]))
            if found:
                lines.append(f"- {side} @ {rate:.2f}: " + "; ".join(found))
    return lines


def content_words(text: str) -> list[int]:
    """Indices of the whitespace words that hold a letter or digit (punctuation is not scored)."""
    return [i for i, (s, e) in enumerate(word_spans(text)) if _ALNUM_RE.search(text[s:e])]


def held_out(sentences: list[Pairs]) -> list[Pairs]:
    """The sentences ``bench/sentence_compression.py`` holds out of training, in corpus order,
    so that a classifier trained there is scored only on text it never saw."""
    order = list(range(len(sentences)))
    random.Random(SEED).shuffle(order)
    held = set(order[: round(len(order) * TEST_SHARE)])
    return [pairs for index, pairs in enumerate(sentences) if index in held]


def grouped(sentences: list[Pairs], size: int) -> list[Pairs]:
    """Consecutive sentences joined into one paragraph, each reference's compressions joined the
    same way. The reference compresses nothing shorter than its 200-token window (a sentence
    comes back whole), so only paragraphs show which words it would choose."""
    if size <= 1:
        return sentences
    out: list[Pairs] = []
    for start in range(0, len(sentences), size):
        chunk = sentences[start : start + size]
        references = min(len(pairs) for pairs in chunk)
        out.append([(" ".join(p[k][0] for p in chunk), " ".join(p[k][1] for p in chunk)) for k in range(references)])
    return out


MATCHED = {"lingua": "lingua at the reference's size", "random": "random at the reference's size"}


def slahan_table(
    sides: dict[str, Compress],
    limit: int,
    group: int,
    classifiers: dict[str, Compress] | None = None,
    match_reference: bool = True,
) -> list[str]:
    """Word P/R/F1 and accuracy of each side against the human compressions, at the gold's rate.

    ``keep everything`` is the floor that matters: a side that does not reach the rate scores
    its recall, not its word choice, and F1 rewards that when the gold keeps most words."""
    rows: list[list[Any]] = []
    for corpus, corpus_sentences in load_pairs(SLAHAN_DIR).items():
        sentences = held_out(corpus_sentences)
        sentences = sentences[:limit] if limit > 0 else sentences
        units = grouped(sentences, group)
        corpus_sides = dict(sides)
        if classifiers:
            corpus_sides["classifier"] = classifiers.get(corpus) or classifiers[""]
        matched = match_reference and {"lingua", "reference", "random"} <= set(corpus_sides)
        names = [*corpus_sides, *(MATCHED.values() if matched else ()), "keep everything"]
        counts: dict[str, list[tuple[int, int, int]]] = {name: [] for name in names}
        seconds: dict[str, list[float]] = {name: [] for name in names}
        errors = dict.fromkeys(names, 0)
        tokens = {name: [0, 0] for name in names}
        gold_share: list[float] = []
        for pairs in units:
            original = pairs[0][0]
            origin = count_tokens(original, ENCODING)
            shares = [count_tokens(gold, ENCODING) / origin for _, gold in pairs]
            rate = min(1.0, max(0.01, statistics.fmean(shares)))
            target = max(1, round(origin * rate))
            scored = content_words(original)
            golds = []
            for _, gold in pairs:
                kept = align_words(original, gold).kept()
                golds.append(np.array([kept[i] for i in scored], dtype=bool))
                gold_share.append(float(golds[-1].mean()) if scored else 0.0)
            outputs = {side: compress(original, rate, target) for side, compress in corpus_sides.items()}
            if matched:
                # The reference often stops short of the rate, and F1 rewards keeping more when
                # the gold keeps most words: the same sides again at the size it reached.
                size = count_tokens(outputs["reference"].text, ENCODING)
                outputs[MATCHED["lingua"]] = corpus_sides["lingua"](original, min(1.0, size / origin), size)
                outputs[MATCHED["random"]] = corpus_sides["random"](original, min(1.0, size / origin), size)
            outputs["keep everything"] = Output(original, 0.0)
            for name, out in outputs.items():
                kept = align_words(original, out.text).kept()
                predicted = np.array([kept[i] for i in scored], dtype=bool)
                for gold in golds:
                    counts[name].append(prf(predicted, gold))
                seconds[name].append(out.seconds)
                errors[name] += out.error is not None
                tokens[name][0] += origin
                tokens[name][1] += count_tokens(out.text, ENCODING)
        print(f"  slahan {corpus}: {len(sentences)} held-out sentences in {len(units)} texts", file=sys.stderr)
        words = sum(len(content_words(p[0][0])) * len(p) for p in units)
        for name in names:
            p, r, f = scores(counts[name])
            tp, predicted_words, gold_words = (sum(c[i] for c in counts[name]) for i in range(3))
            # F1 flatters keeping nearly everything when the gold keeps most words; accuracy does not
            accuracy = 1.0 - (predicted_words + gold_words - 2 * tp) / max(1, words)
            rows.append(
                [
                    corpus,
                    name,
                    len(units),
                    f"{p:.3f}",
                    f"{r:.3f}",
                    f"{f:.3f}",
                    f"{accuracy:.3f}",
                    fmt_rate(predicted_words / words if words else None),
                    fmt_rate(statistics.fmean(gold_share) if gold_share else None),
                    fmt_rate(tokens[name][1] / tokens[name][0] if tokens[name][0] else None),
                    errors[name],
                    f"{statistics.fmean(seconds[name]):.3f}",
                ]
            )
    header = [
        "corpus",
        "side",
        "texts",
        "precision",
        "recall",
        "F1",
        "accuracy",
        "kept words",
        "gold kept words",
        "reached rate",
        "errors",
        "s/text",
    ]
    return table(header, rows)


def load_classifiers(root: Path) -> dict[str, Compress]:
    """One checkpoint, or ``bench/sentence_compression.py --out``'s one per corpus (``google/``,
    ``bcn/``); the prompt files are compressed with the Google one (its rate rule is general)."""
    per_corpus = {c: root / c for c in ("google", "bcn") if (root / c / "config.json").is_file()}
    if not per_corpus:
        return {"": guarded("classifier", load_lingua(str(root)))}
    loaded = {c: guarded("classifier", load_lingua(str(d))) for c, d in per_corpus.items()}
    loaded[""] = loaded.get("google") or next(iter(loaded.values()))
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 0.33])
    parser.add_argument("--files", nargs="+", default=["*"], help="globs relative to shared/data/prompts")
    parser.add_argument("--slahan-limit", type=int, default=0, help="first N held-out sentences per corpus; 0: all")
    parser.add_argument(
        "--slahan-group", type=int, nargs="*", default=[1, 10], help="sentences per text, a table each; none: no table"
    )
    parser.add_argument("--max-tokens", type=int, default=0, help="cut each prompt to its first N o200k tokens")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-integrity", action="store_true", help="only the SLAHAN tables")
    parser.add_argument("--classifier", type=Path, default=None, help="an LLMLingua-2 checkpoint directory")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables to this Markdown file")
    args = parser.parse_args()

    sides: dict[str, Compress] = {"lingua": guarded("lingua", load_lingua("embedded"))}
    if not args.skip_reference:
        sides["reference"] = guarded("reference", load_reference_side())
    classifiers = load_classifiers(args.classifier) if args.classifier is not None else None
    if classifiers:
        sides["classifier"] = classifiers[""]
    sides["random"] = load_random()

    files = [] if args.skip_integrity else prompt_files(args.files)
    lines = [f"Machine: {machine()}", ""]
    cap = f", each cut to its first {args.max_tokens} o200k tokens" if args.max_tokens > 0 else ""
    print(f"{len(files)} prompt files{cap}; rates {args.rates}; sides {list(sides)}", file=sys.stderr)
    if files:
        summary, per_file, instances = integrity_tables(sides, files, args.rates, args.max_tokens)
        lines += [
            f"## Integrity over {len(files)} prompt files{cap} (sums over files; rates in o200k tokens)",
            "",
            *summary,
            "",
            "## Per file (problems = integrity total; s = seconds per compression)",
            "",
            *per_file,
            "",
            "Examples (up to 4 of each kind, first files first):",
            "",
            *instances,
            "",
        ]
    limit = f"first {args.slahan_limit}" if args.slahan_limit > 0 else "all"
    slahan_sides = {k: v for k, v in sides.items() if k != "classifier"}
    for group in args.slahan_group:
        unit = "each sentence alone" if group <= 1 else f"{group} consecutive sentences per text"
        lines += [
            f"## SLAHAN human compressions ({limit} held-out sentences per corpus, {unit}; "
            "word P/R/F1 at the gold's rate)",
            "",
            *slahan_table(slahan_sides, args.slahan_limit, group, classifiers),
            "",
        ]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
