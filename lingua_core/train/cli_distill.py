"""``lingua distill``, ``lingua label`` and ``lingua respond``: teacher data for training.

``distill`` sends chunks of source texts to a teacher LLM for extractive compression
(LLMLingua-2's data), ``label`` turns the answers into a keep/drop word dataset, ``respond``
collects the target LLM's answers to instructions (LLMLingua's distribution alignment).
The parsers are cheap to build; each handler imports the training code when it runs.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from lingua_core.arg_types import non_negative_float, non_negative_int, positive_int, share, with_output_flags
from lingua_core.errors import InputError
from lingua_core.terminal import TerminalBar, show_progress

DISTILL_EPILOG = """\
examples:
  lingua distill docs/*.md -o raw.jsonl --teacher-url https://api.openai.com/v1 --teacher-model gpt-4o
  lingua distill corpus.jsonl --text-field body -o raw.jsonl \\
      --teacher-url http://localhost:8000/v1 --teacher-model Qwen/Qwen2.5-7B-Instruct --workers 8
  lingua distill notes.txt -o raw.jsonl --local-teacher embedded --limit 3   # a quick trial
Rerun the same command to resume: chunks already in the output are not sent again."""

LABEL_EPILOG = """\
example:
  lingua label raw.jsonl -o labelled.jsonl --max-variation-rate 0.1"""

RESPOND_EPILOG = """\
example:
  lingua respond instructions.jsonl -o pairs.jsonl --teacher-url http://localhost:8000/v1 --teacher-model my-target"""


def _wrap(text: str) -> str:
    """Descriptions are wrapped here: the raw formatter keeps the epilog's examples as written."""
    return textwrap.fill(text, 88)


def _add_teacher_args(parser: argparse.ArgumentParser, workers_help: str) -> None:
    teacher = parser.add_argument_group("teacher (one of --teacher-url or --local-teacher)")
    which = teacher.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--teacher-url",
        metavar="URL",
        help="OpenAI-compatible API root, e.g. https://api.openai.com/v1 or http://localhost:8000/v1",
    )
    which.add_argument(
        "--local-teacher",
        metavar="SPEC",
        help="a local causal LM: 'embedded', a folder, a .gguf file or a cached hub id (one request at a time)",
    )
    teacher.add_argument("--teacher-model", metavar="NAME", help="model name the endpoint serves (with --teacher-url)")
    teacher.add_argument(
        "--api-key-env",
        metavar="VAR",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (default OPENAI_API_KEY; may be unset for local servers)",
    )
    teacher.add_argument(
        "--timeout",
        type=non_negative_float,
        metavar="SECONDS",
        default=120.0,
        help="seconds to wait for one answer (120)",
    )
    teacher.add_argument(
        "--retries",
        metavar="N",
        type=non_negative_int,
        default=5,
        help="retries on 429/5xx/timeouts, with backoff (5)",
    )
    teacher.add_argument("--device", default="auto", help="local teacher: auto, cpu, cuda, cuda:N or mps")
    teacher.add_argument("--dtype", default="auto", help="local teacher: auto, bf16, fp16 or fp32")
    run = parser.add_argument_group("run")
    run.add_argument("--workers", type=positive_int, metavar="N", default=4, help=workers_help)
    run.add_argument(
        "--max-tokens", type=positive_int, metavar="N", default=1024, help="most tokens the teacher may write (1024)"
    )
    run.add_argument(
        "--temperature", type=non_negative_float, metavar="T", default=0.0, help="sampling temperature (0: greedy)"
    )
    run.add_argument(
        "--limit", type=positive_int, metavar="N", help="send at most N new requests (a trial; rerun to go on)"
    )
    run.add_argument(
        "--errors", type=Path, metavar="FILE", help="where failed requests are listed (default: OUTPUT.errors.jsonl)"
    )
    run.add_argument(
        "--max-consecutive-failures",
        type=positive_int,
        default=8,
        metavar="N",
        help="stop after N failed requests in a row (8)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_parsers(commands: Any) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    distill = commands.add_parser(
        "distill",
        help="ask a teacher LLM for extractive compressions of source texts (LLMLingua-2 data)",
        description=_wrap(
            "Cut source texts into chunks at sentence boundaries and ask a teacher LLM to compress each "
            "one by deleting words. Answers are appended to OUTPUT (JSONL) as they arrive; `lingua label` "
            "turns them into training labels."
        ),
        epilog=DISTILL_EPILOG,
        formatter_class=raw,
    )
    distill.add_argument(
        "sources", nargs="+", type=Path, metavar="SOURCE", help=".jsonl: one text per line; any other file: one text"
    )
    distill.add_argument("-o", "--output", type=Path, required=True, help="raw answers, JSONL (appended, resumable)")
    distill.add_argument(
        "--text-field", default="text", metavar="NAME", help="field of a .jsonl source holding the text (text)"
    )
    distill.add_argument(
        "--id-field", metavar="NAME", help="field of a .jsonl source naming the text (default: its line number)"
    )
    distill.add_argument(
        "--chunk-tokens", type=positive_int, metavar="N", default=512, help="chunk size in target tokens (512)"
    )
    distill.add_argument(
        "--encoding", choices=["o200k_base", "cl100k_base"], default="o200k_base", help="target tokenizer (o200k_base)"
    )
    distill.add_argument("--instructions", type=Path, metavar="FILE", help="JSON instructions in LLMLingua-2's format")
    distill.add_argument("--instruction-id", metavar="ID", help="which instruction of --instructions to use")
    _add_teacher_args(distill, "parallel requests to an endpoint (4); a local teacher runs one at a time")
    with_output_flags(distill)
    distill.set_defaults(handler=_distill)

    label = commands.add_parser(
        "label",
        help="turn raw teacher compressions into a keep/drop word dataset",
        description=_wrap(
            "Align each compression from `lingua distill` back onto its original words, drop the samples with "
            "the worst variation rate (invented words) and alignment gap (reworded or reordered text), and "
            "write the labelled dataset that classifier training reads."
        ),
        epilog=LABEL_EPILOG,
        formatter_class=raw,
    )
    label.add_argument("raw", nargs="+", type=Path, metavar="RAW", help="output(s) of `lingua distill`")
    label.add_argument("-o", "--output", type=Path, required=True, help="labelled dataset, JSONL (overwritten)")
    label.add_argument(
        "--variation-quantile",
        type=share,
        metavar="Q",
        default=0.95,
        help="drop samples above this variation-rate quantile (0.95)",
    )
    label.add_argument(
        "--gap-quantile",
        type=share,
        metavar="Q",
        default=0.90,
        help="drop samples above this alignment-gap quantile (0.90)",
    )
    label.add_argument(
        "--max-variation-rate", type=share, metavar="R", help="also drop samples above this variation rate"
    )
    label.add_argument(
        "--max-alignment-gap", type=share, metavar="G", help="also drop samples above this alignment gap"
    )
    label.add_argument(
        "--window", type=positive_int, metavar="N", default=150, help="words searched ahead when aligning (150)"
    )
    label.add_argument(
        "--keep-truncated", action="store_true", help="label answers cut by --max-tokens too (their tail reads 'drop')"
    )
    with_output_flags(label)
    label.set_defaults(handler=_label)

    respond = commands.add_parser(
        "respond",
        help="collect the target LLM's responses to instructions (LLMLingua distribution alignment)",
        description=_wrap(
            "Ask the teacher (the target LLM's endpoint) each instruction and append "
            '{"id", "instruction", "response", "teacher", ...} lines to OUTPUT, resumable like `lingua distill`.'
        ),
        epilog=RESPOND_EPILOG,
        formatter_class=raw,
    )
    respond.add_argument(
        "instructions", nargs="+", type=Path, metavar="FILE", help=".jsonl with an instruction field, or text lines"
    )
    respond.add_argument("-o", "--output", type=Path, required=True, help="pairs, JSONL (appended, resumable)")
    respond.add_argument(
        "--field", default="instruction", metavar="NAME", help="field of a .jsonl file holding the instruction"
    )
    respond.add_argument(
        "--id-field", default="id", metavar="NAME", help="field of a .jsonl file naming it (default: hash of text)"
    )
    respond.add_argument("--system", default="", metavar="TEXT", help="a system prompt sent with every instruction")
    _add_teacher_args(respond, "parallel requests to an endpoint (4); a local teacher runs one at a time")
    with_output_flags(respond)
    respond.set_defaults(handler=_respond)


def _refuse_overwrite(output: Path, inputs: list[Path]) -> None:
    target = output.resolve()
    for path in inputs:
        if path.resolve() == target:
            raise InputError(f"the output {output} is also an input; write somewhere else")


def _teacher(args: argparse.Namespace) -> Any:
    from lingua_core.train.teachers import EndpointTeacher, LocalTeacher, RetryPolicy

    if args.local_teacher:
        if args.teacher_model:
            raise InputError("--teacher-model goes with --teacher-url; --local-teacher names its model itself")
        return LocalTeacher(args.local_teacher, device=args.device, dtype=args.dtype)
    if not args.teacher_model:
        raise InputError("--teacher-url needs --teacher-model: the model name the endpoint serves (e.g. gpt-4o)")
    return EndpointTeacher(
        args.teacher_url,
        args.teacher_model,
        api_key_env=args.api_key_env,
        timeout=args.timeout,
        retry=RetryPolicy(attempts=args.retries + 1),
    )


def _run_options(args: argparse.Namespace) -> Any:
    from lingua_core.train.runner import RunOptions

    return RunOptions(
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        workers=args.workers,
        max_consecutive_failures=args.max_consecutive_failures,
        limit=args.limit,
    )


def _distill(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.train.distill import distill, distill_jobs, read_sources
    from lingua_core.train.instructions import pick_instruction

    _refuse_overwrite(args.output, args.sources)
    instruction = pick_instruction(args.instructions, args.instruction_id)
    teacher = _teacher(args)
    sources = read_sources(args.sources, args.text_field, args.id_field)
    if not sources:
        raise InputError("the sources hold no text")
    jobs = distill_jobs(sources, instruction, args.chunk_tokens, args.encoding)
    bar = TerminalBar("distilling", "req", enabled=show_progress(args))
    try:
        summary = distill(jobs, teacher, args.output, errors=args.errors, options=_run_options(args), progress=bar)
    finally:
        bar.close()
    return {
        **summary.to_dict(),
        "sources": len(sources),
        "instruction_id": instruction.id,
        "chunk_tokens": args.chunk_tokens,
        "encoding": args.encoding,
    }


def _label(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.train.align_labels import QualityFilter
    from lingua_core.train.distill import LabelOptions, label

    _refuse_overwrite(args.output, args.raw)
    rule = QualityFilter(
        variation_quantile=args.variation_quantile,
        gap_quantile=args.gap_quantile,
        max_variation_rate=args.max_variation_rate,
        max_alignment_gap=args.max_alignment_gap,
    )
    return label(args.raw, args.output, LabelOptions(rule, args.window, args.keep_truncated))


def _respond(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.train.responses import collect_responses, read_instruction_items, response_jobs

    _refuse_overwrite(args.output, args.instructions)
    teacher = _teacher(args)
    items = read_instruction_items(args.instructions, args.field, args.id_field, args.system)
    if not items:
        raise InputError("the instruction files hold no instruction")
    bar = TerminalBar("responding", "req", enabled=show_progress(args))
    try:
        summary = collect_responses(
            response_jobs(items, args.system),
            teacher,
            args.output,
            errors=args.errors,
            options=_run_options(args),
            progress=bar,
        )
    finally:
        bar.close()
    return summary.to_dict()
