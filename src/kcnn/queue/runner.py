"""Execute one claimed run: heartbeats, checkpoints, store writes, failure kinds.

Used by worker children and by `kcnn train` (which claims its own run and
executes it in the foreground). Every store write is fenced by the claim.
"""

from __future__ import annotations

import enum
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcnn.errors import ConfigError, DataError, DeviceError, LeaseLost
from kcnn.store import Claim, FailureKind, Store, atomic_link, atomic_write

CHECKPOINT_PATTERN = "checkpoint-e{epoch}-a{attempt}.keras"
MODEL_PATTERN = "model-a{attempt}.keras"
CHECKPOINT_SECONDS = 10.0
"""Default for `checkpoint_seconds`: a crash or stop loses at most this much training (plus the epoch
in progress), while runs with short epochs skip most `.keras` saves (50–60 ms each for the default
model on the development machine)."""


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


@dataclass
class Execution:
    """The result of executing one claim."""

    outcome: Outcome
    result: Any = None
    """The `RunResult` when done."""
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

    def progress(self) -> None:
        """Note that a training step finished."""
        self.last_progress = time.monotonic()

    def run(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        with Store(self.store_path) as store:
            while not self.finished.wait(interval):
                if self.stall_seconds and time.monotonic() - self.last_progress > self.stall_seconds:
                    # A hung step (e.g. a wedged CUDA context) cannot be interrupted from Python:
                    # end the process; its supervisor records the crash and requeues the run.
                    os._exit(75)
                try:
                    store.heartbeat(self.claim, self.lease_seconds)
                except LeaseLost:
                    self.lost.set()
                    return


def execute_claim(
    store: Store,
    claim: Claim,
    device: str = "auto",
    precision: str = "float32",
    lease_seconds: float = 60.0,
    stop: threading.Event | None = None,
    on_epoch: Callable[[Any], None] | None = None,
    stall_seconds: float | None = None,
    dataset: Any = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
) -> Execution:
    """Train the claimed run to the end, or until stopped, recording everything in the store.

    Args:
        store: The store (this thread's connection).
        claim: The claim to execute.
        device: Torch device spec. Defaults to ``auto``.
        precision: Keras dtype policy. Defaults to ``float32``.
        lease_seconds: Lease length; heartbeats renew it every third of it.
        stop: When set, the current epoch is abandoned and the run goes back to the queue.
        on_epoch: Called with each finished `EpochRecord`.
        stall_seconds: End the process if no training step finishes for this long.
        dataset: An already loaded `ImageSet` to train on instead of loading ``config.dataset``.
        checkpoint_seconds: Checkpoint after an epoch once this much time has passed since the
            last checkpoint (or the start); 0: after every epoch. The last epoch is always
            checkpointed, and that checkpoint becomes the final model.

    Returns:
        How the execution ended.
    """
    stop = stop or threading.Event()
    folder = store.run_folder(claim.run_id)
    try:
        config = claim.config
    except ConfigError as error:
        return _fail(store, claim, FailureKind.INVALID_CONFIG, str(error))

    heartbeat = _Heartbeat(store.path, claim, lease_seconds, stall_seconds)
    heartbeat.start()
    last_model: list[Any] = []
    checkpoint_of_last_epoch: list[Path] = []
    last_saved = [time.monotonic()]

    def after_epoch(record: Any, model: Any) -> None:
        last_model[:] = [model]
        checkpoint_of_last_epoch.clear()
        if not checkpoint_due(record.epoch, config.epochs, time.monotonic() - last_saved[0], checkpoint_seconds):
            store.record_epoch(claim, record.to_dict())
            return
        # File names carry the attempt: a worker presumed dead can never overwrite its successor's files.
        path = folder / CHECKPOINT_PATTERN.format(epoch=record.epoch, attempt=claim.attempt)
        atomic_write(path, lambda temporary: model.save(temporary))
        store.record_epoch(claim, record.to_dict(), checkpoint=path.name)
        for old in folder.glob(f"checkpoint-e*-a{claim.attempt}.keras"):
            if old != path:
                old.unlink(missing_ok=True)
        checkpoint_of_last_epoch[:] = [path]
        last_saved[0] = time.monotonic()

    def on_batch(epoch: int, batch: int, batches: int) -> None:
        heartbeat.progress()

    resume_from = folder / claim.checkpoint if claim.checkpoint else None
    resuming = claim.checkpoint_epoch > 0 and resume_from is not None and resume_from.exists()
    from kcnn.training.callbacks import StopRequested
    from kcnn.queue.faults import fault_callbacks
    from kcnn.training.train import DivergedError, train

    try:
        result = train(
            config,
            device=device,
            precision=precision,
            on_epoch=on_epoch,
            on_batch=on_batch,
            after_epoch=after_epoch,
            should_stop=lambda: stop.is_set() or heartbeat.lost.is_set(),
            resume_from=resume_from if resuming else None,
            initial_epoch=claim.checkpoint_epoch if resuming else 0,
            extra_callbacks=fault_callbacks(config.seed),
            dataset=dataset,
        )
        if result.skipped_files:
            listed = "; ".join(f"{path} ({reason})" for path, reason in result.skipped_files)
            store.note(claim, "skipped_files", f"{len(result.skipped_files)} unreadable file(s) left out: {listed}")
        model_name = None
        if last_model:
            model_name = MODEL_PATTERN.format(attempt=claim.attempt)
            # The last epoch's checkpoint already holds the final model: name it, don't save it again.
            linked = checkpoint_of_last_epoch and atomic_link(checkpoint_of_last_epoch[0], folder / model_name)
            if not linked:
                atomic_write(folder / model_name, lambda temporary: last_model[0].save(temporary))
        store.finish(claim, result.summary, model=model_name)
        if last_model:  # the final model holds the same weights; keep one copy
            for checkpoint in folder.glob("checkpoint-*.keras"):
                checkpoint.unlink(missing_ok=True)
        return Execution(Outcome.DONE, result=result)
    except (LeaseLost, StopRequested) as error:
        if heartbeat.lost.is_set() or isinstance(error, LeaseLost):
            return Execution(Outcome.LOST, message=str(error))
        try:
            store.release(claim, "worker stopped")
        except LeaseLost:
            return Execution(Outcome.LOST)
        return Execution(Outcome.REQUEUED, error_kind=FailureKind.INTERRUPTED, message=str(error))
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
        kind = FailureKind.OUT_OF_MEMORY if _is_out_of_memory(error) else FailureKind.CRASHED
        return _fail(store, claim, kind, _describe(error))
    finally:
        heartbeat.finished.set()
        heartbeat.join(timeout=5)


def _fail(store: Store, claim: Claim, kind: FailureKind, message: str) -> Execution:
    try:
        state = store.fail(claim, kind, message)
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
