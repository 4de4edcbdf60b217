"""`kcnn workers`: the worker supervisors alive on a store, and stopping one politely."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from kcnn.api import default_store_path
from kcnn.api.views import safe, training_text
from kcnn.cli.common import add_store_option
from kcnn.cli.numbers import whole
from kcnn.cli.output import output_console, print_fitted
from kcnn.errors import KcnnError


def register(commands: Any) -> None:
    """Add `workers` and its `stop` action."""
    workers = commands.add_parser(
        "workers",
        help="list the worker supervisors alive on the store, or stop one",
        description="List the worker supervisors registered on the store (stale entries, e.g. of a killed "
        "worker, are removed), or stop one: its runs go back to the queue at their last checkpoint.",
        epilog="Examples: kcnn workers · kcnn workers stop 4242",
    )
    workers.add_argument("action", nargs="?", choices=["list", "stop"], default="list", help="default: list")
    workers.add_argument("pid", nargs="?", type=whole("PID", 1, 2**22, 4242), help="the worker to stop")
    workers.add_argument("--json", action="store_true", help="print JSON")
    add_store_option(workers)
    workers.set_defaults(handler=run_workers_command)


def run_workers_command(args: argparse.Namespace) -> int:
    """List the live workers, or stop one after checking it is that worker."""
    from kcnn import api

    store = args.store or default_store_path()
    if args.action == "stop":
        if args.pid is None:
            raise KcnnError(
                "`kcnn workers stop` needs the worker's PID (see `kcnn workers`), e.g. `kcnn workers stop 4242`."
            )
        if not api.stop_worker(store, args.pid):
            raise KcnnError(f"No live kcnn worker of {store} has PID {args.pid}; `kcnn workers` lists them.")
        Console(stderr=True, highlight=False).print(
            f"stopping worker {args.pid}: its runs go back to the queue at their last checkpoint"
        )
        return 0
    workers = api.live_workers(store)
    running = _running_runs(store) if workers else []
    if args.json:
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
