"""`kcnn train` and `kcnn plan`: run one experiment in the foreground (recorded in the store), or show its shapes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kcnn.cli.common import add_checkpoint_option, add_store_option, checkpoint_seconds, open_store
from kcnn.cli.numbers import whole
from kcnn.cli.options import add_config_flags, config_from_args
from kcnn.cli.output import output_console, print_fitted
from kcnn.reports.config_tables import config_table, plan_table
from kcnn.reports.text import safe

EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 130


def register(commands: Any) -> None:
    """Add the `train` and `plan` sub-commands."""
    train = commands.add_parser(
        "train",
        help="train one experiment in the foreground",
        description="Train one CNN, record it in the store, and report its validation accuracy.",
        epilog="Example: kcnn train --kernel 2 --dilation 2 --input-size 90",
    )
    add_config_flags(train)
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    train.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    add_checkpoint_option(train)
    add_store_option(train)
    train.set_defaults(handler=run_train)

    plan = commands.add_parser(
        "plan",
        help="show the shape plan of a config without training",
        description="Show every layer's output size, receptive field, parameters and MACs.",
    )
    add_config_flags(plan)
    plan.add_argument(
        "--classes",
        type=whole("--classes", 1, 65536, 10),
        default=None,
        help="classes of the output layer (default: the dataset's)",
    )
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(handler=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    """Print the shape plan of the config the flags describe."""
    config = config_from_args(args)
    from kcnn.api import dataset_classes

    classes = args.classes if args.classes is not None else dataset_classes(config.dataset)
    plan = config.plan(classes)
    if args.json:
        print(json.dumps({"config": config.to_dict(), "plan": plan.to_dict()}, indent=2))
        return 0
    console = Console()
    console.print(plan_table(plan))
    from kcnn.reports.config_tables import kernel_footprint

    console.print(kernel_footprint(config.kernel_sizes[0], config.dilations[0]))
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train the config the flags describe in the foreground, recorded in the store like any run."""
    from kcnn import api

    config = config_from_args(args)
    checkpoint_every = checkpoint_seconds(args)
    api.check_setup(config, args.device)  # a bad device or dataset is one line, before any progress bar
    console = Console(stderr=True)
    progress = _progress(console)
    started: list[int] = []

    def on_start(run_id: int) -> None:
        started.append(run_id)
        console.print(f"run [bold]{run_id}[/] in {safe(store.path)}", highlight=False)

    with open_store(args, create=True) as store:
        options: dict[str, Any] = {"store": store, "progress": False, "device": args.device,
                                   "checkpoint_seconds": checkpoint_every, "on_start": on_start}  # fmt: skip
        try:
            if args.json:
                result = api.train(config, **options)
            else:
                with progress:
                    task = progress.add_task("train", total=config.epochs, metrics="loading data and model…")
                    on_epoch = lambda record: _report_epoch(progress, task, record, config.epochs)  # noqa: E731
                    result = api.train(config, **options, on_epoch=on_epoch)
        except api.RunFailed as failure:
            console.print(f"[bold red]error:[/] {safe(str(failure))}", highlight=False)
            return 2 if failure.user_fixable else EXIT_RUN_FAILED
        except KeyboardInterrupt:
            if not started:
                raise
            console.print(
                f"[bold red]interrupted:[/] run {started[0]} is recorded as failed (interrupted); "
                f"`kcnn queue retry {started[0]}` resumes it from its last checkpoint.",
                highlight=False,
            )
            return EXIT_INTERRUPTED
    [run_id] = started
    if args.json:
        print(json.dumps({"run_id": run_id, **result.to_dict()}, indent=2))
        return 0
    from kcnn.reports.config_tables import result_table

    plan = result.config.plan(len(result.class_names))
    print_fitted(output_console(), config_table(result.config), plan_table(plan), result_table(result))
    if result.skipped_files:
        folders = sum(path.endswith("/") for path, _ in result.skipped_files)
        files = len(result.skipped_files) - folders
        what = " and ".join(
            part
            for part, n in ((f"{files} unreadable file(s)", files), (f"{folders} empty class folder(s)", folders))
            if n
        )
        console.print(f"[yellow]skipped {what}[/] (--skip-bad; listed by `kcnn show {run_id}`)", highlight=False)
    return 0


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]epoch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _report_epoch(progress: Progress, task: Any, record: Any, epochs: int) -> None:
    metrics = f"loss {record.loss:.3f} · val acc {record.val_accuracy:.2%}"
    progress.update(task, completed=record.epoch, metrics=metrics)
    progress.console.print(
        f"epoch {record.epoch:>3}/{epochs}  loss {record.loss:.4f}  acc {record.accuracy:.2%}  "
        f"val loss {record.val_loss:.4f}  val acc {record.val_accuracy:.2%}  {record.seconds:.1f}s",
        highlight=False,
    )
