"""Validating argparse types shared by every ``lingua`` subcommand.

One place, so each command rejects a bad number with the same wording before any model
loads.
"""

from __future__ import annotations

import argparse


def _parse(value: str, cast: type[float] | type[int]) -> float:
    try:
        return cast(value)
    except ValueError:
        kind = "a whole number" if cast is int else "a number"
        raise argparse.ArgumentTypeError(f"not {kind}: {value!r}") from None


def _check(ok: bool, rule: str, value: str) -> None:
    if not ok:
        raise argparse.ArgumentTypeError(f"{rule}; got {value}")


def positive_int(value: str) -> int:
    number = int(_parse(value, int))
    _check(number >= 1, "must be at least 1", value)
    return number


def non_negative_int(value: str) -> int:
    number = int(_parse(value, int))
    _check(number >= 0, "must not be negative", value)
    return number


def positive_float(value: str) -> float:
    number = _parse(value, float)
    _check(number > 0, "must be positive", value)
    return number


def non_negative_float(value: str) -> float:
    number = _parse(value, float)
    _check(number >= 0, "must not be negative", value)
    return number


def share(value: str) -> float:
    """A fraction in [0, 1]: quantiles, rates of a sample."""
    number = _parse(value, float)
    _check(0.0 <= number <= 1.0, "must be between 0 and 1", value)
    return number


def held_out_share(value: str) -> float:
    """A fraction in [0, 1): what is held out must leave something to train on."""
    number = _parse(value, float)
    _check(0.0 <= number < 1.0, "must be in [0, 1)", value)
    return number


def keep_rate(value: str) -> float:
    """The share of tokens compression keeps: (0, 1]."""
    number = _parse(value, float)
    _check(0.0 < number <= 1.0, "must be in (0, 1], the share of tokens to keep (0.33 = 3x)", value)
    return number


def with_output_flags(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Every command's: ``--json`` prints one JSON object at the end; ``-q`` keeps stderr for
    errors only; ``-v`` lets the libraries' own bars and warnings through."""
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr: no summary, no progress")
    loudness.add_argument("-v", "--verbose", action="store_true", help="also the libraries' progress bars and warnings")
    return parser
