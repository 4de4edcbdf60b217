"""Rich tables of configs, shape plans and results. Built and returned, never printed here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from kcnn.config import ExperimentConfig, format_value
from kcnn.geometry import ShapePlan
from kcnn.reports.text import safe
from kcnn.throughput import describe_throughput

if TYPE_CHECKING:
    from kcnn.contract import RunResult


def _compact(number: int) -> str:
    if not number:
        return ""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if number >= scale:
            return f"{number / scale:.1f}{unit}"
    return str(number)


def kernel_footprint(kernel: int, dilation: int, layer: int = 1) -> Text:
    """Draw which input pixels one output pixel of a conv layer reads (per layer, before pooling).

    A 2×2 kernel with dilation 2 reads the four corners of a 3×3 window.
    """
    span = dilation * (kernel - 1) + 1
    text = Text(
        f"Conv layer {layer} footprint: {kernel}×{kernel} kernel, dilation {dilation} → reads {kernel * kernel} of "
        f"the {span}×{span} pixels it spans\n",
        style="bold",
    )
    if span > 25:
        return text.append(f"(too wide to draw: {span}×{span})\n", style="dim")
    for row in range(span):
        text.append("  ")
        for column in range(span):
            tapped = row % dilation == 0 and column % dilation == 0
            text.append("■ " if tapped else "· ", style="bold cyan" if tapped else "dim")
        text.append("\n")
    return text


def config_table(config: ExperimentConfig, all_folds: bool = False) -> Table:
    """Every field of `config` that applies, one row each.

    `val_split` is left out under cross-validation (the folds decide the validation images), and `fold`
    without it, or when the table stands for every fold (`all_folds`).
    """
    table = Table(title="Configuration", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    unused = {"val_split"} if config.folds > 1 else set()
    unused |= {"fold"} if config.folds == 1 or all_folds else set()
    for name, value in config.to_dict().items():
        if name not in unused:
            table.add_row(name, safe(format_value(name, value)))
    table.add_row("config_key", config.config_key, style="dim")
    return table


def plan_table(plan: ShapePlan) -> Table:
    """The shape plan: one row per layer, with totals in the caption."""
    height, width, depth = plan.input_shape
    table = Table(
        title=f"Shape plan (input {height}×{width}×{depth})",
        title_justify="left",
        caption=(
            "k kernel · d dilation · span d·(k−1)+1 · s stride · RF receptive field in input pixels\n"
            f"linear_size {plan.linear_size:,} · params {plan.params:,} · "
            f"{plan.macs / 1e6:,.2f} M MACs per image · receptive field {plan.receptive_field} px"
        ),
        caption_justify="left",
    )
    for column in ("layer", "output", "k", "d", "span", "s", "RF", "params", "MACs"):
        table.add_column(
            column,
            justify="left" if column in ("layer", "output") else "right",
            no_wrap=True,
            min_width=len(column) if column not in ("layer", "output") else 5,
        )
    for layer in plan.layers:
        spatial = layer.kind in ("conv", "pool")
        table.add_row(
            layer.name,
            layer.size_text,
            str(layer.kernel) if spatial else "",
            str(layer.dilation) if layer.kind == "conv" else "",
            str(layer.effective_kernel) if spatial else "",
            str(layer.stride) if spatial else "",
            str(layer.receptive_field) if spatial else "",
            _compact(layer.params),
            _compact(layer.macs),
        )
    return table


def result_table(result: RunResult) -> Table:
    """Headline figures of a finished run."""
    table = Table(title="Result", title_justify="left", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    chance = 1 / len(result.class_names) if result.class_names else None
    table.add_row("best val accuracy", f"[bold green]{result.best_val_accuracy:.2%}[/]")
    table.add_row("final val accuracy", f"{result.final_val_accuracy:.2%}")
    if chance is not None:
        table.add_row("chance level", f"{chance:.2%} ({len(result.class_names)} classes)")
    table.add_row("training time", f"{result.seconds:.1f} s")
    table.add_row("images / s", f"{result.images_per_second:,.0f}")
    table.add_row("params", f"{result.params:,}")
    table.add_row("GFLOPs / image", f"{result.flops_per_image / 1e9:.4f}")
    table.add_row(
        "training FLOP/s", describe_throughput(result.flops_per_second, result.peak_flops, result.device_name)
    )
    if result.test_accuracy is not None:
        best = "" if result.best_test_accuracy is None else f" · best epoch's model {result.best_test_accuracy:.2%}"
        table.add_row("test accuracy", f"final model {result.test_accuracy:.2%}{best}")
    if result.config.folds > 1:
        table.add_row("fold", f"{result.config.fold} of 0…{result.config.folds - 1}")
    images = f"{result.num_train} / {result.num_val}" + (f" / {result.num_test}" if result.num_test else "")
    table.add_row("images (train / val" + (" / test)" if result.num_test else ")"), images)
    table.add_row("device", f"{result.device} ({result.device_name}) · {result.precision} · {result.loop} loop")
    return table


def folds_summary(config: ExperimentConfig, results: Sequence[RunResult]) -> dict[str, Any]:
    """The folds' mean accuracies, with 95% intervals from Nadeau and Bengio's corrected variance."""
    from kcnn import stats

    ratio = 1 / (config.folds - 1) if config.folds > 1 else 0.0
    summary: dict[str, Any] = {"config_key": config.config_key, "folds": config.folds, "runs": len(results)}
    series = {
        "best_val_accuracy": [r.best_val_accuracy for r in results],
        "final_val_accuracy": [r.final_val_accuracy for r in results],
        "test_accuracy": [r.test_accuracy for r in results if r.test_accuracy is not None],
        "best_test_accuracy": [r.best_test_accuracy for r in results if r.best_test_accuracy is not None],
    }
    for name, values in series.items():
        if not values:
            continue
        interval = (
            stats.corrected_interval(values, ratio) if name.endswith("val_accuracy") else stats.t_interval(values)
        )
        low, high = stats.clipped(interval)
        summary[name] = {
            "mean": stats.mean(values),
            "std": stats.sample_std(values) if len(values) > 1 else None,
            "ci95_low": None if math.isnan(low) else low,
            "ci95_high": None if math.isnan(high) else high,
        }
    return summary


def folds_table(trained: Sequence[tuple[int, RunResult]], summary: dict[str, Any]) -> Table:
    """One row per fold, then the mean with its corrected interval."""
    with_test = "test_accuracy" in summary
    table = Table(
        title=f"{summary['folds']}-fold cross-validation of {summary['config_key'][:8]}",
        title_justify="left",
        caption="mean: 95% CI of the validation accuracies with Nadeau-Bengio's corrected variance "
        "(folds share training images)"
        + ("; test: the same test set for every fold, never used for training or choosing" if with_test else ""),
        caption_justify="left",
    )
    for column in ("fold", "run", "best val acc", "final val acc", *(("test (final model)",) if with_test else ())):
        table.add_column(column, justify="right")
    for run_id, result in trained:
        test = [] if not with_test else ["" if result.test_accuracy is None else f"{result.test_accuracy:.2%}"]
        table.add_row(str(result.config.fold), str(run_id), f"{result.best_val_accuracy:.2%}",
                      f"{result.final_val_accuracy:.2%}", *test)  # fmt: skip
    cells = []
    for name in ("best_val_accuracy", "final_val_accuracy", *(("test_accuracy",) if with_test else ())):
        figures = summary[name]
        interval = "" if figures["ci95_low"] is None else f" ({figures['ci95_low']:.1%}–{figures['ci95_high']:.1%})"
        cells.append(f"{figures['mean']:.2%}{interval}")
    table.add_row("mean", "", *cells, style="bold")
    return table
