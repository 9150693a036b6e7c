"""``lingua batch``: compress a corpus into one output file, resumable after a crash.

Local by default; ``--ray`` runs the same job as a Ray Data pipeline (``batch.ray_job``),
with the same output and summary. Ray is imported only then.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lingua_core.arg_types import positive_float, positive_int, with_output_flags
from lingua_core.batch.job import BATCH_SIZE
from lingua_core.cli.engine_commands import add_engine_options, engine_options, load_compressor
from lingua_core.cli.errors import UsageError
from lingua_core.errors import InputError
from lingua_core.terminal import TerminalBar, show_progress


def add_parsers(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="compress a corpus (JSONL, Parquet, a folder of text files)",
        description=(
            "Compress every record of INPUT into OUTPUT (.jsonl or .parquet): one row per record with "
            "its id, compressed text, token counts, rate, method, model and an error (empty when fine). "
            "Rerunning the same command after a crash or Ctrl-C finishes the job. "
            "--ray runs it on Ray: a Ray started here, or the cluster at ADDRESS."
        ),
    )
    batch.add_argument(
        "input",
        help="a .jsonl or .parquet file, a folder of them, or a folder of text files (with --ray also s3:// and "
        "other URIs Ray reads)",
    )
    batch.add_argument("-o", "--output", required=True, type=Path, help="the output file, .jsonl or .parquet")
    batch.add_argument("--text-field", default="text", help="the field holding the text (default: text)")
    batch.add_argument("--question-field", help="a field holding each record's question (question-aware)")
    batch.add_argument("--instruction-field", help="a field holding each record's instruction (kept whole)")
    batch.add_argument("--id-field", help="a field holding each record's id (default: line number or file path)")
    add_engine_options(batch)
    batch.add_argument(
        "--batch-size",
        type=positive_int,
        default=BATCH_SIZE,
        help=f"records compressed together and written as one shard, what a crash can lose (default {BATCH_SIZE})",
    )
    batch.add_argument("--price-model", default="gpt-4o", help="target model for the saving's price (default gpt-4o)")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    batch.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Ray: alone, a Ray started for the job; with ADDRESS (host:port), the cluster there "
        "(pip install 'lingua-prompt[ray]')",
    )
    batch.add_argument(
        "--actors",
        type=positive_int,
        help="with --ray: model copies working at once (default: one per GPU, else one per free CPU)",
    )
    batch.add_argument(
        "--cpus-per-actor", type=positive_float, default=1.0, help="with --ray: CPUs (torch threads) per actor"
    )
    with_output_flags(batch)
    batch.set_defaults(handler=_batch)


def job_identity(args: argparse.Namespace) -> dict[str, Any]:
    """What makes two runs the same job: a resumed run must match it."""
    from lingua_core.batch.output import RUNNER
    from lingua_core.batch.ray_input import is_uri

    identity = {
        "input": args.input if is_uri(args.input) else str(Path(args.input).resolve()),
        "fields": [args.text_field, args.question_field, args.instruction_field, args.id_field],
        "rate": args.rate,
        "target_tokens": args.target_tokens,
        "method": args.method,
        "model": args.model,
        "encoding": args.encoding,
        "rank_method": args.rank_method,
        "protect": [args.no_code_blocks, sorted(args.no_protect), list(args.preserve)],
    }
    if args.ray is not None:
        identity[RUNNER] = "ray"  # not the address nor the actors: any cluster can finish the job
    return identity


def _count_records(source: Path) -> int | None:
    """The number of records when it is cheap to know (lines of JSONL files), for the bar."""
    from lingua_core.batch.records import JSON_SUFFIXES, data_files

    files = [source] if source.is_file() else data_files(source)
    if not files or any(path.suffix.lower() not in JSON_SUFFIXES for path in files):
        return None
    total = 0
    for path in files:
        with path.open("rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def _batch(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.api import validate_budget
    from lingua_core.batch.job import CompressSettings
    from lingua_core.batch.output import output_format
    from lingua_core.batch.ray_input import is_uri
    from lingua_core.batch.records import Fields
    from lingua_core.pricing import lookup

    try:
        validate_budget(args.rate, args.target_tokens)
        output_format(args.output)
        if args.ray is None and (args.actors is not None or args.cpus_per_actor != 1.0):
            raise InputError("--actors and --cpus-per-actor are for --ray")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    if is_uri(args.input) and args.ray is None:
        raise InputError(f"{args.input}: a URI is read through Ray; add --ray")
    if not is_uri(args.input) and not Path(args.input).exists():
        raise InputError(f"No such file or folder: {args.input}")
    pricing = lookup(args.price_model)
    fields = Fields(args.text_field, args.question_field, args.instruction_field, args.id_field)
    settings = CompressSettings(args.rate, args.target_tokens, args.method, args.encoding, engine_options(args))
    if args.ray is None:
        totals, model = _run_local(args, fields, settings)
    else:
        totals, model = _run_ray(args, fields, settings)
    return {
        "output": str(args.output),
        "records": totals.records,
        "errors": totals.errors,
        "error_ids": totals.error_ids,
        "compressed_now": totals.compressed_now,
        "origin_tokens": totals.origin_tokens,
        "compressed_tokens": totals.compressed_tokens,
        "saved_tokens": totals.saved_tokens,
        "price_model": pricing.name,
        "saved_usd": totals.saved_tokens * pricing.usd_per_million_input / 1_000_000,
        "seconds": totals.seconds,
        "records_per_second": totals.records_per_second,
        "model": model,
    }


def _run_local(args: argparse.Namespace, fields: Any, settings: Any) -> tuple[Any, str]:
    from lingua_core.batch.local import run_local
    from lingua_core.batch.records import read_records

    source = Path(args.input)
    compressor = load_compressor(args.model, args.device, args.dtype)
    bar = TerminalBar("compressing", "rec", enabled=show_progress(args))
    total = _count_records(source) if bar.enabled else None
    try:
        totals = run_local(
            read_records(source, fields),
            args.output,
            compressor,
            settings,
            job_identity(args),
            batch_size=args.batch_size,
            progress=lambda done: bar(done, total),
        )
    finally:
        bar.close()
    return totals, compressor.lm.name


def _run_ray(args: argparse.Namespace, fields: Any, settings: Any) -> tuple[Any, str]:
    """The job on Ray; the model loads in each actor, not here."""
    from lingua_core.batch.ray_job import require_ray

    require_ray()
    import ray

    from lingua_core.batch.on_ray import ModelLoader
    from lingua_core.batch.ray_job import connect, quiet_ray_data, run_ray

    actors = connect(args.ray, args.actors, args.cpus_per_actor)
    try:
        quiet_ray_data(show_progress(args))
        return run_ray(
            args.input,
            args.output,
            settings,
            fields,
            job_identity(args),
            loader=ModelLoader(args.model, args.device, args.dtype),
            actors=actors,
            cpus_per_actor=args.cpus_per_actor,
            batch_size=args.batch_size,
        )
    finally:
        ray.shutdown()


def print_human(data: dict[str, Any]) -> None:
    errors = f", {data['errors']} with errors (first: {', '.join(data['error_ids'][:5])})" if data["errors"] else ""
    print(
        f"{data['records']} records -> {data['output']}{errors}\n"
        f"{data['origin_tokens']} -> {data['compressed_tokens']} tokens, {data['saved_tokens']} saved "
        f"(${data['saved_usd']:.4f} on {data['price_model']}); {data['compressed_now']} compressed in "
        f"{data['seconds']:.1f} s, {data['records_per_second']:.2f} records/s"
    )
