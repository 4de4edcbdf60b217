"""`kcnn plot runs|box|curves`: the study's figures, in the terminal or as PNG."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from kcnn.api.arguments import output_file
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option, open_store


def register(commands: Any) -> None:
    """Add `plot` and its kinds."""
    plot = commands.add_parser(
        "plot",
        help="the study's figures: runs vs a hyperparameter, boxes, mean curves (terminal or --png)",
        description="Figures of the finished runs. runs: one point per run against --x, with each value's "
        "mean and 95%% CI; box: each value's spread; curves: each value's mean validation curve. "
        "--png writes a PNG (needs kcnn[plot]).",
        epilog="Examples: kcnn plot runs --x input_size --color kernel_size · kcnn plot box --by kernel_size · "
        "kcnn plot curves --by dilation --png curves.png",
    )
    plot.add_argument("kind", choices=("runs", "box", "curves"), help="which figure")
    plot.add_argument("--x", "--by", dest="by", required=True, metavar="NAME", help="the hyperparameter on the x axis")
    plot.add_argument("--color", default=None, metavar="NAME", help="runs: colour the points by this hyperparameter")
    plot.add_argument("--metric", choices=("best", "final"), default="best", help="best or final validation accuracy")
    plot.add_argument("--filter", nargs="+", default=[], metavar="NAME=VALUE", help="only runs matching these")
    plot.add_argument("--png", type=Path, default=None, metavar="FILE", help="also write the figure as a PNG")
    add_store_option(plot)
    plot.set_defaults(handler=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    """Draw one figure."""
    from kcnn import api

    png = output_file(args.png, "--png", ".png") if args.png is not None else None  # before any work
    with open_store(args) as store:
        chart = api.figure(store, args.kind, args.by, color=args.color, metric=args.metric, filters=args.filter,
                           png=png)  # fmt: skip
    console = Console()
    console.print(chart)
    if png is not None:
        console.print(f"wrote {safe(str(png))}", highlight=False)
    return 0
