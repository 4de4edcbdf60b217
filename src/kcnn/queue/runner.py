"""Execute one claimed run: heartbeats, checkpoints, store writes, failure kinds.

Used by worker children and by `kcnn train` (which claims its own run and
executes it in the foreground). Every store write is fenced by the claim.

Why one module of ~420 lines: the heartbeat thread, the checkpointer and `execute_claim` are the three
parts of one claim's life; each writes under the same fence and reads the same settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import json
import math
import os
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kcnn.contract import RunResult
from kcnn.errors import (
    ConfigError,
    DataError,
    DeviceError,
    DivergedError,
    KcnnError,
    LeaseLost,
    Pruned,
    StopRequested,
    StoreError,
    StoreFull,
)
from kcnn.files import atomic_link, atomic_write, remove_stale_temporaries
from kcnn.queue.disk_space import LowDiskSpace
from kcnn.queue.settings import CHECKPOINT_SECONDS, EXIT_STALLED
from kcnn.store import CLASSES_FILE, Claim, ClaimHandle, FailureKind, Store
from kcnn.store.retention import remove_files

if TYPE_CHECKING:
    from kcnn.config import ExperimentConfig
    from kcnn.data import ImageSet
    from kcnn.training.train import Resume, TrainingHooks

CHECKPOINT_PATTERN = "checkpoint-e{epoch}-a{attempt}.keras"
MODEL_PATTERN = "model-a{attempt}.keras"
BEST_PATTERN = "best-a{attempt}.keras"


def checkpoint_due(epoch: int, epochs: int, seconds_since_checkpoint: float, every_seconds: float) -> bool:
    """Whether to checkpoint after `epoch` (from 1) of `epochs`.

    Always after the last epoch; otherwise once `every_seconds` have passed since the
    previous checkpoint (0: after every epoch).
    """
    return epoch >= epochs or seconds_since_checkpoint >= every_seconds


class Outcome(enum.StrEnum):
    """How an execution ended, from the executing worker's point of view."""

    DONE = "done"
    FAILED = "failed"
    REQUEUED = "requeued"
    LOST = "lost"
    """The claim was taken away (cancelled, or the lease passed to another worker)."""
    PRUNED = "pruned"
    """A study's pruner stopped the run between epochs."""


class Trainer(Protocol):
    """Where a claimed run's training happens: in this process (`LocalTrainer`) or on a Ray actor.

    `execute_claim` does everything else (heartbeats, checkpoints, store writes, failure kinds) the same
    way for both, so a run behaves alike wherever it trains. The trainer returns the whole result: the best
    epoch's test score included (it keeps those weights), so nothing is loaded or scored again here.
    """

    def train(
        self,
        config: ExperimentConfig,
        *,
        device: str,
        dataset: ImageSet | None,
        hooks: TrainingHooks,
        resume: Resume | None,
    ) -> RunResult:
        """Train like `kcnn.training.train.train` and return its `RunResult`.

        The trainer adds the faults `KCNN_INJECT_FAULTS` asks for where the training runs (`kcnn.queue.faults`).
        """
        ...


class LocalTrainer:
    """Trains in this process."""

    def train(
        self,
        config: ExperimentConfig,
        *,
        device: str,
        dataset: ImageSet | None,
        hooks: TrainingHooks,
        resume: Resume | None,
    ) -> RunResult:
        """Train with `kcnn.training.train.train` (with the faults `KCNN_INJECT_FAULTS` asks for, if any)."""
        from kcnn.queue.faults import fault_callbacks
        from kcnn.training.train import train

        hooks = dataclasses.replace(hooks, extra_callbacks=[*hooks.extra_callbacks, *fault_callbacks(config.seed)])
        return train(config, device=device, dataset=dataset, hooks=hooks, resume=resume)


@dataclass
class Execution:
    """The result of executing one claim."""

    outcome: Outcome
    result: RunResult | None = None
    """What the training measured, when done."""
    error_kind: FailureKind | None = None
    message: str = ""


class _Heartbeat(threading.Thread):
    """Renews a claim's lease from its own store connection; notices a lost claim or a stalled run."""

    def __init__(self, store_path: Path, claim: Claim, lease_seconds: float, stall_seconds: float | None) -> None:
        super().__init__(name=f"heartbeat-{claim.run_id}", daemon=True)
        self.store_path = store_path
        self.claim = claim
        self.lease_seconds = lease_seconds
        self.stall_seconds = stall_seconds
        self.lost = threading.Event()
        self.finished = threading.Event()
        self.last_progress = time.monotonic()
        # Opened here, in the caller's thread: a store this worker cannot open fails the run loudly
        # instead of killing the heartbeat silently (and the run being reaped while it trains).
        self.store = Store(store_path, create=False)

    def progress(self) -> None:
        """Note that a training step finished."""
        self.last_progress = time.monotonic()

    def run(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        with self.store as store:
            while not self.finished.wait(interval):
                if self.stall_seconds and time.monotonic() - self.last_progress > self.stall_seconds:
                    # A hung step (e.g. a wedged CUDA context) cannot be interrupted from Python:
                    # end the process; its supervisor records the crash and requeues the run.
                    os._exit(EXIT_STALLED)
                try:
                    store.handle(self.claim).heartbeat(self.lease_seconds)
                except LeaseLost:
                    self.lost.set()
                    return
                except (KcnnError, sqlite3.Error) as error:  # the store became unusable: stop, said on stderr
                    print(f"heartbeat of run {self.claim.run_id} stopped: {error}", file=sys.stderr, flush=True)
                    self.lost.set()
                    return


@dataclass
class RunSettings:
    """How a worker executes its claims (the same for every run it trains)."""

    device: str = "auto"
    """Torch device spec."""
    lease_seconds: float = 60.0
    """Lease length; heartbeats renew it every third of it."""
    stall_seconds: float | None = None
    """End the process if no training step finishes for this long."""
    checkpoint_seconds: float = CHECKPOINT_SECONDS
    """Checkpoint after an epoch once this much time has passed since the last checkpoint (0: every
    epoch). The last epoch is always checkpointed, and that checkpoint becomes the final model."""


@dataclass
class _Checkpointer:
    """Writes a claim's checkpoints into its artifacts folder and remembers the last one."""

    run: ClaimHandle
    epochs: int
    every_seconds: float
    folder: Path
    last_model: Any = None
    last_epoch: int = 0
    saved_at: float = field(default_factory=time.monotonic)
    best_val_accuracy: float = -math.inf
    """The best validation accuracy so far, whose weights are in the best model file."""
    best_epoch: int = 0
    """The epoch (of this attempt) whose weights are in the best model file; 0 when carried from an earlier one."""

    @property
    def best_path(self) -> Path:
        """The best epoch's model of this attempt (what the leaderboard's "best" accuracy was measured on)."""
        return self.folder / BEST_PATTERN.format(attempt=self.run.attempt)

    def adopt_previous_best(self, resume_epoch: int) -> None:
        """On a resumed attempt: carry the earlier attempts' best model and accuracy over to this attempt."""
        kept = [e["val_accuracy"] for e in self.run.epochs() if e["epoch"] <= resume_epoch]
        earlier = sorted(self.folder.glob("best-a*.keras"), key=lambda path: path.stat().st_mtime_ns)
        finite = [value for value in kept if value is not None and math.isfinite(value)]
        if finite and earlier and atomic_link(earlier[-1], self.best_path):
            self.best_val_accuracy = max(finite)

    def after_epoch(self, record: Any, model: Any) -> None:
        """Record the epoch, with a checkpoint when one is due."""
        self.last_model = model
        self.last_epoch = record.epoch
        if not checkpoint_due(record.epoch, self.epochs, time.monotonic() - self.saved_at, self.every_seconds):
            self._keep_if_best(record, model)
            self.run.record_epoch(record)
            return
        # File names carry the attempt: a worker presumed dead can never overwrite its successor's files.
        path = self.folder / CHECKPOINT_PATTERN.format(epoch=record.epoch, attempt=self.run.attempt)
        atomic_write(path, lambda temporary: model.save(temporary))  # with the optimizer's state: it resumes
        self._keep_if_best(record, model)
        self.run.record_epoch(record, checkpoint=path.name)
        for old in self.folder.glob(f"checkpoint-e*-a{self.run.attempt}.keras"):
            if old != path:
                old.unlink(missing_ok=True)
        self.saved_at = time.monotonic()

    def _keep_if_best(self, record: Any, model: Any) -> None:
        """Save the weights (only: `save_for_inference`) when this epoch's validation accuracy is the best yet."""
        if not math.isfinite(record.val_accuracy) or record.val_accuracy <= self.best_val_accuracy:
            return
        atomic_write(self.best_path, lambda temporary: save_for_inference(model, temporary))
        self.best_val_accuracy = record.val_accuracy
        self.best_epoch = record.epoch

    def save_final_model(self) -> str | None:
        """Keep the final weights (only) under the final model's name; its file name.

        When the last epoch is the best one, the final model is the best model's file under a second name
        (a hard link: no byte twice).
        """
        if self.last_model is None:
            return None
        name = MODEL_PATTERN.format(attempt=self.run.attempt)
        final = self.folder / name
        if self.best_epoch == self.last_epoch and self.best_path.exists() and atomic_link(self.best_path, final):
            return name
        atomic_write(final, lambda temporary: save_for_inference(self.last_model, temporary))
        return name

    def apply_keep(self, policy: str) -> None:
        """Leave in the folder of a done run what `policy` keeps (`kcnn.store.retention.KEEP_POLICIES`).

        The resume checkpoints go (``all`` keeps the last one), and earlier attempts' best models; ``final``,
        ``best`` and ``none`` then remove the model files the run does not keep, noting them in the folder's
        marker so that readers say why they are missing.
        """
        checkpoints = sorted(self.folder.glob("checkpoint-*.keras"), key=lambda path: path.stat().st_mtime_ns)
        for checkpoint in checkpoints[:-1] if policy == "all" else checkpoints:
            checkpoint.unlink(missing_ok=True)
        for best in self.folder.glob("best-a*.keras"):
            if best != self.best_path:
                best.unlink(missing_ok=True)
        final = self.folder / MODEL_PATTERN.format(attempt=self.run.attempt)
        dropped = {"final": [self.best_path], "best": [final], "none": [final, self.best_path]}.get(policy, [])
        reasons = {
            "final": "--keep final: its best-epoch model was not kept",
            "best": "--keep best: its final model was not kept; `--model best` uses its best epoch's",
            "none": "--keep none: no model was kept",
        }
        present = [path for path in dropped if path.exists()]
        if present:
            remove_files(self.folder, present, reasons[policy])


def save_for_inference(model: Any, path: Path) -> None:
    """Write a model's architecture and weights only (a Ray slot's model writes them from its actor)."""
    remote = getattr(model, "save_for_inference", None)
    if remote is not None:
        remote(path)
        return
    from kcnn.training.model import save_for_inference as save

    save(model, path)


def execute_claim(
    store: Store,
    claim: Claim,
    settings: RunSettings | None = None,
    *,
    stop: threading.Event | None = None,
    on_epoch: Callable[[Any], None] | None = None,
    dataset: Any = None,
    trainer: Trainer | None = None,
) -> Execution:
    """Train the claimed run to the end, or until stopped, recording everything in the store.

    Args:
        store: The store (this thread's connection).
        claim: The claim to execute.
        settings: Device, lease, stall and checkpoint settings. Defaults to `RunSettings()`.
        stop: When set, the current epoch is abandoned and the run goes back to the queue.
        on_epoch: Called with each finished `EpochRecord`.
        dataset: An already loaded `ImageSet` to train on instead of loading ``config.dataset``.
        trainer: Where the training runs. Defaults to this process (`LocalTrainer`).

    Returns:
        How the execution ended.
    """
    settings = settings or RunSettings()
    trainer = trainer or LocalTrainer()
    stop = stop or threading.Event()
    try:
        config = claim.config
    except ConfigError as error:
        return _fail(store, claim, FailureKind.INVALID_CONFIG, str(error))
    try:
        heartbeat = _Heartbeat(store.path, claim, settings.lease_seconds, settings.stall_seconds)
    except StoreError as error:
        return _fail(store, claim, FailureKind.CRASHED, f"the heartbeat could not open the store: {error}")
    heartbeat.start()
    remove_stale_temporaries(store.run_folder(claim.run_id))  # a killed predecessor's half-written files
    run = store.handle(claim)  # every write below is this claim's, fenced
    checkpointer = _Checkpointer(run, config.epochs, settings.checkpoint_seconds, run.folder)
    if claim.checkpoint_epoch > 0:
        checkpointer.adopt_previous_best(claim.checkpoint_epoch)
    from kcnn.training.train import TrainingHooks

    prune_check = _pruning_check(store, claim)

    def after_epoch(record: Any, model: Any) -> None:
        checkpointer.after_epoch(record, model)  # the epoch is recorded first: a pruned run keeps it
        if prune_check is not None:
            prune_check(record)

    hooks = TrainingHooks(
        on_epoch=on_epoch,
        on_batch=lambda epoch, batch, batches: heartbeat.progress(),
        after_epoch=after_epoch,
        should_stop=lambda: stop.is_set() or heartbeat.lost.is_set(),
    )
    try:
        resume = _resume_of(store, claim)
        if resume is not None and checkpointer.best_path.exists():  # the earlier attempts' best, carried over
            resume = dataclasses.replace(
                resume, best_model=checkpointer.best_path, best_val_accuracy=checkpointer.best_val_accuracy
            )
        result = trainer.train(config, device=settings.device, dataset=dataset, hooks=hooks, resume=resume)
        if result.skipped_files:
            listed = "; ".join(f"{path} ({reason})" for path, reason in result.skipped_files)
            run.note(
                "skipped_files",
                f"{len(result.skipped_files)} unreadable file(s) or empty class folder(s) left out: {listed}",
            )
        run.note("train_loop", f"{result.loop}: {result.loop_reason}")
        model_name = checkpointer.save_final_model()
        _write_class_names(checkpointer.folder, result.class_names)
        run.finish(result.summary, model=model_name)
        if model_name is not None:
            checkpointer.apply_keep(claim.keep)
        return Execution(Outcome.DONE, result=result)
    except (LeaseLost, StopRequested) as error:
        if heartbeat.lost.is_set() or isinstance(error, LeaseLost):
            return Execution(Outcome.LOST, message=str(error))
        try:
            run.release("worker stopped")
        except LeaseLost:
            return Execution(Outcome.LOST)
        return Execution(Outcome.REQUEUED, error_kind=FailureKind.INTERRUPTED, message=str(error))
    except Pruned as error:
        try:
            run.prune(str(error))
        except LeaseLost:
            return Execution(Outcome.LOST)
        return Execution(Outcome.PRUNED, message=str(error))
    except StoreFull as error:  # not the run's fault: give it back (if even that can be written), stop the worker
        # If not even that can be written, its lease lapses and a reap requeues it: never done, never lost.
        with contextlib.suppress(LeaseLost, StoreError):
            run.release("the disk holding the store is full")
        raise error
    except DivergedError as error:
        return _fail(store, claim, FailureKind.DIVERGED, str(error))
    except DataError as error:
        bad = getattr(error, "bad", [])
        details = "".join(f"\n{path}: {reason}" for path, reason in bad)
        return _fail(store, claim, FailureKind.DATA_ERROR, str(error).replace(" (listed above)", "") + details)
    except (ConfigError, DeviceError) as error:
        return _fail(store, claim, FailureKind.INVALID_CONFIG, str(error))
    except KeyboardInterrupt:
        _fail(store, claim, FailureKind.INTERRUPTED, "interrupted by the user; `kcnn queue retry` resumes it")
        raise
    except Exception as error:
        if _is_disk_full(error):  # a model file found no room: not the run's fault either; give it back
            with contextlib.suppress(LeaseLost, StoreError):
                run.release("the disk holding its files is full")
            raise LowDiskSpace(
                f"run {claim.run_id} could not write its files ({type(error).__name__}: {error}): the disk holding "
                f"{store.artifacts} is full; the run is back in the queue at its last checkpoint. Free some space "
                "(`kcnn store prune --keep-top 5` removes the model files of all but the best 5 configurations)"
            ) from error
        kind = FailureKind.OUT_OF_MEMORY if _is_out_of_memory(error) else FailureKind.CRASHED
        return _fail(store, claim, kind, _describe(error))
    finally:
        heartbeat.finished.set()
        heartbeat.join(timeout=5)


def _is_disk_full(error: BaseException) -> bool:
    """Whether `error` (or what caused it: h5py and zipfile wrap the OS's error) is a write to a full disk."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(current) or "Disk quota exceeded" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _pruning_check(store: Store, claim: Claim) -> Callable[[Any], None] | None:
    """The check that may prune the run after each epoch: an Optuna study's pruner, a budgeted study's halving."""
    run = store.get_run(claim.run_id)
    if run.study_id is None:
        return None
    study = store.get_study(run.study_id)
    if study.kind == "answer":
        from kcnn.queue.halving import halving_check

        return halving_check(store, study, run)
    if study.kind != "optimize" or run.trial is None or study.settings.get("pruner", "none") == "none":
        return None
    from kcnn.queue.optimize import pruning_check

    return pruning_check(store, study, run)


def _write_class_names(folder: Path, class_names: tuple[str, ...]) -> None:
    """Record the class names beside the model, in label order (what evaluate and predict name)."""

    def write(temporary: Path) -> None:
        temporary.write_text(json.dumps(list(class_names)))

    atomic_write(folder / CLASSES_FILE, write)


def _resume_of(store: Store, claim: Claim) -> Resume | None:
    """The checkpoint the claim resumes from, when it has one on disk."""
    from kcnn.training.train import Resume

    if claim.checkpoint_epoch <= 0 or not claim.checkpoint:
        return None
    folder = store.run_folder(claim.run_id).resolve()
    path = (folder / claim.checkpoint).resolve()
    if path.parent != folder:  # a damaged or forged row must not load a file from elsewhere
        raise ConfigError(
            f"Run {claim.run_id}'s checkpoint {claim.checkpoint!r} is outside its folder {folder}; refusing to load it."
        )
    return Resume(path, claim.checkpoint_epoch) if path.exists() else None


def _fail(store: Store, claim: Claim, kind: FailureKind, message: str) -> Execution:
    try:
        state = store.handle(claim).fail(kind, message)
    except LeaseLost:
        return Execution(Outcome.LOST, error_kind=kind, message=message)
    outcome = Outcome.REQUEUED if state.value == "queued" else Outcome.FAILED
    return Execution(outcome, error_kind=kind, message=message)


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    name = type(error).__name__
    return name == "OutOfMemoryError" or "out of memory" in str(error).lower()


def _describe(error: BaseException) -> str:
    lines = traceback.format_exception(error)
    tail = "".join(lines[-6:]).strip()
    return f"{type(error).__name__}: {error}\n{tail}"
