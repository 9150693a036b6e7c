"""``lingua align``: LLMLingua's distribution alignment, from the shell.

Only the parser lives here; torch and transformers are imported by the handler, so that
building ``lingua``'s parser (every ``lingua compress``) stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lingua_core.arg_types import held_out_share, non_negative_int, positive_float, positive_int, with_output_flags

DESCRIPTION = """\
Distribution alignment (from the LLMLingua paper): instruction-tune the small causal LM on
answers the target LLM wrote, so its token distribution moves closer to the target's and
its perplexities rank tokens the way the target would: the tokens it drops are then the ones
the target finds predictable too.

PAIRS is a JSONL file, one pair per line: {"instruction", "response"} as `lingua respond`
writes it, {"prompt", "completion"}, or {"messages": [{"role", "content"}, ...]}. Each pair is
formatted with the model's chat template when it has one (plain "instruction\\n\\nresponse"
otherwise) and only the response tokens carry loss. The whole model is fine-tuned in float32
(mixed precision on CUDA) and saved into OUT as a plain model folder: use it with
`lingua compress --model OUT`. A run checkpoints every --save-every steps; after an
interruption, the same command with --resume continues it.
"""


def add_parsers(commands: Any) -> None:
    """``commands`` is the ``add_subparsers`` result of the ``lingua`` parser."""
    parser = commands.add_parser(
        "align",
        help="align the small LM with the target LLM (instruction-tune it on the target's answers)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pairs", type=Path, help="JSONL of (instruction, target-LLM response) pairs")
    parser.add_argument("--model", default="embedded", help="causal LM to tune: embedded, a folder, .gguf or hub id")
    parser.add_argument("--out", type=Path, required=True, help="folder for the aligned model (new, or --resume)")
    parser.add_argument("--epochs", type=positive_int, default=1, help="passes over the pairs (default 1)")
    parser.add_argument("--max-steps", type=positive_int, help="optimizer steps to run, overriding --epochs")
    parser.add_argument("--lr", type=positive_float, default=5e-5, help="peak learning rate (default 5e-5)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="pairs per forward pass (default 8)")
    parser.add_argument(
        "--grad-accum", type=positive_int, default=1, help="forward passes per optimizer step (default 1)"
    )
    parser.add_argument(
        "--max-length", type=positive_int, default=512, help="tokens per pair; longer ones are cut (default 512)"
    )
    parser.add_argument(
        "--val-fraction",
        type=held_out_share,
        default=0.05,
        help="share of pairs held out for validation (default 0.05)",
    )
    parser.add_argument(
        "--patience",
        type=non_negative_int,
        default=3,
        help="stop after this many evaluations without a better validation loss; 0 = never (default 3)",
    )
    parser.add_argument("--eval-every", type=positive_int, help="steps between evaluations (default: ~10 per run)")
    parser.add_argument(
        "--save-every",
        type=non_negative_int,
        default=200,
        help="steps between resumable checkpoints; 0 = none (default 200)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the unfinished run in --out")
    parser.add_argument("--warmup", type=held_out_share, default=0.05, help="share of steps warming up (default 0.05)")
    parser.add_argument("--schedule", choices=["cosine", "linear", "constant"], default="cosine")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default 0)")
    parser.add_argument("--max-grad-norm", type=positive_float, default=1.0, help="gradient clipping (default 1)")
    parser.add_argument(
        "--template",
        choices=["auto", "chat", "plain"],
        default="auto",
        help="pair format: the model's chat template (auto: when it has one) or plain text",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--dtype", default="auto", help="dtype of the saved model: auto (the source's), bf16, fp16, fp32"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the data order and the init")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    with_output_flags(parser)
    parser.set_defaults(handler=run_align)


def run_align(args: argparse.Namespace) -> dict[str, Any]:
    """Check the inputs before torch loads, then train."""
    from lingua_core.errors import InputError

    if not args.pairs.is_file():
        raise InputError(
            f"No such pairs file: {args.pairs}" if not args.pairs.exists() else f"{args.pairs} is not a file."
        )
    from lingua_core.train.align_config import AlignConfig
    from lingua_core.train.instruct import align

    config = AlignConfig(
        pairs=args.pairs,
        out=args.out,
        model=args.model,
        epochs=args.epochs,
        max_steps=args.max_steps,
        lr=args.lr,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        max_length=args.max_length,
        val_fraction=args.val_fraction,
        patience=args.patience,
        eval_every=args.eval_every,
        save_every=args.save_every,
        warmup=args.warmup,
        schedule=args.schedule,
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm,
        template=args.template,
        resume=args.resume,
        device=args.device,
        dtype=args.dtype,
        seed=args.seed,
        progress=not args.no_progress,
    )
    return align(config)
