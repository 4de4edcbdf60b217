"""Train one experiment: device and precision set-up, seeding, data, `fit`, results."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunResult
from kcnn.data import ImageSet, load_dataset, split_dataset
from kcnn.errors import DivergedError
from kcnn.throughput import peak_flops
from kcnn.training.devices import check_precision, device_name, resolve_device

__all__ = ["DivergedError", "Resume", "RunResult", "TrainingHooks", "prepare_device", "train", "train_group"]


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
    [outcome] = train_group([config], device=device, dataset=dataset, hooks=[hooks], resumes=[resume], fuse=False)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def train_group(
    configs: Sequence[ExperimentConfig],
    *,
    device: str = "auto",
    dataset: ImageSet | None = None,
    hooks: Sequence[TrainingHooks | None] | None = None,
    resumes: Sequence[Resume | None] | None = None,
    fuse: bool = True,
) -> list[RunResult | BaseException]:
    """Train several runs on one dataset: as one fused program where they allow it, else one after another.

    Each run is what `train` would make of it alone (its seed's initial weights and shuffle order, its own
    hooks, resume point and optimizer state); `kcnn.training.fused` says when runs can be fused (the same
    network shape, epochs, data split, batch size, resume epoch and Adam) and how. One run's failure is its
    own: it is returned in its place, and the others go on.

    Args:
        configs: The runs' experiments, all on the same dataset, input size and colour mode.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``. Defaults to ``auto``.
        dataset: Images to use instead of loading the dataset (once for all).
        hooks: Each run's hooks (or `None`), in the order of `configs`.
        resumes: Each run's checkpoint to continue from (or `None`).
        fuse: Whether to train them fused when they allow it. Defaults to `True`.

    Returns:
        For each run, in order, its `RunResult`, or the exception that ended it (`DivergedError`,
        `StopRequested`, `Pruned`, …).

    Raises:
        DeviceError: If the device or precision is not available.
        DataError: If the dataset cannot be loaded or split.
    """
    count = len(configs)
    all_hooks = [hook or TrainingHooks() for hook in (hooks or [None] * count)]
    all_resumes = list(resumes or [None] * count)
    first = configs[0]
    resolved, precision = prepare_device(device, first.precision)
    data = dataset or load_dataset(first.dataset, first.input_size, first.color_mode, first.resize, first.skip_bad)
    runs = [_Run(config, hook, resume, data) for config, hook, resume in zip(configs, all_hooks, all_resumes,
                                                                            strict=True)]  # fmt: skip
    from kcnn.training.backend import import_keras

    keras = import_keras()
    with keras.device(resolved):
        for run in runs:
            try:
                run.build(precision, resolved)
            except Exception as error:  # e.g. a damaged checkpoint: this run's own failure
                if count == 1:
                    raise
                run.error = error
        built = [run for run in runs if run.error is None]
        if fuse and len(built) > 1 and _fusable(built):
            _fit_fused(built, resolved)
        else:
            for run in built:
                run.fit(resolved)
    return [run.outcome(resolved, precision) for run in runs]


def _fusable(runs: Sequence[_Run]) -> bool:
    """Whether these built runs can train as one fused group (`kcnn.training.fused.fusion_problem`)."""
    from kcnn.training.fused import fusion_problem

    first = runs[0]
    same = all(
        run.choice.forward is not None
        and np.array_equal(run.split.train, first.split.train)
        and np.array_equal(run.split.val, first.split.val)
        and (run.config.batch_size, run.config.epochs, run.initial_epoch)
        == (first.config.batch_size, first.config.epochs, first.initial_epoch)
        for run in runs
    )
    return same and fusion_problem([run.model for run in runs]) is None


def _fit_fused(runs: Sequence[_Run], device: str) -> None:
    """Train the runs as one program; each run's own exception (if any) is kept in `_Run.error`."""
    from kcnn.training.fused import FusedMember, fit_fused

    first = runs[0]
    members = [FusedMember(run.model, run.config.seed, run.callbacks) for run in runs]
    start = time.perf_counter()
    fit_fused(members, first.train_data, first.val_data, batch_size=first.config.batch_size,
              epochs=first.config.epochs, initial_epoch=first.initial_epoch, device=device)  # fmt: skip
    seconds = time.perf_counter() - start
    for run, member in zip(runs, members, strict=True):
        run.seconds, run.error = seconds, member.error
        run.fused_with = len(runs)


class _Run:
    """One run of `train_group`: its split, model, callbacks and, once trained, its outcome."""

    def __init__(self, config: ExperimentConfig, hooks: TrainingHooks, resume: Resume | None, data: ImageSet) -> None:
        self.config, self.hooks, self.resume, self.data = config, hooks, resume, data
        self.split = split_dataset(data, config)
        self.train_data = data.images[self.split.train], data.labels[self.split.train]
        self.val_data = data.images[self.split.val], data.labels[self.split.val]
        self.test_data = (data.images[self.split.test], data.labels[self.split.test]) if len(self.split.test) else None
        self.initial_epoch = resume.epoch if resume is not None else 0
        self.best = BestWeights()
        self.seconds = 0.0
        self.error: BaseException | None = None
        self.fused_with = 1
        after_epoch = hooks.after_epoch
        if self.test_data is not None:  # the best epoch's weights are scored on the test set at the end

            def keep_best_then(record: EpochRecord, model: Any) -> None:
                self.best.offer(record, model)
                if hooks.after_epoch is not None:
                    hooks.after_epoch(record, model)

            after_epoch = keep_best_then
        from kcnn.training.callbacks import EpochRecorder

        self.recorder = EpochRecorder(
            len(self.train_data[0]),
            on_epoch=hooks.on_epoch,
            on_batch=hooks.on_batch,
            after_epoch=after_epoch,
            should_stop=hooks.should_stop,
        )
        self.callbacks = [*hooks.extra_callbacks, self.recorder]

    def build(self, precision: str, device: str) -> None:
        """Its model: built from its seed, or loaded from its checkpoint; and the loop that trains it."""
        from kcnn.training.backend import import_keras
        from kcnn.training.loop_choice import choose_loop
        from kcnn.training.model import build_model

        keras = import_keras()
        keras.utils.set_random_seed(self.config.seed + self.initial_epoch)
        resume = self.resume
        if resume is not None:
            self.model = keras.saving.load_model(resume.checkpoint)
            if self.test_data is not None and resume.best_model is not None:
                best = keras.saving.load_model(resume.best_model).get_weights()
                self.best = BestWeights(resume.best_val_accuracy, best)
        else:
            self.model = build_model(self.config, self.train_data[0].shape[1:], self.data.num_classes, precision)
        self.choice = choose_loop(self.model, self.train_data[0], self.train_data[1], device)

    def fit(self, device: str) -> None:
        """Train it alone: with the torch loop when it covers the model, else with ``fit``."""
        from kcnn.training.torch_loop import fit_torch

        start = time.perf_counter()
        try:
            if self.choice.forward is not None:
                fit_torch(self.model, self.choice.forward, self.train_data, self.val_data,
                          batch_size=self.config.batch_size, epochs=self.config.epochs,
                          initial_epoch=self.initial_epoch, seed=self.config.seed, device=device,
                          callbacks=self.callbacks)  # fmt: skip
            else:
                self.model.fit(*self.train_data, batch_size=self.config.batch_size, epochs=self.config.epochs,
                               initial_epoch=self.initial_epoch, validation_data=self.val_data, shuffle=True,
                               verbose=0, callbacks=self.callbacks)  # fmt: skip
        except Exception as error:  # this run's own: returned in its place
            self.error = error
        self.seconds = time.perf_counter() - start

    def outcome(self, device: str, precision: str) -> RunResult | BaseException:
        """Its `RunResult` (test scores included), or the exception that ended it."""
        config, recorder = self.config, self.recorder
        if self.error is not None:
            return self.error
        if recorder.diverged_at is not None:
            return DivergedError(
                f"Training diverged at epoch {recorder.diverged_at}: the loss became NaN or infinite. "
                f"Try a smaller `learning_rate` (now {config.learning_rate:g}).",
                recorder.diverged_at,
            )
        name = device_name(device)
        test_accuracy = best_test_accuracy = None
        if self.test_data is not None:
            from kcnn.training.backend import import_keras
            from kcnn.training.scoring import accuracy

            model, (images, labels) = self.model, self.test_data
            with import_keras().device(device):
                test_accuracy = accuracy(model, images, labels, config.batch_size)
                if self.best.weights is not None:
                    final = model.get_weights()
                    model.set_weights(self.best.weights)
                    best_test_accuracy = accuracy(model, images, labels, config.batch_size)
                    model.set_weights(final)
        loop, reason = self.choice.loop, self.choice.reason
        if self.fused_with > 1:
            loop, reason = "fused", f"trained as one program with {self.fused_with - 1} other run(s); {reason}"
        return RunResult(
            config=config,
            history=recorder.records,
            seconds=self.seconds,
            params=self.model.count_params(),
            flops_per_image=config.plan(self.data.num_classes, self.train_data[0].shape[-1]).flops,
            device=device,
            precision=precision,
            num_train=len(self.train_data[0]),
            num_val=len(self.val_data[0]),
            class_names=self.data.class_names,
            skipped_files=self.data.skipped,
            loop=loop,
            loop_reason=reason,
            dataset_fingerprint=self.data.fingerprint,
            device_name=name,
            peak_flops=peak_flops(name, precision),
            num_test=len(self.split.test),
            test_accuracy=test_accuracy,
            best_test_accuracy=best_test_accuracy,
        )
