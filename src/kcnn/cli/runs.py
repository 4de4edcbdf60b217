"""`kcnn runs` and `kcnn show`: read the store."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kcnn.api import RunState
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option, open_store, run_ids
from kcnn.cli.numbers import whole
from kcnn.cli.output import add_wide_option, output_console, print_fitted

DEFAULT_LIMIT = 50


def register(commands: Any) -> None:
    """Add the `runs` and `show` sub-commands."""
    runs = commands.add_parser("runs", help="list runs (newest first)", description="List the runs in the store.")
    runs.add_argument("--state", nargs="+", choices=[s.value for s in RunState], help="only runs in these states")
    runs.add_argument(
        "--limit",
        type=whole("--limit", 0, example=100),
        default=DEFAULT_LIMIT,
        help=f"newest N runs; 0 for all (default: {DEFAULT_LIMIT}; --json/--csv: all)",
    )
    output = runs.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON (one object per run)")
    output.add_argument("--csv", action="store_true", help="print CSV (one row per run)")
    add_wide_option(runs)
    add_store_option(runs)
    runs.set_defaults(handler=run_runs)

    show = commands.add_parser("show", help="show one run: config, shape plan, epochs, events")
    show.add_argument("run", metavar="RUN")
    show.add_argument("--json", action="store_true", help="print JSON")
    add_wide_option(show)
    add_store_option(show)
    show.set_defaults(handler=run_show)


def run_runs(args: argparse.Namespace) -> int:
    """Print the run list."""
    from kcnn.api.views import export_runs, run_rows, runs_table

    machine = args.json or args.csv
    limit = None if (args.limit == 0 or (machine and args.limit == DEFAULT_LIMIT)) else args.limit
    with open_store(args) as store:
        runs = store.list_runs(args.state, limit)
        counts = store.count_by_state()
        now = store.now()
    if args.json:
        print(json.dumps(run_rows(runs), indent=2))
    elif args.csv:
        print(export_runs(runs, "csv"), end="")
    else:
        from kcnn.api.views import RUNS_HIDE_ORDER

        print_fitted(output_console(args.wide), runs_table(runs, counts, now), drop_order=RUNS_HIDE_ORDER)
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one run in detail."""
    from kcnn.api import dataset_classes
    from kcnn.api.views import config_table, epochs_table, events_table, plan_table, run_summary_table

    [run_id] = run_ids([args.run])
    with open_store(args) as store:
        run = store.get_run(run_id)
        epochs = store.epochs(run_id)
        events = store.events(run_id)
    if args.json:
        print(json.dumps({**run.to_dict(), "epochs": epochs, "events": events}, indent=2))
        return 0
    parts: list[Any] = [run_summary_table(run)]
    config = run.experiment_config
    if config is None:
        parts.append(
            f"[red]damaged config:[/] {safe(run.config_problem or '')} · stored text: {safe(run.config[:200])}"
        )
    else:
        parts += [config_table(config), plan_table(config.plan(dataset_classes(config.dataset)))]
    if epochs:
        from kcnn.api.views import run_curves

        parts.append(epochs_table(epochs))
        parts.extend(run_curves(epochs))
    parts.append(events_table(events))
    console = output_console(args.wide)
    print_fitted(console, *parts)
    if run.error_message and "\n" in run.error_message:
        console.print("[bold]error detail[/]\n" + safe(run.error_message, lines=True), highlight=False)
    return 0
