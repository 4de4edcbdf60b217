"""`kcnn runs` (list, export) and `kcnn run` (show, curves): read the store."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kcnn.api import RunState
from kcnn.api.arguments import whole
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option, open_store, run_ids
from kcnn.cli.output import add_format_option, add_wide_option, output_console, print_fitted
from kcnn.cli.reports import register_curves, register_export

DEFAULT_LIMIT = 50


def register(commands: Any) -> None:
    """Add `runs` (list; `runs export`) and `run` (`run show`, `run curves`)."""
    runs = commands.add_parser(
        "runs",
        help="list runs (newest first); `runs export` writes them as CSV or JSON",
        description="List the runs in the store; `kcnn runs export` writes every number of them (or of their "
        "epochs) as CSV or JSON.",
        epilog="Examples: kcnn runs --state done · kcnn runs --format json · kcnn runs export --table epochs -o e.csv",
    )
    runs.add_argument("--state", nargs="+", choices=[s.value for s in RunState], help="only runs in these states")
    runs.add_argument(
        "--limit",
        type=whole("--limit", 0, example=100),
        default=DEFAULT_LIMIT,
        help=f"newest N runs; 0 for all (default: {DEFAULT_LIMIT}; --format json/csv: all)",
    )
    add_format_option(runs, "json", "csv", help="table (default), json (one object per run) or csv (one row per run)")
    add_wide_option(runs)
    add_store_option(runs)
    runs.set_defaults(handler=run_runs)
    actions = runs.add_subparsers(dest="action", metavar="ACTION", parser_class=type(runs))
    register_export(actions)

    run = commands.add_parser(
        "run",
        help="one run: `run show ID`, `run curves ID…`",
        description="Act on one run (or a few): show it, or draw its curves.",
        epilog="Examples: kcnn run show 7 · kcnn run curves 7 8 --png curves.png",
    )
    one = run.add_subparsers(dest="action", metavar="ACTION", parser_class=type(run), required=True)
    show = one.add_parser("show", help="one run: summary, config, shape plan, epochs, events")
    show.add_argument("run", metavar="RUN")
    add_format_option(show, help="table (default) or json")
    add_wide_option(show)
    add_store_option(show)
    show.set_defaults(handler=run_show)
    register_curves(one)


def run_runs(args: argparse.Namespace) -> int:
    """Print the run list."""
    from kcnn.api.views import export_runs, run_rows, runs_table

    machine = args.format != "table"
    limit = None if (args.limit == 0 or (machine and args.limit == DEFAULT_LIMIT)) else args.limit
    with open_store(args) as store:
        runs = store.list_runs(args.state, limit)
        counts = store.count_by_state()
        now = store.now()
    if args.format == "json":
        print(json.dumps(run_rows(runs), indent=2))
    elif args.format == "csv":
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
    if args.format == "json":
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
