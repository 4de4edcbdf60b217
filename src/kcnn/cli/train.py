"""`kcnn train` and `kcnn plan`: run one experiment in the foreground (recorded in the store), or show its shapes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kcnn.api import DEFAULT_KEEP, KEEP_POLICIES
from kcnn.api.arguments import whole
from kcnn.api.views import config_table, plan_table, safe
from kcnn.cli.common import add_checkpoint_option, add_store_option, checkpoint_seconds, open_store
from kcnn.cli.options import add_config_flags, config_from_args
from kcnn.cli.output import add_format_option, output_console, print_fitted
from kcnn.errors import ConfigError

EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 130


def register(commands: Any) -> None:
    """Add the `train` and `plan` sub-commands."""
    train = commands.add_parser(
        "train",
        help="train one experiment in the foreground",
        description="Train one CNN, record it in the store, and report its validation accuracy.",
        epilog="Examples: kcnn train --kernel 2 --dilation 2 --input-size 90 · "
        "kcnn train --folds 5 --test-split 0.2 (5-fold cross-validation with a test set kept aside)",
    )
    add_config_flags(train)
    train.add_argument(
        "--fold",
        type=whole("--fold", 0, 49, 0),
        default=None,
        metavar="I",
        help="with --folds K: train only fold I (0 … K-1; default: every fold in turn)",
    )
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    add_format_option(train, help="table (default) or json: one JSON object instead of tables")
    train.add_argument("--keep", choices=KEEP_POLICIES, default=DEFAULT_KEEP,
                       help="model files the run keeps once done: final+best (default), final, best, all (its last "
                       "checkpoint too) or none (its numbers only)")  # fmt: skip
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
    add_format_option(plan, help="table (default) or json: the plan as JSON")
    plan.set_defaults(handler=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    """Print the shape plan of the config the flags describe."""
    config = config_from_args(args)
    from kcnn.api import dataset_classes

    classes = args.classes if args.classes is not None else dataset_classes(config.dataset)
    plan = config.plan(classes)
    if args.format == "json":
        print(json.dumps({"config": config.to_dict(), "plan": plan.to_dict()}, indent=2))
        return 0
    console = Console()
    console.print(plan_table(plan))
    from kcnn.api.views import kernel_footprint

    console.print(kernel_footprint(config.kernel_sizes[0], config.dilations[0]))
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train the config the flags describe in the foreground, recorded in the store like any run.

    With ``--folds K`` (K > 1) every fold is trained in turn (or only ``--fold I``), and the folds'
    mean is reported with its corrected confidence interval.
    """
    from kcnn import api

    config = config_from_args(args)
    if args.fold is not None:
        if config.folds == 1:
            raise ConfigError(f"`--fold {args.fold}` needs cross-validation: add `--folds K` (K above {args.fold}).")
        config = config.replace(fold=args.fold)  # validated: a fold beyond --folds is one clear line
    folds = [config.fold] if args.fold is not None or config.folds == 1 else list(range(config.folds))
    api.check_setup(config, args.device)  # a bad device or dataset is one line, before any progress bar
    console = Console(stderr=True)
    trained: list[tuple[int, Any]] = []
    with open_store(args, create=True) as store:
        for fold in folds:
            if len(folds) > 1:
                console.print(f"[bold]fold {fold + 1} of {config.folds}[/]", highlight=False)
            outcome = _train_one(args, config.replace(fold=fold), store, console)
            if isinstance(outcome, int):
                return outcome
            trained.append(outcome)
    if len(trained) > 1:
        return _report_folds(args, config, trained)
    [(run_id, result)] = trained
    if args.format == "json":
        print(json.dumps({"run_id": run_id, **result.to_dict()}, indent=2))
        return 0
    from kcnn.api.views import result_table

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
        console.print(f"[yellow]skipped {what}[/] (--skip-bad; listed by `kcnn run show {run_id}`)", highlight=False)
    return 0


def _train_one(args: argparse.Namespace, config: Any, store: Any, console: Console) -> tuple[int, Any] | int:
    """Train one run with a progress bar; ``(run id, result)``, or the exit code when it did not finish."""
    from kcnn import api

    progress = _progress(console)
    started: list[int] = []

    def on_start(run_id: int) -> None:
        started.append(run_id)
        console.print(f"run [bold]{run_id}[/] in {safe(store.path)}", highlight=False)

    options: dict[str, Any] = {"store": store, "progress": False, "device": args.device,
                               "checkpoint_seconds": checkpoint_seconds(args), "on_start": on_start,
                               "keep": args.keep}  # fmt: skip
    try:
        if args.format == "json":
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
    return started[0], result


def _report_folds(args: argparse.Namespace, config: Any, trained: list[tuple[int, Any]]) -> int:
    """Every fold's accuracies, and their mean with the Nadeau–Bengio corrected 95% interval."""
    from kcnn.api.views import folds_summary, folds_table

    summary = folds_summary(trained[0][1].config, [result for _, result in trained])
    if args.format == "json":
        runs = [{"run_id": run_id, **result.to_dict()} for run_id, result in trained]
        print(json.dumps({**summary, "runs": runs}, indent=2))
        return 0
    prepared = trained[0][1].config  # ``auto`` settled, as stored
    print_fitted(output_console(), config_table(prepared, all_folds=True), folds_table(trained, summary))
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
