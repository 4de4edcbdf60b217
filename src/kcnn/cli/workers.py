"""`kcnn workers`: the worker supervisors alive on a store, and stopping one politely."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from kcnn.api import default_store_path
from kcnn.api.arguments import whole
from kcnn.api.views import safe, training_text
from kcnn.cli.common import add_store_option
from kcnn.cli.output import add_format_option, output_console, print_fitted
from kcnn.errors import KcnnError


def register(commands: Any) -> None:
    """Add `workers` (the list)."""
    workers = commands.add_parser(
        "workers",
        help="list the worker supervisors alive on the store (`worker stop PID` stops one)",
        description="List the worker supervisors registered on the store (stale entries, e.g. of a killed "
        "worker, are removed) and the runs each trains.",
        epilog="Examples: kcnn workers · kcnn workers --format json · kcnn worker stop 4242",
    )
    add_format_option(workers, help="table (default) or json")
    add_store_option(workers)
    workers.set_defaults(handler=run_workers_list)


def register_stop(actions: Any) -> None:
    """Add `worker stop PID` to the `worker` command's actions."""
    stop = actions.add_parser(
        "stop",
        help="stop a worker politely: its runs go back to the queue at their last checkpoint",
        epilog="Example: kcnn worker stop 4242 (`kcnn workers` lists the PIDs)",
    )
    stop.add_argument("pid", metavar="PID", type=whole("PID", 1, 2**22, 4242), help="the worker to stop")
    add_store_option(stop)
    stop.set_defaults(handler=run_worker_stop)


def run_worker_stop(args: argparse.Namespace) -> int:
    """Stop one worker after checking it is a live kcnn worker of this store."""
    from kcnn import api

    store = args.store or default_store_path()
    if not api.stop_worker(store, args.pid):
        raise KcnnError(f"No live kcnn worker of {store} has PID {args.pid}; `kcnn workers` lists them.")
    Console(stderr=True, highlight=False).print(
        f"stopping worker {args.pid}: its runs go back to the queue at their last checkpoint"
    )
    return 0


def run_workers_list(args: argparse.Namespace) -> int:
    """List the live workers and what each trains."""
    from kcnn import api

    store = args.store or default_store_path()
    workers = api.live_workers(store)
    running = _running_runs(store) if workers else []
    if args.format == "json":
        rows = [worker.to_dict() | {"runs": [run.id for run in worker.held_runs(running)]} for worker in workers]
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"Workers of {safe(str(store))}", title_justify="left")
    for column in ("pid", "host", "slots", "mode", "up", "training"):
        table.add_column(column)
    for worker in workers:
        up = time.time() - worker.started
        table.add_row(
            str(worker.pid),
            safe(worker.host),
            safe(", ".join(worker.slots)),
            "until queue empty" if worker.once else "waits",
            f"{up / 60:.0f} min" if up >= 60 else f"{up:.0f} s",
            training_text(worker.held_runs(running)),
        )
    if not workers:
        table.add_row("(none: start one with `kcnn worker` or `kcnn worker --ray`)", "", "", "", "", "")
    print_fitted(output_console(), table)
    return 0


def _running_runs(store: Any) -> list[Any]:
    from kcnn import api

    with api.open_store(store, create=False) as opened:
        return opened.runs("running")
