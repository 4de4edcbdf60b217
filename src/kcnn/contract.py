"""The run contract: the typed records a run's result crosses every boundary in.

`EpochRecord` (one finished epoch) and `RunResult` (a finished training) are free of keras, torch and numpy,
so that any process can hold them (a Ray head receives records without importing keras) and so that every
layer can name them: training makes them, the queue writes them to the store, reports show them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kcnn.config import ExperimentConfig
from kcnn.throughput import training_flops_per_second


@dataclass(frozen=True)
class EpochRecord:
    """Metrics of one finished epoch."""

    epoch: int
    """Epoch number, from 1."""
    loss: float
    """Mean training loss."""
    accuracy: float
    """Training accuracy."""
    val_loss: float
    """Validation loss."""
    val_accuracy: float
    """Validation accuracy."""
    seconds: float
    """Wall time of the epoch, validation included."""
    images_per_second: float
    """Training images per second of the epoch's training phase."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return asdict(self)


@dataclass
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
    """The best-epoch model's accuracy on the test set (set by the worker, which keeps that model's file)."""
    test_images: tuple[Any, Any] | None = field(default=None, repr=False)
    """The test images and labels, for scoring another model of the run (its best epoch's); not serialised."""
    class_names: tuple[str, ...] = field(default_factory=tuple)
    """Class names, in label order."""
    skipped_files: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """Unreadable files left out with ``skip_bad``, and why."""
    loop: str = "fit"
    """What trained it: ``torch`` (kcnn's torch-native loop) or ``fit`` (Keras' own)."""
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
    def summary(self) -> dict[str, Any]:
        """The model and device facts the store keeps with the run."""
        return {
            "params": self.params,
            "flops_per_image": self.flops_per_image,
            "device": self.device,
            "device_name": self.device_name,
            "peak_flops": self.peak_flops,
            "train_loop": self.loop,
            "train_loop_reason": self.loop_reason,
            "precision": self.precision,
            "dataset_fingerprint": self.dataset_fingerprint,
            "test_accuracy": self.test_accuracy,
            "best_test_accuracy": self.best_test_accuracy,
        }

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
