"""`kcnn queue …`: add grids and sweeps, cancel, retry, prioritize, reap."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kcnn.api import (
    DEFAULT_KEEP,
    KEEP_POLICIES,
    MAX_RUNS,
    InvalidSweep,
    SweepPoints,
    SweepSpec,
    load_sweep,
    queue_sweep,
)
from kcnn.api.arguments import priority, whole
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option, open_store, run_ids
from kcnn.cli.options import add_config_flags, flagify, grid_from_args
from kcnn.config import format_value
from kcnn.errors import ConfigError, KcnnError


def register(commands: Any) -> None:
    """Add `queue` and its sub-commands."""
    queue = commands.add_parser("queue", help="add, cancel, retry and prioritize queued runs")
    actions = queue.add_subparsers(dest="queue_command", metavar="ACTION", required=True, parser_class=type(queue))

    add = actions.add_parser(
        "add",
        help="queue a grid of configs (several values per flag), with repeats",
        description="Queue every combination of the given values. Invalid combinations are listed and nothing "
        "is queued unless --skip-invalid.",
        epilog="Example: kcnn queue add --kernel 2 3 --dilation 1 2 --repeats 3",
    )
    add_config_flags(add, grid=True)
    _add_queueing_flags(add)
    add.set_defaults(handler=run_add)

    sweep = actions.add_parser("sweep", help="queue the runs of a TOML sweep file (see examples/)")
    sweep.add_argument("file", type=Path, help="sweep file")
    sweep.add_argument("--dry-run", action="store_true", help="show what would be queued; queue nothing")
    sweep.add_argument("--skip-invalid", action="store_true", help="queue the valid configs, list the rest")
    _add_max_runs(sweep, default=None)
    add_store_option(sweep)
    sweep.set_defaults(handler=run_sweep)

    cancel = actions.add_parser("cancel", help="cancel queued or running runs")
    cancel.add_argument("runs", nargs="*", metavar="RUN")
    cancel.add_argument("--all-queued", action="store_true", help="cancel every queued run")
    add_store_option(cancel)
    cancel.set_defaults(handler=run_cancel)

    retry = actions.add_parser("retry", help="queue failed or cancelled runs again (from their last checkpoint)")
    retry.add_argument("runs", nargs="*", metavar="RUN")
    retry.add_argument("--failed", action="store_true", help="retry every failed run")
    retry.add_argument("--fresh", action="store_true", help="start from epoch 0 instead of the last checkpoint")
    add_store_option(retry)
    retry.set_defaults(handler=run_retry)

    prioritize = actions.add_parser("prioritize", help="set a queued run's priority (higher runs first)")
    prioritize.add_argument("run", metavar="RUN")
    prioritize.add_argument("priority", type=priority("N"), metavar="N")
    add_store_option(prioritize)
    prioritize.set_defaults(handler=run_prioritize)

    reap = actions.add_parser("reap", help="requeue running runs whose worker stopped heartbeating")
    add_store_option(reap)
    reap.set_defaults(handler=run_reap)


def _add_max_runs(parser: Any, default: int | None) -> None:
    parser.add_argument(
        "--max-runs",
        type=whole("--max-runs", 1, example=50000),
        default=default,
        metavar="N",
        help=f"refuse a sweep of more runs than this (default: {MAX_RUNS:,}; counted before anything is built)",
    )


def _add_queueing_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("queueing")
    _add_max_runs(group, default=MAX_RUNS)
    group.add_argument(
        "--repeats",
        type=whole("--repeats", 1, example=3),
        default=1,
        help="seeds per config: seed, seed+1, … (default: 1)",
    )
    group.add_argument(
        "--random",
        type=whole("--random", 1, example=20),
        default=None,
        metavar="N",
        help="sample N grid points, not all",
    )
    group.add_argument(
        "--sample-seed", type=whole("--sample-seed"), default=0, help="seed of --random sampling (default: 0)"
    )
    group.add_argument(
        "--priority", type=priority("--priority"), default=0, help="higher runs are trained first (default: 0)"
    )
    group.add_argument(
        "--max-attempts",
        type=whole("--max-attempts", 1, 1000, 3),
        default=3,
        help="crashes tolerated per run (default: 3)",
    )
    group.add_argument("--skip-invalid", action="store_true", help="queue the valid configs, list the rest")
    group.add_argument("--dry-run", action="store_true", help="show what would be queued; queue nothing")
    group.add_argument("--keep", choices=KEEP_POLICIES, default=DEFAULT_KEEP,
                       help="model files a done run keeps: final+best (default), final, best, all (its last "
                       "checkpoint too) or none (its numbers only)")  # fmt: skip
    add_store_option(parser)


def run_add(args: argparse.Namespace) -> int:
    """Queue the grid the flags describe."""
    spec = SweepSpec(
        grid=grid_from_args(args),
        repeats=args.repeats,
        random=args.random,
        sample_seed=args.sample_seed,
        priority=args.priority,
        max_attempts=args.max_attempts,
        max_runs=args.max_runs,
        keep=args.keep,
    )
    return _queue(args, spec)


def run_sweep(args: argparse.Namespace) -> int:
    """Queue the runs of a sweep file."""
    spec = load_sweep(args.file)
    if args.max_runs is not None:
        spec = dataclasses.replace(spec, max_runs=args.max_runs)
    return _queue(args, spec)


def _queue(args: argparse.Namespace, spec: SweepSpec) -> int:
    if spec.max_attempts < 1:
        raise ConfigError(f"`--max-attempts` must be at least 1; got {spec.max_attempts}.")
    SweepPoints(spec)  # a malformed or oversized sweep is refused before any store is opened
    console = Console()
    try:
        if args.dry_run:
            report = queue_sweep(None, spec, skip_invalid=args.skip_invalid)
        else:
            with open_store(args, create=True) as store:
                report = queue_sweep(store, spec, skip_invalid=args.skip_invalid)
    except InvalidSweep as error:
        console.print(_invalid_table(error.invalid, SweepPoints(spec).grid_points))
        raise
    if report.invalid:
        console.print(_invalid_table(report.invalid, report.grid_points))
    if not report.runs:
        raise ConfigError("No valid configuration to queue.")
    console.print(_plan_table(report, "Would queue (dry run)" if args.dry_run else "Queued"))
    if args.dry_run:
        return 0
    console.print(f"queued {report.created} run(s)" + (f" in {safe(store.path)}" if report.created else ""),
                  highlight=False)  # fmt: skip
    if report.existing:
        console.print(
            f"{report.existing} run(s) with the same config and seed (and fold) already in the store, not added "
            "again: runs "
            f"{_id_list(report.existing_ids, report.existing)} (`kcnn queue retry` reruns failed ones)",
            highlight=False,
        )
    return 0


def _id_list(ids: list[int], total: int) -> str:
    shown = ", ".join(map(str, ids))
    return shown + (f", … ({total:,} in all)" if total > len(ids) else "")


def _plan_table(report: Any, title: str) -> Table:
    """The first rows of a `kcnn.queue.enqueue.QueueReport`, and how many more."""
    counts = f"{report.points:,} configuration(s) × {report.seeds:,} seed(s)"
    cross_validated = any(row.config.folds > 1 for row in report.sample)
    if cross_validated:
        counts += " × folds"
    more = report.runs - len(report.sample)
    table = Table(
        title=f"{title}: {report.runs:,} run(s) · {counts}",
        title_justify="left",
        caption=f"… and {more:,} more run(s) (`kcnn runs` lists them)" if more > 0 else None,
        caption_justify="left",
    )
    dry = report.sample and report.sample[0].run_id is None
    columns = ["#" if dry else "run", "input", "k", "d", "channels", "batch", "epochs", "seed"]
    columns += ["fold", "key"] if cross_validated else ["key"]
    for column in columns:
        table.add_column(column, justify="right" if column not in ("channels", "key") else "left")
    for index, row in enumerate(report.sample):
        label = str(index + 1) if row.run_id is None else str(row.run_id) + (" (exists)" if row.existed else "")
        config = row.config
        table.add_row(
            label,
            str(config.input_size),
            format_value("kernel_size", config.kernel_size),
            format_value("dilation", config.dilation),
            format_value("channels", config.channels),
            str(config.batch_size),
            str(config.epochs),
            str(row.seed),
            *([str(row.fold) if config.folds > 1 else ""] if cross_validated else []),
            row.config_key,
        )
    return table


#: Invalid grid points listed one by one; past these, the table says how many more.
INVALID_ROWS_SHOWN = 20


def _invalid_table(invalid: Sequence[Any], grid_points: int) -> Table:
    """The first `kcnn.queue.sweep.InvalidCombination` points, with their reasons, and how many more."""
    more = len(invalid) - INVALID_ROWS_SHOWN
    table = Table(
        title=f"Invalid: {len(invalid):,} of {grid_points:,} configurations",
        title_justify="left",
        title_style="bold red",
        caption=f"… and {more:,} more invalid configuration(s)" if more > 0 else None,
        caption_justify="left",
    )
    table.add_column("values")
    table.add_column("reason")
    for item in invalid[:INVALID_ROWS_SHOWN]:
        values = " ".join(f"{name}={format_value(name, value)}" for name, value in item.values.items())
        table.add_row(safe(values), safe(flagify(item.reason)))
    return table


def run_cancel(args: argparse.Namespace) -> int:
    """Cancel runs."""
    if not args.runs and not args.all_queued:
        raise KcnnError("Name the runs to cancel (`kcnn queue cancel 3 4`) or pass --all-queued.")
    with open_store(args) as store:
        ids = store.cancel_all_queued() if args.all_queued else store.cancel(run_ids(args.runs))
    print(f"cancelled {len(ids)} run(s)")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    """Queue failed or cancelled runs again."""
    if not args.runs and not args.failed:
        raise KcnnError("Name the runs to retry (`kcnn queue retry 3 4`) or pass --failed.")
    with open_store(args) as store:
        ids = store.retry(None if args.failed else run_ids(args.runs), fresh=args.fresh)
    print(f"requeued {len(ids)} run(s)")
    return 0


def run_prioritize(args: argparse.Namespace) -> int:
    """Set a queued run's priority."""
    [run_id] = run_ids([args.run])
    with open_store(args) as store:
        store.prioritize(run_id, args.priority)
    print(f"run {run_id}: priority {args.priority}")
    return 0


def run_reap(args: argparse.Namespace) -> int:
    """Requeue runs whose lease expired."""
    with open_store(args) as store:
        ids = store.reap()
    print(f"reaped {len(ids)} run(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))
    return 0
