"""Rich tables of a model's evaluation: per-class precision and recall, the confusion matrix."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from kcnn.reports.confusion import Evaluation
from kcnn.reports.text import safe


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _which(model: str) -> str:
    return "the best validation epoch's weights" if model.startswith("best") else "the last epoch's weights"


def class_table(evaluation: Evaluation) -> Table:
    """Accuracy overall and per class."""
    table = Table(
        title=f"Run {evaluation.run_id} on {safe(evaluation.dataset)} ({evaluation.split} split): "
        f"accuracy {evaluation.accuracy:.2%} of {evaluation.images} images",
        title_justify="left",
        caption=f"model: {safe(evaluation.model)} ({_which(evaluation.model)}) · precision: of the images "
        "predicted as the class, the share that are · recall: of the class's images, the share found",
        caption_justify="left",
    )
    for column in ("class", "images", "precision", "recall"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for score in evaluation.per_class:
        table.add_row(safe(score.name), str(score.count), _share(score.precision), _share(score.recall))
    return table


def confusion_table(evaluation: Evaluation) -> Table:
    """Rows: true class; columns: predicted class, numbered as the rows; the diagonal is what was right."""
    table = Table(
        title="Confusion matrix (rows: true class; columns: predicted class, numbered as the rows)",
        title_justify="left",
    )
    table.add_column("true class", style="bold")
    for number in range(1, len(evaluation.class_names) + 1):
        table.add_column(str(number), justify="right")
    for index, (name, row) in enumerate(zip(evaluation.class_names, evaluation.confusion, strict=True)):
        cells = [f"[green]{count}[/]" if column == index else (str(count) if count else "[dim]0[/]")
                 for column, count in enumerate(row)]  # fmt: skip
        table.add_row(f"{index + 1} {safe(name)}", *cells)
    return table


def write_confusion_png(evaluation: Evaluation, path: Path) -> Path:
    """The confusion matrix as a PNG heat map, counts in the cells (needs ``kcnn[plot]``)."""
    from kcnn.files import output_file
    from kcnn.reports.curves import pyplot, save_figure

    plt = pyplot()
    size = max(4.0, 0.55 * len(evaluation.class_names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    matrix = evaluation.confusion
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, shrink=0.8)
    ticks = range(len(evaluation.class_names))
    axis.set_xticks(ticks, evaluation.class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, evaluation.class_names)
    top = max((max(row) for row in matrix), default=0)
    for row_index, row in enumerate(matrix):
        for column, count in enumerate(row):
            shade = "white" if top and count > top / 2 else "black"
            axis.text(column, row_index, str(count), ha="center", va="center", color=shade, fontsize="small")
    title = f"Run {evaluation.run_id}, {evaluation.split} split: accuracy {evaluation.accuracy:.1%}"
    axis.set(xlabel="predicted class", ylabel="true class", title=title)
    figure.tight_layout()
    return save_figure(figure, output_file(path, "--png", ".png"))
