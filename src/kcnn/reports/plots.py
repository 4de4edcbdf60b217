"""The study's figures, in the terminal (Rich text) and as PNG (matplotlib, ``kcnn[plot]``).

* ``runs``: one point per run against a hyperparameter (runs of one value spread side by side), with
  each value's mean and 95% confidence interval — the study's "accuracy vs input size".
* ``box``: the spread of each value's runs (minimum, quartiles, median, maximum).
* ``curves``: each value's mean validation curve over epochs, with a band of ± one standard deviation
  over its runs in the PNG — the study's "training curves by kernel size".
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.text import Text

from kcnn import stats
from kcnn.config import format_value, group_value, sort_key
from kcnn.files import output_file
from kcnn.reports.curves import COLORS, MARKERS, line_chart, pyplot, save_figure
from kcnn.reports.grouping import RunPoint

KINDS = ("runs", "box", "curves")


@dataclass(frozen=True)
class Level:
    """One value of a hyperparameter and its runs' metric."""

    value: Any
    values: list[float]

    @property
    def mean(self) -> float:
        """Mean over the runs."""
        return stats.mean(self.values)

    @property
    def interval(self) -> tuple[float, float]:
        """95% confidence interval of the mean (NaN for a single run)."""
        return stats.clipped(stats.t_interval(self.values)) if len(self.values) > 1 else (math.nan, math.nan)


def levels(points: Sequence[RunPoint], field: str, metric: str = "best") -> list[Level]:
    """The runs grouped by the value of `field`, values in order."""
    grouped: dict[Hashable, list[float]] = {}
    for point in points:
        grouped.setdefault(group_value(field, point.config.get(field)), []).append(point.metric(metric))
    return [Level(value, grouped[value]) for value in sorted(grouped, key=sort_key)]


def runs_chart(points: Sequence[RunPoint], x: str, color: str | None = None, metric: str = "best",
               height: int = 14, band: int = 16) -> Text:  # fmt: skip
    """Every run's metric against the values of `x`: dots per run (coloured by `color`), ━ mean, ┃ 95% CI."""
    groups = levels(points, x, metric)
    colors = (
        {value: index for index, value in enumerate(level.value for level in levels(points, color))} if color else {}
    )
    low = min(min(level.values) for level in groups)
    high = max(max(level.values) for level in groups)
    for level in groups:
        ci_low, ci_high = level.interval
        if math.isfinite(ci_low):
            low, high = min(low, ci_low), max(high, ci_high)
    if high - low < 1e-9:
        low, high = low - 0.01, high + 0.01
    width = band * len(groups)
    grid: list[list[tuple[str, str | None] | None]] = [[None] * width for _ in range(height)]

    def row_of(value: float) -> int:
        return round((high - value) / (high - low) * (height - 1))

    for index, level in enumerate(groups):
        center = index * band + band - 4  # the runs spread on the left, the mean and its interval beside them
        ci_low, ci_high = level.interval
        if math.isfinite(ci_low):
            for line in range(row_of(ci_high), row_of(ci_low) + 1):
                grid[line][center] = ("┃", "dim")
        for column in range(center - 1, center + 2):
            grid[row_of(level.mean)][column] = ("━", "bold")
        members = [p for p in points if group_value(x, p.config.get(x)) == level.value]
        for offset, point in enumerate(members):
            column = index * band + 1 + (offset * 2) % (band - 7)  # side by side: a jitter you can read
            key = group_value(color, point.config.get(color)) if color else None
            shade = COLORS[colors.get(key, 0) % len(COLORS)] if color else "cyan"
            grid[row_of(point.metric(metric))][column] = ("●", shade)
    text = Text(f"{metric} validation accuracy by {x}: ● run · ━ mean · ┃ 95% CI\n", style="bold")
    for row_index, row in enumerate(grid):
        value = high - (high - low) * row_index / (height - 1)
        axis = f"{value:6.1%}" if row_index in (0, height // 2, height - 1) else " " * 6
        text.append(f"{axis} ┤", style="dim")
        for cell in row:
            text.append(" " if cell is None else cell[0], style=None if cell is None else cell[1])
        text.append("\n")
    text.append(" " * 7 + "└" + "─" * width + "\n", style="dim")
    text.append(" " * 8 + "".join(format_value(x, level.value)[: band - 1].center(band) for level in groups) + "\n")
    text.append(" " * 8 + "".join(f"n={len(level.values)}".center(band) for level in groups) + "\n", style="dim")
    if color:
        for value, index in colors.items():
            text.append(f"  ● {color}={format_value(color, value)}", style=COLORS[index % len(COLORS)])
        text.append("\n")
    return text


def box_chart(points: Sequence[RunPoint], by: str, metric: str = "best", width: int = 50) -> Text:
    """Each value's runs as a box: ├ minimum ─ [ first quartile ┃ median ] third quartile ─ maximum ┤."""
    groups = levels(points, by, metric)
    low = min(min(level.values) for level in groups)
    high = max(max(level.values) for level in groups)
    if high - low < 1e-9:
        low, high = low - 0.01, high + 0.01

    def column(value: float) -> int:
        return round((value - low) / (high - low) * (width - 1))

    labels = [format_value(by, level.value) for level in groups]
    pad = max(len(label) for label in labels)
    text = Text(f"{metric} validation accuracy by {by}: ├─[ quartiles ┃ median ]─┤ min…max\n", style="bold")
    for label, level in zip(labels, groups, strict=True):
        q1, median, q3 = (float(np.percentile(level.values, q)) for q in (25, 50, 75))
        line = [" "] * width
        for position in range(column(min(level.values)), column(max(level.values)) + 1):
            line[position] = "─"
        for position in range(column(q1), column(q3) + 1):
            line[position] = "█"
        line[column(min(level.values))], line[column(max(level.values))] = "├", "┤"
        line[column(median)] = "┃"
        text.append(f"{label.rjust(pad)} ", style="bold")
        text.append("".join(line), style="cyan")
        text.append(f"  median {median:.1%} · n={len(level.values)}\n", style="dim")
    text.append(" " * (pad + 1) + f"{low:.1%}".ljust(width - 6) + f"{high:.1%}\n", style="dim")
    return text


def mean_curves(histories: Mapping[Any, Sequence[Sequence[float]]]) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """Per value: the mean and standard deviation over its runs of the validation accuracy at each epoch.

    Runs of different lengths are averaged over the runs that reached each epoch.
    """
    result = {}
    for value, runs in histories.items():
        epochs = max((len(run) for run in runs), default=0)
        table = np.full((len(runs), epochs), np.nan)
        for row, run in enumerate(runs):
            table[row, : len(run)] = run
        with np.errstate(all="ignore"):
            result[value] = (np.nanmean(table, axis=0), np.nanstd(table, axis=0))
    return result


def curves_chart(histories: Mapping[Any, Sequence[Sequence[float]]], by: str) -> Text:
    """Each value's mean validation curve over its runs."""
    curves = mean_curves(histories)
    series = {f"{by}={format_value(by, value)} ({len(histories[value])} runs)": list(mean)
              for value, (mean, _) in curves.items()}  # fmt: skip
    return line_chart(series, f"mean validation accuracy by {by}")


def write_png(
    kind: str,
    path: Path,
    points: Sequence[RunPoint],
    by: str,
    color: str | None = None,
    metric: str = "best",
    histories: Mapping[Any, Sequence[Sequence[float]]] | None = None,
) -> Path:
    """Draw one of the figures into a PNG file.

    Raises:
        KcnnError: If matplotlib is not installed (``kcnn[plot]``).
    """
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    groups = levels(points, by, metric)
    names = [format_value(by, level.value) for level in groups]
    if kind == "runs":
        shades = {v: i for i, v in enumerate(level.value for level in levels(points, color))} if color else {}
        rng = np.random.default_rng(0)
        for index, level in enumerate(groups):
            members = [p for p in points if group_value(by, p.config.get(by)) == level.value]
            for point in members:
                key = group_value(color, point.config.get(color)) if color else None
                axis.scatter(index + rng.uniform(-0.15, 0.15), point.metric(metric) * 100, s=22, alpha=0.75,
                             color=f"C{shades.get(key, 0)}")  # fmt: skip
            low, high = level.interval
            if math.isfinite(low):
                spread = [[(level.mean - low) * 100], [(high - level.mean) * 100]]
                axis.errorbar(index + 0.3, level.mean * 100, yerr=spread, fmt="_", color="black", capsize=4,
                              markersize=14)  # fmt: skip
            else:
                axis.plot(index + 0.3, level.mean * 100, "_", color="black", markersize=14)
        for value, shade in shades.items():
            axis.scatter([], [], color=f"C{shade}", label=f"{color}={format_value(color or '', value)}")
        axis.set_xticks(range(len(groups)), names)
        axis.errorbar([], [], yerr=[], fmt="_", color="black", capsize=4, label="mean, 95% CI")
        axis.legend(fontsize="small")
        axis.set(title=f"{metric} validation accuracy by {by}: every run, each value's mean")
    elif kind == "box":
        axis.boxplot([[v * 100 for v in level.values] for level in groups])
        axis.set_xticks(range(1, len(groups) + 1), names)
        axis.set(title=f"{metric} validation accuracy by {by}")
    else:
        for index, (value, (mean, std)) in enumerate(mean_curves(histories or {}).items()):
            epochs = np.arange(1, len(mean) + 1)
            axis.plot(epochs, mean * 100, marker="o", color=f"C{index}", label=f"{by}={format_value(by, value)}")
            axis.fill_between(epochs, (mean - std) * 100, (mean + std) * 100, color=f"C{index}", alpha=0.2)
        axis.legend(fontsize="small")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set(title=f"mean validation accuracy by {by} (band: ± 1 std over runs)", xlabel="epoch")
    axis.set_ylabel("accuracy (%)")
    axis.grid(alpha=0.3)
    if kind != "curves":
        axis.set_xlabel(by)
    figure.tight_layout()
    return save_figure(figure, output_file(path, "--png", ".png"))


__all__ = ["KINDS", "MARKERS", "Level", "box_chart", "curves_chart", "levels", "runs_chart", "write_png"]
