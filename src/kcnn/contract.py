"""The run contract: the typed records a run's result crosses every boundary in, and its metrics.

`EpochRecord` (one finished epoch) and `RunResult` (a finished training) are free of keras, torch and numpy,
so that any process can hold them (a Ray head receives records without importing keras) and so that every
layer can name them: training makes them, the queue writes them to the store, reports show them.

`METRICS` is the one definition of what a finished run keeps besides its epochs. Each `Metric` names a
column of the store's ``runs`` table (added by ``kcnn store upgrade`` to an older store), a value of the
`RunSummary` a worker writes, a key of `Run.metrics`, a column of ``kcnn runs export`` and of
``kcnn runs --format json``, and, for numbers, the mean over a configuration's runs in the leaderboard's
JSON. Adding a metric is adding one `Metric` here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kcnn.config import ExperimentConfig
from kcnn.throughput import training_flops_per_second


@dataclass(frozen=True)
class EpochRecord:
    """Metrics of one finished epoch."""

    epoch: int
    """Epoch number, from 1."""
    loss: float = math.nan
    """Mean training loss (NaN where not measured: the store keeps it as NULL)."""
    accuracy: float = math.nan
    """Training accuracy."""
    val_loss: float = math.nan
    """Validation loss."""
    val_accuracy: float = math.nan
    """Validation accuracy."""
    seconds: float = math.nan
    """Wall time of the epoch, validation included."""
    images_per_second: float = math.nan
    """Training images per second of the epoch's training phase."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    """Everything one training run measured."""

    config: ExperimentConfig
    """The run's hyperparameters."""
    history: list[EpochRecord]
    """One record per finished epoch."""
    seconds: float
    """Wall time of `fit` alone (no start-up, no data loading)."""
    params: int
    """Trainable parameters of the model."""
    flops_per_image: int
    """Forward-pass FLOPs per image, from the shape plan."""
    device: str
    """Torch device the run trained on."""
    precision: str
    """Keras dtype policy."""
    num_train: int
    """Training images."""
    num_val: int
    """Validation images."""
    num_test: int = 0
    """Test images (0 without a test set)."""
    test_accuracy: float | None = None
    """The final model's accuracy on the test set (`None` without one)."""
    best_test_accuracy: float | None = None
    """The best validation epoch's model's accuracy on the test set (scored by the trainer with those weights)."""
    class_names: tuple[str, ...] = field(default_factory=tuple)
    """Class names, in label order."""
    skipped_files: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """Unreadable files left out with ``skip_bad``, and why."""
    loop: str = "fit"
    """What trained it: ``torch`` (kcnn's torch-native loop), ``fit`` (Keras' own) or ``fused`` (the torch loop's
    maths with other runs of the same shape, as one program: `kcnn.training.fused`)."""
    loop_reason: str = ""
    """Why that loop (the probe's verdict)."""
    dataset_fingerprint: str = ""
    """The content fingerprint of the images it trained on."""
    device_name: str = "CPU"
    """The device's model, e.g. ``NVIDIA H200``."""
    peak_flops: float | None = None
    """The device's peak FLOP/s at the run's precision, when known."""

    @property
    def best_val_accuracy(self) -> float:
        """Highest validation accuracy of any epoch."""
        return max(record.val_accuracy for record in self.history)

    @property
    def final_val_accuracy(self) -> float:
        """Validation accuracy after the last epoch."""
        return self.history[-1].val_accuracy

    @property
    def images_per_second(self) -> float:
        """Median training images per second over the epochs."""
        rates = sorted(record.images_per_second for record in self.history)
        return rates[len(rates) // 2]

    @property
    def flops_per_second(self) -> float | None:
        """Achieved training FLOP/s (3× forward FLOPs per image × images per second)."""
        return training_flops_per_second(self.flops_per_image, self.images_per_second)

    @property
    def summary(self) -> RunSummary:
        """What the store keeps with the run: one value per `Metric` of `run_metrics()`."""
        return RunSummary.of(self)

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return {
            "config": self.config.to_dict(),
            "config_key": self.config.config_key,
            "best_val_accuracy": self.best_val_accuracy,
            "final_val_accuracy": self.final_val_accuracy,
            "seconds": self.seconds,
            "params": self.params,
            "flops_per_image": self.flops_per_image,
            "images_per_second": self.images_per_second,
            "flops_per_second": self.flops_per_second,
            "peak_flops": self.peak_flops,
            "device": self.device,
            "device_name": self.device_name,
            "train_loop": self.loop,
            "train_loop_reason": self.loop_reason,
            "dataset_fingerprint": self.dataset_fingerprint,
            "precision": self.precision,
            "num_train": self.num_train,
            "num_val": self.num_val,
            "num_test": self.num_test,
            "test_accuracy": self.test_accuracy,
            "best_test_accuracy": self.best_test_accuracy,
            "skipped_files": [list(item) for item in self.skipped_files],
            "history": [record.to_dict() for record in self.history],
        }


#: A metric's value as the store keeps it.
MetricValue = int | float | str | None


@dataclass(frozen=True)
class Metric:
    """One fact a finished run keeps: its column, its type, what it means, and how a `RunResult` gives it."""

    name: str
    """The column and key, e.g. ``params``."""
    sql_type: Literal["INTEGER", "REAL", "TEXT"]
    """Its SQLite type (numbers are averaged per configuration on the leaderboard)."""
    doc: str
    """What it means, in a line."""
    of: Callable[[RunResult], MetricValue] = field(compare=False, repr=False)
    """Its value for a finished training."""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.sql_type not in ("INTEGER", "REAL", "TEXT"):
            raise ValueError(
                f"A metric needs an identifier as its `name` and INTEGER, REAL or TEXT as its `sql_type`; "
                f"got {self.name!r} and {self.sql_type!r}."
            )

    @property
    def numeric(self) -> bool:
        """Whether it is a number (averaged per configuration)."""
        return self.sql_type != "TEXT"


#: What a finished run keeps besides its epochs: each is a column of ``runs`` and a key of `Run.metrics`.
METRICS: tuple[Metric, ...] = (
    Metric("params", "INTEGER", "Trainable parameters of the model.", lambda result: result.params),
    Metric("flops_per_image", "INTEGER", "Forward-pass FLOPs per image (shape plan).",
           lambda result: result.flops_per_image),
    Metric("device", "TEXT", "Torch device it trained on.", lambda result: result.device),
    Metric("device_name", "TEXT", "The device's model, e.g. NVIDIA H200.", lambda result: result.device_name),
    Metric("peak_flops", "REAL", "The device's peak FLOP/s at the run's precision.", lambda result: result.peak_flops),
    Metric("train_loop", "TEXT", "What trained it: torch, fit, or fused (with other runs, as one program).",
           lambda result: result.loop),
    Metric("train_loop_reason", "TEXT", "Why that loop.", lambda result: result.loop_reason),
    Metric("precision", "TEXT", "Keras dtype policy.", lambda result: result.precision),
    Metric("dataset_fingerprint", "TEXT", "Content fingerprint of its images.",
           lambda result: result.dataset_fingerprint),
    Metric("test_accuracy", "REAL", "Final model's accuracy on the test set.", lambda result: result.test_accuracy),
    Metric("best_test_accuracy", "REAL", "Best epoch's model's accuracy on the test set.",
           lambda result: result.best_test_accuracy),
)  # fmt: skip


def run_metrics() -> tuple[Metric, ...]:
    """The metrics runs keep now (read at each use, so that a metric added to `METRICS` is seen everywhere)."""
    return METRICS


@dataclass(frozen=True)
class RunSummary:
    """What a worker writes when a run is done: one value per metric of `run_metrics()`."""

    values: dict[str, MetricValue] = field(default_factory=dict)
    """Metric name → value; a metric missing here is stored as NULL."""

    @classmethod
    def of(cls, result: RunResult) -> RunSummary:
        """Every metric's value for a finished training."""
        return cls({metric.name: metric.of(result) for metric in run_metrics()})
