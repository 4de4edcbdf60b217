"""Train one experiment: device and precision set-up, seeding, data, `fit`, results."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunResult
from kcnn.data import ImageSet, load_dataset, split_dataset
from kcnn.errors import DivergedError
from kcnn.throughput import peak_flops
from kcnn.training.devices import check_precision, device_name, resolve_device

__all__ = ["DivergedError", "Resume", "RunResult", "TrainingHooks", "prepare_device", "train"]


@dataclass
class TrainingHooks:
    """What a caller wants to hear from, or say to, a training run. Every hook is optional."""

    on_epoch: Callable[[EpochRecord], None] | None = None
    """Called with each finished epoch's record."""
    on_batch: Callable[[int, int, int], None] | None = None
    """Called with ``(epoch, batch, batches)`` after each step."""
    after_epoch: Callable[[EpochRecord, Any], None] | None = None
    """Called with ``(record, model)`` after each epoch (checkpoints, store writes)."""
    should_stop: Callable[[], bool] | None = None
    """Polled after each step; True abandons the epoch with `StopRequested`."""
    extra_callbacks: Sequence[Any] = ()
    """More Keras callbacks, run before the recorder."""


@dataclass(frozen=True)
class Resume:
    """A checkpoint to continue from."""

    checkpoint: Path
    """A ``.keras`` file with the model and optimizer state."""
    epoch: int
    """Epochs already done by that checkpoint."""
    best_model: Path | None = None
    """The best validation epoch's model of the earlier attempts, if kept (its test score is this run's
    best-epoch test score unless a later epoch beats it)."""
    best_val_accuracy: float = -math.inf
    """That epoch's validation accuracy."""


class BestWeights:
    """The weights of the best validation epoch so far, kept as the worker keeps its best model file.

    An epoch is the best when its validation accuracy is finite and strictly above every earlier one, so
    the weights scored here are those of the file the worker saved (`kcnn.queue.runner`).
    """

    def __init__(self, val_accuracy: float = -math.inf, weights: list[Any] | None = None) -> None:
        self.val_accuracy = val_accuracy
        self.weights = weights

    def offer(self, record: EpochRecord, model: Any) -> None:
        """Keep the model's weights if this epoch is the best yet."""
        if math.isfinite(record.val_accuracy) and record.val_accuracy > self.val_accuracy:
            self.val_accuracy = record.val_accuracy
            self.weights = model.get_weights()


def prepare_device(device: str = "auto", precision: str = "float32") -> tuple[str, str]:
    """Resolve the device and check the precision before any data is loaded.

    Raises:
        DeviceError: If either is not available here.
    """
    resolved = resolve_device(device)
    return resolved, check_precision(precision, resolved)


def train(
    config: ExperimentConfig,
    *,
    device: str = "auto",
    dataset: ImageSet | None = None,
    hooks: TrainingHooks | None = None,
    resume: Resume | None = None,
) -> RunResult:
    """Train the model of `config` and return what it measured.

    On the CPU, the same config (seed included) gives the same history.

    Args:
        config: The experiment (its `precision` is the Keras dtype policy).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``. Defaults to ``auto``.
        dataset: Images to use instead of loading ``config.dataset``.
        hooks: Progress callbacks and the stop flag. Defaults to none.
        resume: A checkpoint to continue from. Defaults to a fresh model.

    Returns:
        The run's result (its history holds the epochs trained by this call).

    Raises:
        DeviceError: If the device or precision is not available.
        DataError: If the dataset cannot be loaded or split.
        DivergedError: If the loss becomes NaN or infinite.
        StopRequested: If `hooks.should_stop` asked to stop.
    """
    hooks = hooks or TrainingHooks()
    resolved, precision = prepare_device(device, config.precision)
    data = dataset or load_dataset(config.dataset, config.input_size, config.color_mode, config.resize, config.skip_bad)
    split = split_dataset(data, config)
    x_train, y_train = data.images[split.train], data.labels[split.train]
    x_val, y_val = data.images[split.val], data.labels[split.val]
    test_images = (data.images[split.test], data.labels[split.test]) if len(split.test) else None

    from kcnn.training.backend import import_keras
    from kcnn.training.callbacks import EpochRecorder
    from kcnn.training.loop_choice import choose_loop
    from kcnn.training.model import build_model
    from kcnn.training.torch_loop import fit_torch

    keras = import_keras()
    initial_epoch = resume.epoch if resume is not None else 0
    keras.utils.set_random_seed(config.seed + initial_epoch)
    best = BestWeights()
    after_epoch = hooks.after_epoch
    if test_images is not None:  # the best epoch's weights are scored on the test set at the end

        def keep_best_then(record: EpochRecord, model: Any) -> None:
            best.offer(record, model)
            if hooks.after_epoch is not None:
                hooks.after_epoch(record, model)

        after_epoch = keep_best_then
    recorder = EpochRecorder(
        len(x_train),
        on_epoch=hooks.on_epoch,
        on_batch=hooks.on_batch,
        after_epoch=after_epoch,
        should_stop=hooks.should_stop,
    )
    callbacks = [*hooks.extra_callbacks, recorder]
    with keras.device(resolved):
        if resume is not None:
            model = keras.saving.load_model(resume.checkpoint)
            if test_images is not None and resume.best_model is not None:
                best = BestWeights(resume.best_val_accuracy, keras.saving.load_model(resume.best_model).get_weights())
        else:
            model = build_model(config, x_train.shape[1:], data.num_classes, precision)
        choice = choose_loop(model, x_train, y_train, resolved)
        start = time.perf_counter()
        if choice.forward is not None:
            fit_torch(
                model,
                choice.forward,
                (x_train, y_train),
                (x_val, y_val),
                batch_size=config.batch_size,
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                seed=config.seed,
                device=resolved,
                callbacks=callbacks,
            )
        else:
            model.fit(
                x_train,
                y_train,
                batch_size=config.batch_size,
                epochs=config.epochs,
                initial_epoch=initial_epoch,
                validation_data=(x_val, y_val),
                shuffle=True,
                verbose=0,
                callbacks=callbacks,
            )
        seconds = time.perf_counter() - start
    if recorder.diverged_at is not None:
        raise DivergedError(
            f"Training diverged at epoch {recorder.diverged_at}: the loss became NaN or infinite. "
            f"Try a smaller `learning_rate` (now {config.learning_rate:g}).",
            recorder.diverged_at,
        )
    name = device_name(resolved)
    test_accuracy = best_test_accuracy = None
    if test_images is not None:
        from kcnn.training.scoring import accuracy

        with keras.device(resolved):
            test_accuracy = accuracy(model, test_images[0], test_images[1], config.batch_size)
            if best.weights is not None:
                final = model.get_weights()
                model.set_weights(best.weights)
                best_test_accuracy = accuracy(model, test_images[0], test_images[1], config.batch_size)
                model.set_weights(final)
    return RunResult(
        config=config,
        history=recorder.records,
        seconds=seconds,
        params=model.count_params(),
        flops_per_image=config.plan(data.num_classes, x_train.shape[-1]).flops,
        device=resolved,
        precision=precision,
        num_train=len(x_train),
        num_val=len(x_val),
        class_names=data.class_names,
        skipped_files=data.skipped,
        loop=choice.loop,
        loop_reason=choice.reason,
        dataset_fingerprint=data.fingerprint,
        device_name=name,
        peak_flops=peak_flops(name, precision),
        num_test=len(split.test),
        test_accuracy=test_accuracy,
        best_test_accuracy=best_test_accuracy,
    )
