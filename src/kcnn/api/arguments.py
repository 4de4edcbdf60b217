"""Range-checked argparse types and the check of a file to write, shared by `kcnn` and `kcnn-tui`: one line, rc 2.

Integers are bounded by SQLite's 64-bit range (anything larger would overflow when stored or looked
up); seconds must be finite numbers (``nan`` and ``inf`` are refused).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from kcnn.files import output_file
from kcnn.store.schema import MAX_INTEGER as SQLITE_MAX

#: How many of the leaderboard's configurations a race takes at least and at most (`kcnn race --top`).
RACE_TOP = (2, 50)

__all__ = ["RACE_TOP", "duration_seconds", "output_file", "positive_number", "priority", "seconds", "whole"]


def whole(flag: str, low: int = 0, high: int = SQLITE_MAX, example: int = 1) -> Callable[[str], int]:
    """An argparse `type` for a whole number of flag `flag` between `low` and `high` (inclusive)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            bound = f"at least {low}" if high == SQLITE_MAX and low >= 0 else f"between {low} and {high}"
            shown = f"`{flag} {example}`" if flag.startswith("-") else str(example)  # a positional has no flag
            raise argparse.ArgumentTypeError(f"expects a whole number {bound}, such as {shown}; got {text!r}")
        return value

    return parse


#: Units a duration may carry, in seconds. A bare number is seconds, everywhere.
DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """A duration as seconds: ``90``, ``90s``, ``5m``, ``1.5h``; NaN for anything else."""
    text = text.strip().lower()
    scale = DURATION_UNITS.get(text[-1:]) if text else None
    try:
        return float(text[:-1] if scale else text) * (scale or 1.0)
    except ValueError:
        return math.nan


def seconds(flag: str, positive: bool = True, example: str = "60") -> Callable[[str], float]:
    """An argparse `type` for a finite duration in seconds (greater than 0, or 0 or more); units s, m, h allowed."""

    def parse(text: str) -> float:
        value = duration_seconds(text)
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            bound = "a number of seconds greater than 0" if positive else "a number of seconds, 0 or more"
            raise argparse.ArgumentTypeError(
                f"expects {bound}, such as `{flag} {example}` (or with a unit: 90s, 5m, 2h); got {text!r}"
            )
        return value

    return parse


def positive_number(flag: str, example: str = "1") -> Callable[[str], float]:
    """An argparse `type` for a finite number greater than 0 (fractions allowed)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(
                f"expects a number greater than 0, such as `{flag} {example}`; got {text!r}"
            )
        return value

    return parse


def priority(flag: str) -> Callable[[str], int]:
    """An argparse `type` for a priority: any whole number SQLite can store (higher runs first)."""
    return whole(flag, -SQLITE_MAX - 1, SQLITE_MAX, 10)
