"""A model's confusion matrix on one split, and the per-class scores read from it (`Evaluation`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ClassScore:
    """One class: how many images it has in the split, and how well the model finds them."""

    name: str
    count: int
    precision: float | None
    """Of the images predicted as this class, the share that are; `None` if none was."""
    recall: float | None
    """Of this class's images, the share predicted as it; `None` if it has none."""


@dataclass(frozen=True)
class Evaluation:
    """A model's accuracy on one split of a dataset, per class, with the confusion matrix."""

    run_id: int
    dataset: str
    split: str
    class_names: tuple[str, ...]
    confusion: list[list[int]]
    """Rows: true class; columns: predicted class."""
    model: str

    @property
    def images(self) -> int:
        """Images evaluated."""
        return sum(map(sum, self.confusion))

    @property
    def accuracy(self) -> float:
        """Share of images whose predicted class is the true one."""
        correct = sum(self.confusion[i][i] for i in range(len(self.confusion)))
        return correct / self.images if self.images else float("nan")

    @property
    def per_class(self) -> list[ClassScore]:
        """Precision, recall and count of every class."""
        matrix = np.array(self.confusion)
        scores = []
        for index, name in enumerate(self.class_names):
            count, predicted = int(matrix[index].sum()), int(matrix[:, index].sum())
            hits = int(matrix[index, index])
            scores.append(
                ClassScore(name, count, hits / predicted if predicted else None, hits / count if count else None)
            )
        return scores

    def to_dict(self) -> dict[str, Any]:
        """Every number, for scripts."""
        return {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "split": self.split,
            "model": self.model,
            "images": self.images,
            "accuracy": self.accuracy,
            "classes": [score.__dict__ for score in self.per_class],
            "confusion": self.confusion,
        }
