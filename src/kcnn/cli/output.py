"""Where tables go: the terminal's width, or everything when asked (``--wide``) or when nobody is looking."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from rich.console import Console, RenderableType
from rich.table import Table

from kcnn.api.views import UNLIMITED_WIDTH, fit_table


def add_wide_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--wide``: print every column at full width, whatever the terminal's width."""
    parser.add_argument(
        "--wide", action="store_true", help="every column at full width (default when piped and $COLUMNS is unset)"
    )


def output_console(wide: bool = False) -> Console:
    """The console for stdout: the terminal's width; unlimited with `wide`, or when piped with ``COLUMNS`` unset.

    Piped output with no width asked for goes to a file or another program: cutting it to 80 columns
    would lose data.
    """
    console = Console()
    if wide or (not console.is_terminal and not os.environ.get("COLUMNS")):
        return Console(width=UNLIMITED_WIDTH)
    return console


def print_fitted(console: Console, *parts: RenderableType, drop_order: Sequence[str] = ()) -> None:
    """Print `parts`, each table fitted to the console's width (`kcnn.reports.fitting.fit_table`)."""
    for part in parts:
        if isinstance(part, Table) and console.width < UNLIMITED_WIDTH:
            fit_table(part, console.width, drop_order)
        console.print(part)


def add_format_option(parser: argparse.ArgumentParser, *formats: str, help: str = "") -> None:
    """Add ``--format table|json…``, the one output flag of every command that prints results."""
    choices = ("table", *(formats or ("json",)))
    parser.add_argument(
        "--format", choices=choices, default="table", help=help or f"{' | '.join(choices)} (default: table)"
    )
