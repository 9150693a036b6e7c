"""``lingua``: compress and count prompts from the shell.

Scripts and acceptance checks call this, so its flags and JSON keys are a stable contract.
Exit codes: 0 success, 2 usage errors (argparse's own convention), 1 anything else, always
with one line on stderr and no traceback (``LINGUA_DEBUG=1`` shows it).

The command line is one layer above the engine and the training tools: it imports both,
neither imports it. Each command group adds its parsers and names a handler; handlers import
their heavy code when they run, so ``lingua count`` never loads torch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from lingua_core.cli import batch_commands, daemon_commands, engine_commands, train_commands
from lingua_core.cli.errors import ReportedError, UsageError
from lingua_core.errors import LinguaError
from lingua_core.terminal import configure_output

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line, as for every other error: the full usage of ``compress``
    runs to nine lines and buries the one that says what was wrong. Subcommands inherit it
    (argparse builds subparsers with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="lingua", description="Compress LLM prompts on your own machine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    engine_commands.add_parsers(commands)
    batch_commands.add_parsers(commands)
    daemon_commands.add_parsers(commands)
    train_commands.add_parsers(commands)
    return parser


def _print_human(command: str, data: dict[str, Any], quiet: bool, verbose: bool) -> None:
    if command == "compress":
        print(data["compressed_prompt"])
        # The summary is for a person watching, like the progress bar: a script that keeps
        # stderr for failures gets nothing there on success.
        if quiet or not (verbose or sys.stderr.isatty()):
            return
        print(
            f"\n{data['origin_tokens']} -> {data['compressed_tokens']} tokens ({data['encoding']}), "
            f"{data['ratio']:.2f}x smaller, {data['saved_tokens']} saved; "
            f"{data['method']} on {data['model']} in {data['seconds']:.2f} s",
            file=sys.stderr,
        )
    elif command == "count":
        # "~" and the note: another model's tokenizer stands in for the target's own.
        about = "~" if data["approximate"] else ""
        note = f", an estimate: {data['price_model']}'s own tokenizer is not available" if data["approximate"] else ""
        print(
            f"{about}{data['tokens']} tokens ({data['encoding']}{note}), "
            f"${data['cost_usd']:.6f} per call on {data['price_model']}"
        )
    elif command == "batch":
        if not quiet:
            batch_commands.print_human(data)
    elif command == "daemon":
        daemon_commands.print_human(data)
    elif command == "prepare":
        print(f"embedded model ready at {data['model_dir']}")
    else:
        for key, value in data.items():
            print(f"{key}: {value}")


def _fail(message: str, code: int) -> NoReturn:
    print(f"lingua: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_output(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False))
    try:
        data = args.handler(args)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except (LinguaError, ReportedError) as exc:
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
        _print_human(args.command, data, getattr(args, "quiet", False), getattr(args, "verbose", False))


def run() -> NoReturn:
    """The ``lingua`` program: :func:`main`, then an exit that skips the interpreter's teardown
    once torch is loaded. Tearing torch down takes 0.8-1.2 s on a 2-core machine, a tenth of a
    cold compression, for a process whose every file is already closed: the streams are
    flushed and logging shut down first, as a normal exit would.

    A reader that stops early (``lingua compress FILE | head -3``) closes the pipe: like other
    Unix tools, the command then ends quietly with status 1, no traceback."""
    import logging

    try:
        main()
        code = EXIT_OK
        sys.stdout.flush()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_ERROR)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BrokenPipeError:
        # Nothing more can reach the reader; point stdout at /dev/null so that the final
        # flush does not complain about the same pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_ERROR
    if "torch" not in sys.modules:
        raise SystemExit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to deliver
            code = code or EXIT_ERROR
    os._exit(code)


if __name__ == "__main__":
    run()
