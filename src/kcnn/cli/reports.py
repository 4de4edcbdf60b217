"""`kcnn leaderboard`, `compare`, `effects`, `run curves`, `runs export`: which configuration really wins."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console, Group

from kcnn.api import RunState
from kcnn.api.arguments import output_file, whole
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option, open_store, run_ids
from kcnn.cli.output import add_format_option, add_wide_option, output_console, print_fitted
from kcnn.errors import KcnnError


def register(commands: Any) -> None:
    """Add the report sub-commands."""
    board = commands.add_parser(
        "leaderboard",
        help="configurations ranked by mean validation accuracy over seeds",
        description="Group finished runs by configuration (everything but the seed): n, mean ± std, 95% CI, "
        "best run, time per epoch. Failed and unfinished runs are excluded and counted.",
        epilog="Example: kcnn leaderboard --top 10 --filter dilation=2",
    )
    _add_metric(board)
    board.add_argument(
        "--top", type=whole("--top", 1, example=10), default=None, metavar="N", help="show the N best configurations"
    )
    board.add_argument("--filter", nargs="+", default=[], metavar="NAME=VALUE", help="e.g. kernel=2 dilation=2,1")
    add_format_option(board, help="table (default) or json: every number as JSON")
    add_wide_option(board)
    add_store_option(board)
    board.set_defaults(handler=run_leaderboard)

    compare = commands.add_parser(
        "compare",
        help="effect of a hyperparameter (--by), or is config A really better than B?",
        description="With --by: mean ± std per value of one hyperparameter, or a matrix of two. Otherwise: "
        "compare two configurations (config key prefixes; default the top two) with Welch's t-test.",
        epilog="Examples: kcnn compare --by kernel_size,dilation · kcnn compare 1a2b3c4d 5e6f7a8b",
    )
    compare.add_argument("configs", nargs="*", metavar="CONFIG", help="two config keys (or prefixes)")
    compare.add_argument("--by", default=None, help="one or two hyperparameters, comma-separated")
    compare.add_argument("--filter", nargs="+", default=[], metavar="NAME=VALUE", help="only runs matching these")
    _add_metric(compare)
    add_format_option(compare, help="table (default) or json: every number as JSON")
    add_wide_option(compare)
    add_store_option(compare)
    compare.set_defaults(handler=run_compare)

    tests = commands.add_parser(
        "effects",
        help="which hyperparameters matter beyond seed noise (F-tests, ω², verdicts)",
        description="Rank every varying hyperparameter by its share of the metric's variance (ω²), with an "
        "F-test against the seed-noise floor (the within-configuration variance of repeats) and a verdict. "
        "Type II sums of squares, so random searches and unbalanced grids are right too.",
        epilog="Examples: kcnn effects · kcnn effects --by kernel_size,dilation (adds their interaction)",
    )
    tests.add_argument("--by", default=None, help="two hyperparameters whose interaction is tested too, A,B")
    tests.add_argument("--filter", nargs="+", default=[], metavar="NAME=VALUE", help="only runs matching these")
    _add_metric(tests)
    add_format_option(tests, help="table (default) or json: every number as JSON")
    add_wide_option(tests)
    add_store_option(tests)
    tests.set_defaults(handler=run_effects)


def register_curves(actions: Any) -> None:
    """Add `run curves RUN…` to the `run` command's actions."""
    curves = actions.add_parser("curves", help="training and validation curves of runs")
    curves.add_argument("runs", nargs="+", metavar="RUN")
    curves.add_argument("--png", type=Path, default=None, metavar="FILE", help="also write a PNG (needs matplotlib)")
    add_store_option(curves)
    curves.set_defaults(handler=run_curves)


def register_export(actions: Any) -> None:
    """Add `runs export` to the `runs` command's actions."""
    export = actions.add_parser(
        "export",
        help="every number of the runs, or of their epochs, as CSV or JSON",
        epilog="Examples: kcnn runs export -o runs.csv · kcnn runs export --table epochs --format json",
    )
    export.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    export.add_argument(
        "--table", choices=("runs", "epochs"), default="runs", help="one row per run (default) or per epoch"
    )
    export.add_argument(
        "--state",
        nargs="+",
        default=None,
        choices=[state.value for state in RunState],
        help="only runs in these states",
    )
    export.add_argument("--output", "-o", type=Path, default=None, help="write to FILE instead of stdout")
    add_store_option(export)
    export.set_defaults(handler=run_export)


def _add_metric(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metric",
        choices=("best", "final"),
        default="best",
        help="best epoch's or final epoch's validation accuracy (default: best)",
    )


def run_leaderboard(args: argparse.Namespace) -> int:
    """Print the leaderboard."""
    from kcnn import api
    from kcnn.api.views import leaderboard_table

    with open_store(args) as store:
        summaries, excluded = api.leaderboard(store, args.metric, args.filter), api.excluded(store)
    shown = summaries[: args.top] if args.top else summaries
    if args.format == "json":
        print(
            json.dumps(
                {"metric": args.metric, "excluded": excluded.to_dict(), "configs": [s.to_dict() for s in shown]},
                indent=2,
            )
        )
        return 0
    if not summaries:
        raise KcnnError(f"No finished runs to rank ({excluded.text}); `kcnn worker` trains queued runs.")
    from kcnn.api.views import LEADERBOARD_HIDE_FIRST, LEADERBOARD_KEEP, drop_order

    table = leaderboard_table(shown, args.metric, excluded, len(summaries))
    hide = drop_order(table, LEADERBOARD_HIDE_FIRST, LEADERBOARD_KEEP)
    print_fitted(output_console(args.wide), table, drop_order=hide)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Print an effect table, or an A/B comparison."""
    if args.by is not None:
        return _effects(args)
    from kcnn import api
    from kcnn.api.views import comparison_table

    if len(args.configs) not in (0, 2):
        raise KcnnError(f"`kcnn compare` takes two configuration keys (or none: the top two); got {len(args.configs)}.")
    with open_store(args) as store:
        a, b = args.configs or (None, None)
        comparison = api.compare(store, a, b, metric=args.metric, filters=args.filter)
    if args.format == "json":
        print(json.dumps({"metric": args.metric, **comparison.to_dict()}, indent=2))
        return 0
    print_fitted(output_console(args.wide), comparison_table(comparison, args.metric))
    return 0


def _effects(args: argparse.Namespace) -> int:
    from kcnn import api
    from kcnn.api.views import effects_table

    if args.configs:
        raise KcnnError("Give either `--by NAME` or two configurations, not both.")
    by = api.by_fields(args.by)
    with open_store(args) as store:
        cells, excluded = api.effects(store, by, args.metric, args.filter), api.excluded(store)
        tests = _f_tests(api, store, args, by) if cells else []
    if args.format == "json":
        document = {
            "by": by,
            "metric": args.metric,
            "excluded": excluded.to_dict(),
            "cells": [c.to_dict(by) for c in cells],
            "f_tests": [term.to_dict() for term in tests],
        }
        print(json.dumps(document, indent=2))
        return 0
    if not cells:
        raise KcnnError(f"No finished runs to compare ({excluded.text}).")
    console = output_console(args.wide)
    print_fitted(console, effects_table(cells, by, args.metric, excluded))
    for term in tests:
        console.print(f"F-test · {safe(term.name)}: {safe(term.verdict)}", highlight=False)
    return 0


def _f_tests(api: Any, store: Any, args: argparse.Namespace, by: list[str]) -> list[Any]:
    """The F-test of each `--by` hyperparameter (and their interaction) against seed noise; none without scipy."""
    try:
        analysis = api.effect_tests(store, args.metric, by if len(by) == 2 else (), args.filter)
    except KcnnError:  # scipy missing, or nothing varies: the effect table stands on its own
        return []
    names = {*by, " × ".join(by)}
    return [term for term in analysis.terms if term.name in names]


def run_effects(args: argparse.Namespace) -> int:
    """Print which hyperparameters matter."""
    from kcnn import api
    from kcnn.api.views import effect_tests_table

    by = api.by_fields(args.by, counts=(2,)) if args.by is not None else []
    with open_store(args) as store:
        analysis = api.effect_tests(store, args.metric, by, args.filter)
    if args.format == "json":
        print(json.dumps(analysis.to_dict(), indent=2))
        return 0
    print_fitted(output_console(args.wide), effect_tests_table(analysis))
    return 0


def run_curves(args: argparse.Namespace) -> int:
    """Draw curves of runs."""
    from kcnn.api.views import line_chart, run_curves, write_png

    png = output_file(args.png, "--png", ".png") if args.png else None  # before any work
    with open_store(args) as store:
        histories = {f"run {run_id}": epochs for run_id, epochs in store.curves(run_ids(args.runs)).items()}
    console = Console()
    if len(histories) == 1:
        [(label, epochs)] = histories.items()
        console.print(Group(*run_curves(epochs, label)))
    else:
        console.print(
            line_chart({k: [e["val_accuracy"] for e in v] for k, v in histories.items()}, "validation accuracy")
        )
        console.print(
            line_chart({k: [e["val_loss"] for e in v] for k, v in histories.items()}, "validation loss", percent=False)
        )
    if png is not None:
        console.print(f"wrote {safe(str(write_png(histories, png)))}", highlight=False)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write runs or epochs as CSV or JSON."""
    with open_store(args) as store:
        text = store.export_runs(args.format, args.table, args.state)
    if args.output:
        try:
            args.output.write_text(text)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise KcnnError(
                f"Cannot write `--output {args.output}`: {reason}. Name a file in an existing folder."
            ) from None
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
