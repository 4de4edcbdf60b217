"""Options and helpers shared by the `kcnn` sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from kcnn.api import CHECKPOINT_SECONDS, KcnnStore, default_store_path
from kcnn.api import open_store as open_api_store
from kcnn.api.arguments import SQLITE_MAX, seconds


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--store PATH`` (default ``$KCNN_STORE`` or ``./kcnn-runs``)."""
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="store folder (default: $KCNN_STORE, else ./kcnn-runs)",
    )


def add_checkpoint_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--checkpoint-every SECONDS`` (0: after every epoch)."""
    parser.add_argument(
        "--checkpoint-every",
        type=seconds("--checkpoint-every", positive=False, example="10"),
        default=CHECKPOINT_SECONDS,
        metavar="SECONDS",
        help="checkpoint a run after the first epoch that ends this long after its last checkpoint; "
        f"the last epoch always is (0: every epoch; default: {CHECKPOINT_SECONDS:g})",
    )


def checkpoint_seconds(args: argparse.Namespace) -> float:
    """The ``--checkpoint-every`` value (already checked by its argparse type: finite, 0 or more)."""
    return float(args.checkpoint_every)


def open_store(args: argparse.Namespace, *, create: bool = False) -> KcnnStore:
    """Open the store the ``--store`` option names.

    Args:
        args: The parsed arguments.
        create: Create the store if it is missing (commands that add runs). Read commands never do.

    Raises:
        StoreError: If there is none and `create` is False, or it cannot be opened.
    """
    return open_api_store(args.store or default_store_path(), create=create)


def run_ids(values: list[str]) -> list[int]:
    """Parse run ids given on the command line.

    Raises:
        KcnnError: For a value that is not a positive integer.
    """
    from kcnn.errors import KcnnError

    ids = []
    for value in values:
        if not value.isdigit() or not 1 <= int(value) <= SQLITE_MAX:
            raise KcnnError(f"Run ids are positive whole numbers, as `kcnn runs` lists them; got {value!r}.")
        ids.append(int(value))
    return ids
