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
        [--skip-reference] [--rank-methods longllmlingua bm25 ...] [--lingua-option key=value ...]
        [--dtype bf16] [--torch-threads N] [--examples 3] [--out FILE] [--resume FILE]
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import enum
import gzip
import json
import random
import re
import statistics
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.data import _kv_contexts, publish, shared_data_dir
from bench.near_duplicates import cases as near_duplicate_cases
from bench.quality import machine, table
from lingua_core.tokens import count_tokens

ENCODING = "o200k_base"
SEPARATOR = "\n\n"  # how instruction, contexts and question are joined, by every side
DEFAULT_RATES = {"nq": [0.25, 0.33], "kv": [0.33], "dup": [0.33]}
DUP_CASES = 60
RANDOM_SEED = 2026
NQ_INSTRUCTION = (
    "Write a high-quality answer for the given question using only the provided search results "
    "(some of which might be irrelevant)."
)
KV_INSTRUCTION = "Extract the value corresponding to the specified key in the JSON object below."


@dataclass(frozen=True)
class Case:
    """One prompt in the three parts every side takes, with its accepted answers."""

    dataset: str
    name: str
    group: str  # the slice it is reported in besides "all": NQ's gold position, the record kind
    instruction: str
    contexts: tuple[str, ...]
    question: str
    answers: tuple[str, ...]
    answer_context: int  # index of the context that holds the answer

    @property
    def text(self) -> str:
        return SEPARATOR.join(p for p in (self.instruction, *self.contexts, self.question) if p)


@dataclass
class Output:
    """One side's compression of one case."""

    text: str
    seconds: float
    spans: tuple[tuple[int, int], ...] = ()  # Lingua: kept character ranges of ``Case.text``
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


Side = Callable[[Case, float, int], Output]  # (case, rate, the token count the random side drops to)


# --- data ---------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _interleave(groups: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row of each group in turn, so any prefix keeps the groups balanced."""
    queues = [list(g) for g in groups]
    out: list[dict[str, Any]] = []
    while any(queues):
        out.extend(q.pop(0) for q in queues if q)
    return out


def load_nq(limit: int | None) -> list[Case]:
    """NQ rows, stratified by gold position when limited (the file has 106/106/88 rows at 0/9/19)."""
    rows = _jsonl(shared_data_dir() / "rag" / "nq-open-20doc-dev.jsonl.gz")
    if limit is not None:
        by_position: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_position[row["gold_index"]].append(row)
        rows = _interleave(by_position[p] for p in sorted(by_position))[:limit]
    return [
        Case(
            "nq",
            row["id"],
            f"gold@{row['gold_index']}",
            NQ_INSTRUCTION,
            tuple(f"Document [{i}](Title: {d['title']}) {d['text']}" for i, d in enumerate(row["documents"], 1)),
            f"Question: {row['question']}\nAnswer:",
            tuple(row["answers"]),
            row["gold_index"],
        )
        for row in rows
    ]


def load_kv(limit: int | None) -> list[Case]:
    rows = _jsonl(shared_data_dir() / "rag" / "kv-retrieval-75_keys.jsonl.gz")[:limit]
    cases = []
    for i, row in enumerate(rows):
        records = row["ordered_kv_records"]
        if isinstance(records, str):  # some exports hold the list as a Python literal
            records = ast.literal_eval(records)
        context = "JSON data:\n" + "\n".join(_kv_contexts(records))
        question = f'Key: "{row["key"]}"\nCorresponding value:'
        cases.append(Case("kv", f"kv75[{i}]", "", KV_INSTRUCTION, (context,), question, (row["value"],), 0))
    return cases


def load_dup(limit: int | None) -> list[Case]:
    return [
        Case("dup", c.name, c.kind, c.instruction, c.records, c.question, (c.answer,), c.target)
        for c in near_duplicate_cases(DUP_CASES if limit is None else limit)
    ]


LOADERS: dict[str, Callable[[int | None], list[Case]]] = {"nq": load_nq, "kv": load_kv, "dup": load_dup}


# --- scoring ------------------------------------------------------------------------------------


def context_part(text: str, case: Case) -> str:
    """The compressed contexts: the output without the instruction and question every side keeps."""
    start = len(case.instruction) if case.instruction and text.startswith(case.instruction) else 0
    end = len(text) - len(case.question) if case.question and text.endswith(case.question) else len(text)
    return text[start:end]


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def kept(text: str, case: Case) -> tuple[bool, bool]:
    """(an answer survives verbatim, an answer survives up to case and whitespace)."""
    body = context_part(text, case)
    flat = normalize(body)
    return any(a in body for a in case.answers), any(normalize(a) in flat for a in case.answers)


# --- sides --------------------------------------------------------------------------------------


def guarded(name: str, side: Side) -> Side:
    """A side's failure on one prompt becomes a lost answer and an error count, not a crashed run."""

    def run(case: Case, rate: float, target: int) -> Output:
        try:
            return side(case, rate, target)
        except Exception as error:
            print(f"  {name} failed on {case.name}: {type(error).__name__}: {error}", file=sys.stderr)
            return Output("", 0.0, error=f"{type(error).__name__}: {error}")

    return run


def lingua_side(compressor: Any, options: Any) -> Side:
    from lingua_core import Prompt

    def compress(case: Case, rate: float, _target: int) -> Output:
        prompt = Prompt(contexts=case.contexts, instruction=case.instruction, question=case.question)
        started = time.perf_counter()
        result = compressor.compress(prompt, rate=rate, method="longllmlingua", options=options)
        seconds = time.perf_counter() - started
        return Output(result.compressed_text, seconds, result.kept_spans, dict(result.details))

    return compress


def reference_side(dtype: str) -> Side:
    import torch

    from bench.reference import load_reference
    from bench.run_reference import reference_settings
    from lingua_core.embedded import embedded_model_dir

    reference = load_reference(embedded_model_dir(), dtype={"bf16": torch.bfloat16, "fp32": torch.float32}[dtype])
    settings = reference_settings(question_aware=True)

    def compress(case: Case, rate: float, _target: int) -> Output:
        started = time.perf_counter()
        out = reference.compress_prompt(
            list(case.contexts), instruction=case.instruction, question=case.question, rate=rate, **settings
        )
        return Output(out["compressed_prompt"], time.perf_counter() - started)

    return compress


def random_drop(case: Case, target_tokens: int, seed: int) -> str:
    """Drop whole words of the contexts in a seeded random order until the prompt, instruction and
    question whole, costs at most ``target_tokens``; the number dropped is found by bisection."""
    body = SEPARATOR.join(case.contexts)
    words = [m.span() for m in re.finditer(r"\S+\s*", body)]
    order = list(range(len(words)))
    random.Random(seed).shuffle(order)

    def build(dropped: int) -> str:
        gone = set(order[:dropped])
        kept_body = "".join(body[s:e] for i, (s, e) in enumerate(words) if i not in gone).strip()
        return SEPARATOR.join(p for p in (case.instruction, kept_body, case.question) if p)

    low, high = 0, len(words)
    while low < high:
        middle = (low + high) // 2
        if count_tokens(build(middle), ENCODING) <= target_tokens:
            high = middle
        else:
            low = middle + 1
    return build(low)


def random_side(case: Case, _rate: float, target: int) -> Output:
    started = time.perf_counter()
    text = random_drop(case, target, RANDOM_SEED ^ zlib.crc32(case.name.encode()))
    return Output(text, time.perf_counter() - started)


# --- Lingua options from the command line -------------------------------------------------------


def parse_value(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def with_option(options: Any, key: str, raw: str) -> Any:
    """``options`` with one field replaced; ``a.b=v`` reaches into a nested dataclass (``protect``,
    ``iterative``) and an enum field takes its value (``reorder=sort``)."""
    head, _, rest = key.partition(".")
    names = [f.name for f in dataclasses.fields(options)]
    if head not in names:
        raise SystemExit(f"{type(options).__name__} has no field {head!r}; it has: {', '.join(names)}")
    current = getattr(options, head)
    if rest:
        value = with_option(current, rest, raw)
    else:
        value = parse_value(raw)
        if isinstance(current, enum.Enum):
            try:
                value = type(current)(value)
            except ValueError:
                raise SystemExit(f"{head} takes one of: {', '.join(str(e.value) for e in type(current))}") from None
    return dataclasses.replace(options, **{head: value})


def lingua_variants(base: Any, rank_methods: list[str]) -> tuple[dict[str, Any], str | None]:
    """One options object per Lingua row, and a note when ``rank_method`` is not an option yet."""
    if not rank_methods:
        return {"lingua": base}, None
    if "rank_method" not in {f.name for f in dataclasses.fields(base)}:
        return {"lingua": base}, (
            "LLMLinguaOptions has no `rank_method` field in this engine: "
            f"--rank-methods {' '.join(rank_methods)} ignored, the default row only."
        )
    return {f"lingua rank_method={m}": with_option(base, "rank_method", m) for m in rank_methods}, None


def describe(options: Any, prefix: str = "") -> str:
    """The options that differ from the defaults (nested ones as ``protect.keep_numbers``), and the
    ranking, whose default moves: the table says what ran."""
    default = type(options)()
    shown = []
    for f in dataclasses.fields(options):
        value, usual = getattr(options, f.name), getattr(default, f.name)
        if dataclasses.is_dataclass(value) and value != usual:
            shown.append(describe(value, f"{prefix}{f.name}."))
        elif value != usual or f.name == "rank_method":
            shown.append(f"{prefix}{f.name}={value.value if isinstance(value, enum.Enum) else value!r}")
    return ", ".join(shown) or "defaults"


# --- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    case: Case
    rate: float
    side: str
    exact: bool
    normalized: bool
    origin: int
    compressed: int
    seconds: float | None
    error: bool


def warm_up(sides: dict[str, Side]) -> None:
    """Run each side once, untimed: the first call pays one-off costs (about 30 s here: kernel
    choice, allocator growth, lazily loaded rankers) that would otherwise land on one prompt."""
    case = load_dup(1)[0]
    for side in sides.values():
        side(case, 0.5, count_tokens(case.text, ENCODING) // 2)


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


def score(case: Case, rate: float, outputs: dict[str, Output]) -> list[Score]:
    origin = count_tokens(case.text, ENCODING)
    scores = []
    for side, out in outputs.items():
        exact, normalized = kept(out.text, case)
        seconds = None if side == "uncompressed" else out.seconds
        compressed = count_tokens(out.text, ENCODING)
        scores.append(Score(case, rate, side, exact, normalized, origin, compressed, seconds, out.error is not None))
    return scores


def progress(dataset: str, rate: float, done: int, total: int, started: float, scores: list[Score]) -> None:
    tally: dict[str, int] = defaultdict(int)
    for s in scores:
        tally[s.side] += s.exact
    kept_so_far = ", ".join(f"{side} {n}/{done}" for side, n in tally.items())
    elapsed = time.perf_counter() - started
    print(
        f"{dataset} @ {rate:.2f}: {done}/{total} prompts, {elapsed:.0f} s; answer kept: {kept_so_far}", file=sys.stderr
    )


def share(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f}%)" if total else "-"


def summary_row(dataset: str, rate: float, group: str, side: str, scores: list[Score]) -> list[Any]:
    times = [s.seconds for s in scores if s.seconds is not None]
    origin = sum(s.origin for s in scores)
    return [
        dataset,
        f"{rate:.2f}",
        group,
        side,
        len(scores),
        share(sum(s.exact for s in scores), len(scores)),
        share(sum(s.normalized for s in scores), len(scores)),
        f"{sum(s.compressed for s in scores) / origin:.3f}" if origin else "-",
        f"{statistics.median(times):.2f}" if times else "-",
        f"{sum(times):.1f}" if times else "-",
        sum(s.error for s in scores),
    ]


def summary_table(scores: list[Score], sides: list[str]) -> list[str]:
    """One row per dataset, rate, slice (each group, then all) and side."""
    rows = []
    keys = list(dict.fromkeys((s.case.dataset, s.rate) for s in scores))
    for dataset, rate in keys:
        these = [s for s in scores if s.case.dataset == dataset and s.rate == rate]
        groups = sorted({s.case.group for s in these if s.case.group}, key=_group_order)
        for group in [*groups, "all"]:
            for side in sides:
                cell = [s for s in these if s.side == side and group in ("all", s.case.group)]
                rows.append(summary_row(dataset, rate, group, side, cell))
    header = [
        "dataset",
        "rate",
        "slice",
        "side",
        "n",
        "answer kept",
        "kept (normalized)",
        "reached rate",
        "s median",
        "s total",
        "errors",
    ]
    return table(header, rows)


def _group_order(group: str) -> tuple[int, str]:
    position = re.fullmatch(r"gold@(\d+)", group)
    return (int(position.group(1)), "") if position else (0, group)


# --- lost answers -------------------------------------------------------------------------------


def context_offset(case: Case, index: int) -> int:
    """Where context ``index`` starts in ``Case.text``."""
    start = len(case.instruction) + len(SEPARATOR) if case.instruction else 0
    return start + sum(len(c) + len(SEPARATOR) for c in case.contexts[:index])


def marked(text: str, spans: tuple[tuple[int, int], ...], start: int, end: int) -> str:
    """``text[start:end]`` with the words the compressor dropped shown as ``~~struck~~``."""
    pieces, position = [], start

    def dropped(run: str) -> str:
        core = run.strip()
        return run.replace(core, f"~~{core}~~") if core else run

    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        if s > position:
            pieces.append(dropped(text[position:s]))
        pieces.append(text[s:e])
        position = e
    if position < end:
        pieces.append(dropped(text[position:end]))
    return " ".join("".join(pieces).split())


def lost_examples(scores: list[Score], outputs: dict[tuple[str, float, str], Output], limit: int) -> list[str]:
    """Per dataset and Lingua row: how the lost answers were lost, and a few with their surroundings.

    Lost means the uncompressed prompt holds an answer and Lingua's output does not. The whole
    context dropped is the coarse ranking's fault; a kept context without the answer, the
    token-level step's."""
    held = {(s.case.name, s.rate) for s in scores if s.side == "uncompressed" and s.exact}
    lines: list[str] = []
    for dataset in dict.fromkeys(s.case.dataset for s in scores):
        for side in dict.fromkeys(s.side for s in scores if s.side.startswith("lingua")):
            lost = [
                s
                for s in scores
                if s.case.dataset == dataset and s.side == side and not s.exact and (s.case.name, s.rate) in held
            ]
            if not lost:
                continue
            dropped = [s for s in lost if s.case.answer_context not in _kept_contexts(outputs, s)]
            lines.append(
                f"- {dataset}, {side}: lost {len(lost)} (the whole context dropped: {len(dropped)}; "
                f"inside a kept context: {len(lost) - len(dropped)})."
            )
            for s in lost[:limit]:
                lines.append("  " + _example(s, outputs[(s.case.name, s.rate, side)]))
    return lines


def _kept_contexts(outputs: dict[tuple[str, float, str], Output], s: Score) -> list[int]:
    return list(outputs[(s.case.name, s.rate, s.side)].details.get("kept_contexts", []))


def _example(s: Score, out: Output) -> str:
    case = s.case
    begin = context_offset(case, case.answer_context)
    finish = begin + len(case.contexts[case.answer_context])
    found = [case.text.find(a, begin, finish) for a in case.answers]
    at = min((f for f in found if f >= 0), default=begin)
    start, end = max(begin, at - 220), min(finish, at + 220)
    where = "context kept" if case.answer_context in out.details.get("kept_contexts", []) else "context dropped"
    answers = " | ".join(case.answers[:3])
    question = " ".join(case.question.split())
    return (
        f"{case.name} @ {s.rate:.2f} ({where}); {question} -> {answers}: …{marked(case.text, out.spans, start, end)}…"
    )


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
    compressor = Compressor.load("embedded", dtype=args.dtype)
    sides: dict[str, Side] = {name: guarded(name, lingua_side(compressor, opts)) for name, opts in variants.items()}
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
