"""`kcnn train` and `kcnn plan`: run one experiment in the foreground, or show its shapes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kcnn.cli.options import add_config_flags, config_from_args
from kcnn.devices import PRECISIONS
from kcnn.report import config_table, plan_table


def register(commands: Any) -> None:
    """Add the `train` and `plan` sub-commands."""
    train = commands.add_parser(
        "train",
        help="train one experiment in the foreground",
        description="Train one CNN and report its validation accuracy.",
        epilog="Example: kcnn train --kernel 2 --dilation 2 --input-size 90",
    )
    add_config_flags(train)
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    train.add_argument(
        "--precision", default="float32", choices=PRECISIONS, help="numeric precision (default: float32)"
    )
    train.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    train.set_defaults(handler=run_train)

    plan = commands.add_parser(
        "plan",
        help="show the shape plan of a config without training",
        description="Show every layer's output size, receptive field, parameters and MACs.",
    )
    add_config_flags(plan)
    plan.add_argument("--classes", type=int, default=None, help="classes of the output layer (default: the dataset's)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(handler=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    """Print the shape plan of the config the flags describe."""
    config = config_from_args(args)
    classes = args.classes if args.classes is not None else _dataset_classes(config.dataset)
    plan = config.plan(classes)
    if args.json:
        print(json.dumps({"config": config.to_dict(), "plan": plan.to_dict()}, indent=2))
        return 0
    console = Console()
    console.print(plan_table(plan))
    return 0


def _dataset_classes(dataset: str) -> int | None:
    from kcnn.data.builtin import CLASSES

    return len(CLASSES) if dataset in ("builtin:shapes", "shapes") else None


def run_train(args: argparse.Namespace) -> int:
    """Train the config the flags describe and print its result."""
    config = config_from_args(args)
    from kcnn.training import prepare_device, train

    device, precision = prepare_device(args.device, args.precision)
    if args.json:
        result = train(config, device=device, precision=precision)
        print(json.dumps(result.to_dict(), indent=2))
        return 0

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]epoch {task.completed}/{task.total}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("train", total=config.epochs, metrics="loading data and model…")

        def on_epoch(record: Any) -> None:
            metrics = f"loss {record.loss:.3f} · val acc {record.val_accuracy:.2%}"
            progress.update(task, completed=record.epoch, metrics=metrics)
            progress.console.print(
                f"epoch {record.epoch:>3}/{config.epochs}  loss {record.loss:.4f}  acc {record.accuracy:.2%}  "
                f"val loss {record.val_loss:.4f}  val acc {record.val_accuracy:.2%}  {record.seconds:.1f}s",
                highlight=False,
            )

        result = train(config, device=device, precision=precision, on_epoch=on_epoch)
    from kcnn.report import result_table

    out = Console()
    out.print(Group(config_table(config), plan_table(config.plan(len(result.class_names))), result_table(result)))
    return 0
