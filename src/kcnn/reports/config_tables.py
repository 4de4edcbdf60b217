"""Rich tables of configs, shape plans and results. Built and returned, never printed here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from kcnn.config import ExperimentConfig, format_value
from kcnn.geometry import ShapePlan
from kcnn.reports.text import safe
from kcnn.training.throughput import describe_throughput

if TYPE_CHECKING:
    from kcnn.training.train import RunResult


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


def config_table(config: ExperimentConfig) -> Table:
    """Every field of `config`, one row each."""
    table = Table(title="Configuration", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in config.to_dict().items():
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
    table.add_row("images (train / val)", f"{result.num_train} / {result.num_val}")
    table.add_row("device", f"{result.device} ({result.device_name}) · {result.precision} · {result.loop} loop")
    return table
