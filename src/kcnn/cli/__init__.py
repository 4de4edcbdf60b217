"""The `kcnn` command: argument parsing, dispatch, and one-line errors.

Importing this module must stay cheap: keras and torch are imported only
inside the commands that train.
"""

from __future__ import annotations

import argparse
import difflib
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn

from rich.console import Console

from kcnn import __version__
from kcnn.api.views import safe
from kcnn.cli import data as data_commands
from kcnn.cli import model as model_commands
from kcnn.cli import plot as plot_commands
from kcnn.cli import queue as queue_commands
from kcnn.cli import reports as report_commands
from kcnn.cli import runs as runs_commands
from kcnn.cli import store as store_commands
from kcnn.cli import studies as study_commands
from kcnn.cli import train as train_commands
from kcnn.cli import worker as worker_commands
from kcnn.cli import workers as workers_commands
from kcnn.cli.options import flagify
from kcnn.cli.spellings import modernize
from kcnn.errors import FileContentError, KcnnError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line with a hint, exit code 2.

    A long option must be spelt whole: argparse's prefix matching would read ``--fold 5`` as ``--folds 5``
    (cross-validate five times) on ``kcnn queue add``, where ``--fold`` does not exist.
    """

    #: The last (innermost) command parsed: leftover arguments are reported against its options.
    innermost: ClassVar[argparse.ArgumentParser | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        _Parser.innermost = self
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        parser: argparse.ArgumentParser = self
        if message.startswith("unrecognized arguments") and _Parser.innermost is not None:
            parser = _Parser.innermost  # the root reports leftovers; they belong to the command given
            options = [option for action in parser._actions for option in action.option_strings]
            for word in message.split(": ", 1)[-1].split():
                close = difflib.get_close_matches(word.split("=")[0], options, n=1) if word.startswith("--") else []
                if close:
                    message += f"; did you mean {close[0]}?"
                    break
        _print_error(f"{parser.prog}: {message} (see `{parser.prog} --help`)")
        raise SystemExit(EXIT_USAGE)


def _print_error(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {safe(message)}")


def _print_bad_files(bad: list[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table(title="Problems in the image folder", title_justify="left", title_style="bold red")
    table.add_column("where")
    table.add_column("problem")
    for path, reason in bad:
        table.add_row(safe(path), safe(reason))
    Console(stderr=True).print(table)


def build_parser() -> argparse.ArgumentParser:
    """The whole `kcnn` argument parser."""
    parser = _Parser(
        prog="kcnn",
        description="Find the best small CNN for an image-classification problem.",
        epilog="Example: kcnn train --kernel 2 --dilation 2",
    )
    parser.add_argument("--version", action="version", version=f"kcnn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train_commands.register(commands)
    queue_commands.register(commands)
    worker_commands.register(commands)
    workers_commands.register(commands)
    runs_commands.register(commands)
    report_commands.register(commands)
    plot_commands.register(commands)
    study_commands.register(commands)
    model_commands.register(commands)
    data_commands.register(commands)
    store_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `kcnn` command line.

    Returns:
        The exit code: 0 on success, 2 for a user mistake, 130 when interrupted.
    """
    parser = build_parser()
    rewrite = modernize(sys.argv[1:] if argv is None else argv)
    for notice in rewrite.notices:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[yellow]{safe(notice)}[/]")
    try:
        args = parser.parse_args(rewrite.argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except KcnnError as error:
        bad = getattr(error, "bad", None)
        if bad:
            _print_bad_files(bad)
        _print_error(str(error) if isinstance(error, FileContentError) else flagify(str(error)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _print_error("interrupted")
        return EXIT_INTERRUPTED
    except sqlite3.DatabaseError as error:
        if "full" in str(error):
            _print_error(f"the disk holding the store is full ({error}); free some space and run the command again.")
        else:
            _print_error(f"the store's database could not be read ({error}); is it from a newer or damaged kcnn store?")
        return 1


if __name__ == "__main__":
    sys.exit(main())
