"""``lingua train-classifier``: labelled words → an LLMLingua-2 compressor checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lingua_core.arg_types import held_out_share, non_negative_float, positive_float, positive_int, with_output_flags
from lingua_core.terminal import TerminalBar, show_progress


def add_parsers(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "train-classifier",
        help="train an LLMLingua-2 keep/drop classifier on labelled words",
        description=(
            "Fine-tune a bidirectional encoder (BERT, XLM-R, MiniLM...) as a 2-label token classifier "
            "on a labelled-words dataset (what `lingua label` writes). The best epoch by validation "
            "word F1 is saved to OUT, which `lingua compress --model OUT` loads as an LLMLingua-2 "
            "compressor. Each epoch's state is kept, so --resume continues an interrupted run."
        ),
    )
    parser.add_argument("data", nargs="+", type=Path, help="labelled-words JSONL file(s)")
    parser.add_argument("--model", required=True, help="base encoder: a local folder or a hub id")
    parser.add_argument("--out", required=True, type=Path, help="output folder (must be empty unless --resume)")
    parser.add_argument("--epochs", type=positive_int, default=5)
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--lr", type=positive_float, default=5e-5, help="peak learning rate (linear warm-up and decay)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.01)
    parser.add_argument(
        "--label-scope",
        choices=["all", "first"],
        default="all",
        help="sub-tokens that carry a word's label: all of them (default; inference averages them) or the first",
    )
    parser.add_argument("--val-fraction", type=held_out_share, default=0.1, help="share of samples held out")
    parser.add_argument("--patience", type=positive_int, default=2, help="epochs without a better F1 before stopping")
    parser.add_argument("--max-seq-len", type=positive_int, default=512, help="encoder window, specials included")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--no-mixed-precision", action="store_true", help="train in fp32 on CUDA too")
    parser.add_argument("--resume", action="store_true", help="continue the run whose state is in OUT")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    with_output_flags(parser)
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from lingua_core.train.classifier import ClassifierTrainingOptions, EpochRecord, train_classifier
    from lingua_core.train.dataset import read_samples

    samples = [sample for path in args.data for sample in read_samples(path)]
    options = ClassifierTrainingOptions(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        label_scope=args.label_scope,
        val_fraction=args.val_fraction,
        patience=args.patience,
        max_seq_len=args.max_seq_len,
        seed=args.seed,
        device=args.device,
        mixed_precision=not args.no_mixed_precision,
    )
    bar = TerminalBar("training", "batch", enabled=show_progress(args))

    def on_step(step: int, total: int, loss: float) -> None:
        bar(step, total, loss=f"{loss:.4f}")

    def on_epoch(record: EpochRecord) -> None:
        bar.close()
        m = record.metrics
        print(
            f"epoch {record.epoch}: train loss {record.train_loss:.4f}, val loss {m.loss:.4f}, "
            f"token P/R/F1 {m.token_precision:.3f}/{m.token_recall:.3f}/{m.token_f1:.3f}, "
            f"word F1 {m.word_f1:.3f}, keep rate {m.keep_rate:.3f} (gold {m.gold_keep_rate:.3f}), "
            f"{record.seconds:.0f} s",
            file=sys.stderr,
        )

    report = train_classifier(
        samples, args.model, args.out, options, resume=args.resume, on_epoch=on_epoch, on_step=on_step
    )
    best = next((r for r in report.history if r.epoch == report.best_epoch), None)
    return {
        "model_dir": report.output_dir,
        "train_samples": report.train_samples,
        "val_samples": report.val_samples,
        "epochs_run": len(report.history),
        "best_epoch": report.best_epoch,
        "stopped_early": report.stopped_early,
        "best_word_f1": best.metrics.word_f1 if best else None,
        "best_token_f1": best.metrics.token_f1 if best else None,
    }
