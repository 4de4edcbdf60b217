"""`EpochRecorder`: the Keras callback that times epochs and collects their metrics."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from kcnn.contract import EpochRecord
from kcnn.errors import StopRequested
from kcnn.training.backend import import_keras

keras = import_keras()

__all__ = ["EpochRecord", "EpochRecorder", "StopRequested"]


class EpochRecorder(keras.callbacks.Callback):  # type: ignore[name-defined,misc]
    """Record every epoch, report progress, and stop on a non-finite loss.

    Args:
        train_images: Training images per epoch (for images per second).
        on_epoch: Called with each `EpochRecord` as soon as it is complete.
        on_batch: Called with ``(epoch, batch, batches)`` after each training step.
        after_epoch: Called with ``(record, model)`` once the epoch is recorded (checkpoints, store writes).
        should_stop: Polled after every step; when it returns True, training is abandoned mid-epoch by
            raising `StopRequested` (the unfinished epoch is not recorded).
    """

    def __init__(
        self,
        train_images: int,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        on_batch: Callable[[int, int, int], None] | None = None,
        after_epoch: Callable[[EpochRecord, Any], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        self.train_images = train_images
        self.on_epoch = on_epoch
        self.on_batch = on_batch
        self.after_epoch = after_epoch
        self.should_stop = should_stop
        self.records: list[EpochRecord] = []
        self.diverged_at: int | None = None
        self._epoch_start = 0.0
        self._train_end = 0.0
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Reset state, so that one recorder can serve several `fit` calls."""
        self.records = []
        self.diverged_at = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Start the epoch's clock."""
        self._epoch = epoch + 1
        self._epoch_start = time.perf_counter()
        self._train_end = 0.0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Report step progress; abandon training if asked to stop."""
        if self.on_batch is not None:
            steps = self.params.get("steps") or 0
            self.on_batch(self._epoch, batch + 1, steps)
        if self.should_stop is not None and self.should_stop():
            raise StopRequested(f"stop requested during epoch {self._epoch}")

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Mark the end of the training phase (validation follows)."""
        if not self._train_end:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Record the epoch; stop training if its loss is not finite."""
        end = time.perf_counter()
        logs = logs or {}
        train_seconds = (self._train_end or end) - self._epoch_start
        record = EpochRecord(
            epoch=epoch + 1,
            loss=float(logs.get("loss", math.nan)),
            accuracy=float(logs.get("accuracy", math.nan)),
            val_loss=float(logs.get("val_loss", math.nan)),
            val_accuracy=float(logs.get("val_accuracy", math.nan)),
            seconds=end - self._epoch_start,
            images_per_second=self.train_images / train_seconds if train_seconds > 0 else 0.0,
        )
        if not math.isfinite(record.loss):
            self.diverged_at = record.epoch
            self.model.stop_training = True
            return
        self.records.append(record)
        if self.after_epoch is not None:
            self.after_epoch(record, self.model)
        if self.on_epoch is not None:
            self.on_epoch(record)
