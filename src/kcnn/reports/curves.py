"""Training curves: in the terminal (Rich text), or as a PNG when matplotlib is installed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text

from kcnn.errors import KcnnError
from kcnn.files import output_file

COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_white", "bright_black")
MARKERS = ("●", "○", "■", "□", "▲", "△", "◆", "◇")


def numbers(values: Sequence[float | None]) -> list[float]:
    """Per-epoch values with a missing one (NULL in an upgraded store, NaN in a record) as NaN: skipped by plots."""
    return [math.nan if value is None else float(value) for value in values]


def line_chart(
    series: Mapping[str, Sequence[float | None]],
    title: str,
    height: int = 10,
    width: int = 56,
    percent: bool = True,
) -> Text:
    """Plot each series against its epoch (1, 2, …) as a text chart with a legend.

    Args:
        series: Label → values per epoch (NaN and missing values are skipped).
        title: Heading above the chart.
        height: Rows of the plot area. Defaults to `10`.
        width: Columns of the plot area. Defaults to `56`.
        percent: Label the y axis in percent. Defaults to `True`.

    Returns:
        The chart as Rich text.
    """
    plotted = {label: numbers(values) for label, values in series.items()}
    finite = [v for values in plotted.values() for v in values if math.isfinite(v)]
    text = Text(f"{title}\n", style="bold")
    if not finite:
        recorded = any(plotted.values())
        return text.append("(no values recorded for its epochs)\n" if recorded else "(no epochs recorded yet)\n",
                           style="dim")  # fmt: skip
    low, high = min(finite), max(finite)
    if high - low < 1e-9:
        low, high = low - 0.01, high + 0.01
    epochs = max(len(values) for values in plotted.values())
    grid: list[list[tuple[str, str] | None]] = [[None] * width for _ in range(height)]
    for index, values in enumerate(plotted.values()):
        marker, color = MARKERS[index % len(MARKERS)], COLORS[index % len(COLORS)]
        for column in range(width):
            position = column / (width - 1) * (epochs - 1) if epochs > 1 else 0.0
            left = math.floor(position)
            if left >= len(values):
                continue
            right = min(left + 1, len(values) - 1)
            value = values[left] + (values[right] - values[left]) * (position - left)
            if not math.isfinite(value):
                continue
            line = round((high - value) / (high - low) * (height - 1))
            grid[line][column] = (marker if _on_epoch(position) else "·", color)
    label = (lambda v: f"{v:6.1%}") if percent else (lambda v: f"{v:6.3f}")
    for row_index, row in enumerate(grid):
        value = high - (high - low) * row_index / (height - 1)
        axis = label(value) if row_index in (0, height // 2, height - 1) else " " * 6
        text.append(f"{axis} ┤", style="dim")
        for cell in row:
            text.append(" " if cell is None else cell[0], style=None if cell is None else cell[1])
        text.append("\n")
    text.append(" " * 7 + "└" + "─" * width + "\n", style="dim")
    text.append(" " * 8 + "epoch 1" + f"epoch {epochs}".rjust(width - 7) + "\n", style="dim")
    for index, name in enumerate(series):
        text.append(f"  {MARKERS[index % len(MARKERS)]} {name}", style=COLORS[index % len(COLORS)])
    return text.append("\n")


def _on_epoch(position: float) -> bool:
    return abs(position - round(position)) < 0.02


def run_curves(epochs: Sequence[Mapping[str, float | None]], run_label: str = "") -> list[Text]:
    """Accuracy and loss charts (train and validation) of one run's epochs."""
    prefix = f"{run_label} " if run_label else ""
    accuracy = {"train accuracy": [e["accuracy"] for e in epochs], "val accuracy": [e["val_accuracy"] for e in epochs]}
    loss = {"train loss": [e["loss"] for e in epochs], "val loss": [e["val_loss"] for e in epochs]}
    return [line_chart(accuracy, f"{prefix}accuracy"), line_chart(loss, f"{prefix}loss", percent=False)]


def pyplot() -> Any:
    """The pyplot module of matplotlib, on the file-only Agg backend.

    Raises:
        KcnnError: If matplotlib is not installed (``kcnn[plot]``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise KcnnError("`--png` needs matplotlib: `pip install 'kcnn[plot]'` (or `pip install matplotlib`).") from None
    return plt


def save_figure(figure: Any, path: Path) -> Path:
    """Write a matplotlib figure to `path` (checked with `kcnn.files.output_file`) and close it.

    Raises:
        KcnnError: If the file cannot be written after all (the disk is full, say).
    """
    try:
        figure.savefig(path, dpi=120)
    except OSError as error:
        raise KcnnError(f"Cannot write {str(path)!r}: {error.strerror or error}.") from None
    finally:
        pyplot().close(figure)
    return path


def write_png(histories: Mapping[str, Sequence[Mapping[str, float | None]]], path: Path) -> Path:
    """Draw accuracy and loss curves of several runs into a PNG file with matplotlib.

    Raises:
        KcnnError: If matplotlib is not installed.
    """
    plt = pyplot()
    figure, (accuracy_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for label, epochs in histories.items():
        xs = [e["epoch"] for e in epochs]

        def metric(name: str, epochs: Sequence[Mapping[str, float | None]] = epochs) -> list[float]:
            return numbers([e[name] for e in epochs])

        line = accuracy_axis.plot(xs, metric("val_accuracy"), marker="o", label=f"{label} val")[0]
        accuracy_axis.plot(xs, metric("accuracy"), linestyle="--", color=line.get_color(), label=f"{label} train")
        loss_axis.plot(xs, metric("val_loss"), marker="o", color=line.get_color(), label=f"{label} val")
        loss_axis.plot(xs, metric("loss"), linestyle="--", color=line.get_color(), label=f"{label} train")
    accuracy_axis.set(title="accuracy", xlabel="epoch")
    loss_axis.set(title="loss", xlabel="epoch")
    for axis in (accuracy_axis, loss_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.tight_layout()
    return save_figure(figure, output_file(path, "--png", ".png"))
