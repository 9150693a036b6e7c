"""Distribution-alignment smoke run: `lingua align` on the embedded SmolLM2, then `lingua compress`.

No target-LLM endpoint is reachable here, so the pairs come from local data: GSM8K test
questions with their reference answers. Those answers are human-written: they stand in
for target-LLM responses, which `lingua respond` would generate. The calculator
annotations (``<<3*4=12>>``) are removed and the ``#### 18`` line becomes "The answer is 18.",
the way an LLM prompted step by step would answer.

Prints the training loss curve, the validation loss before and after, the time, and the
compression ratio of the GSM8K chain-of-thought prompt at rate 0.5 with the aligned model
and with the base model. A few minutes on a laptop CPU with the defaults.

    .venv/bin/python scripts/align_smoke.py [--pairs 200] [--steps 40] [--out DIR]
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "gsm8k"
LINGUA = [sys.executable, "-m", "lingua_core.cli"]


def gsm8k_pairs(source: Path, count: int, target: Path) -> int:
    """Write ``count`` (question, cleaned answer) pairs in the format `lingua respond` writes."""
    written = 0
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            if written == count:
                break
            record = json.loads(line)
            body, _, final = re.sub(r"<<[^>]*>>", "", record["answer"]).rpartition("####")
            response = f"{body.strip()}\nThe answer is {final.strip()}."
            pair = {"id": f"gsm8k-test-{number}", "instruction": record["question"], "response": response}
            out.write(json.dumps({**pair, "teacher": "gsm8k-human-reference"}) + "\n")
            written += 1
    return written


def lingua(*args: str) -> dict[str, object]:
    """Run the CLI as a user would; its progress bar and errors go to this terminal."""
    proc = subprocess.run([*LINGUA, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"lingua {args[0]} failed with exit code {proc.returncode}")
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def compress(model: str, prompt: Path) -> tuple[str, str]:
    """A one-line report of compressing ``prompt`` to half, and the compressed text."""
    started = time.perf_counter()
    data = lingua("compress", str(prompt), "--model", model, "--rate", "0.5", "--json", "--no-progress")
    line = (
        f"{data['origin_tokens']} -> {data['compressed_tokens']} tokens, ratio {float(str(data['ratio'])):.2f}x "
        f"({time.perf_counter() - started:.0f} s with loading)"
    )
    return line, str(data["compressed_prompt"])


def report_compression(model: Path, prompt: Path) -> None:
    """Both models keep half the tokens, so the ratio is the same; what alignment changes is which."""
    aligned, aligned_text = compress(str(model), prompt)
    base, base_text = compress("embedded", prompt)
    print(f"compress --rate 0.5 {prompt.name}, aligned model: {aligned}")
    print(f"compress --rate 0.5 {prompt.name}, base model:    {base}")
    same = difflib.SequenceMatcher(None, aligned_text.split(), base_text.split(), autojunk=False).ratio()
    print(f"aligned vs base compressed text: {same:.1%} of words in common (difflib ratio)")


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "test.jsonl")
    parser.add_argument("--prompt", type=Path, default=SHARED / "prompt_hardest.txt")
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--lr", default="5e-5")
    parser.add_argument("--out", type=Path, help="keep the aligned model here (default: a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lingua-align-smoke-") as scratch:
        pairs = Path(scratch) / "pairs.jsonl"
        count = gsm8k_pairs(args.data, args.pairs, pairs)
        out = args.out or Path(scratch) / "aligned"
        print(f"{count} GSM8K pairs (human answers standing in for target-LLM responses) -> {out}")
        summary = lingua(
            "align",
            str(pairs),
            "--model",
            "embedded",
            "--out",
            str(out),
            "--max-steps",
            str(args.steps),
            "--batch-size",
            str(args.batch_size),
            "--max-length",
            str(args.max_length),
            "--lr",
            args.lr,
            "--eval-every",
            str(max(1, args.steps // 2)),
            "--json",
        )
        detail = json.loads((out / "training_summary.json").read_text(encoding="utf-8"))
        losses = [float(x) for x in detail["train_losses"]]
        window = max(1, len(losses) // 4)
        print(
            f"steps {summary['steps']}, {summary['train_examples']} train / "
            f"{summary['val_examples']} validation pairs, "
            f"{summary['tokens_trained']} response tokens, template {summary['template']}, "
            f"{summary['precision']} on {summary['device']}, saved as {summary['dtype']}"
        )
        print("train loss every 5 steps:", " ".join(f"{x:.3f}" for x in losses[::5]))
        print(
            f"train loss first {losses[0]:.3f} last {losses[-1]:.3f}; "
            f"mean of the first {window} steps {mean(losses[:window]):.3f}, "
            f"of the last {window} {mean(losses[-window:]):.3f}"
        )
        print(
            "validation loss before {:.4f}, after {:.4f} (best {:.4f} at step {})".format(
                summary["val_loss_before"], summary["val_loss_last"], summary["val_loss_best"], summary["best_step"]
            )
        )
        print(f"training seconds {summary['seconds']:.0f}")
        report_compression(out, args.prompt)


if __name__ == "__main__":
    main()
