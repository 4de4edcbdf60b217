"""Train one config in the caller's process, recorded in the store like any queued run.

`kcnn train` and the Python API's `kcnn.train` both use `train_in_foreground`: the run is added,
claimed by this process and executed by the same runner as a worker's, so it has epochs, events,
checkpoints and a final model like every other run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kcnn.config import ExperimentConfig
from kcnn.errors import KcnnError
from kcnn.queue.runner import CHECKPOINT_SECONDS, Execution, RunSettings, execute_claim
from kcnn.queue.submit import prepare_configs
from kcnn.store import FailureKind, Store
from kcnn.store.retention import DEFAULT_KEEP


@dataclass(frozen=True)
class ForegroundRun:
    """A run trained in the foreground: its id and how it ended (the result holds the config as stored)."""

    run_id: int
    execution: Execution


def train_in_foreground(
    store: Store,
    config: ExperimentConfig,
    *,
    device: str = "auto",
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    on_start: Callable[[int], None] | None = None,
    on_epoch: Callable[[Any], None] | None = None,
    keep: str = DEFAULT_KEEP,
) -> ForegroundRun:
    """Add `config` as a run, claim it and train it here.

    The dataset is checked and decoded before the run exists: unreadable files stop here, with their list.

    Args:
        store: The store to record the run in.
        config: The experiment (an ``auto`` colour mode is resolved first).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``. Defaults to ``auto``.
        checkpoint_seconds: Seconds between checkpoints (0: every epoch).
        on_start: Called with the run id once the run is claimed.
        on_epoch: Called with each finished `EpochRecord`.
        keep: What the run keeps once done (`kcnn.store.retention.KEEP_POLICIES`).

    Raises:
        DataError: If the dataset cannot be used.
        DeviceError: If the device or precision is not available.
    """
    from kcnn.data import load_dataset
    from kcnn.training.train import prepare_device

    device, _ = prepare_device(device, config.precision)
    # Decoded first, so a folder's every problem (classes and unreadable files) is refused in one list;
    # the resolved colour mode then settles an `auto` config without reading the headers again.
    dataset = load_dataset(config.dataset, config.input_size, config.color_mode, config.resize, config.skip_bad)
    if config.color_mode == "auto":
        config = config.replace(color_mode=dataset.color_mode)
    [config] = prepare_configs([config])
    [added] = store.add_runs([config], source="train", dedupe=False, keep=keep)
    claim = store.claim(f"{socket.gethostname()}:{os.getpid()}:train", run_id=added.run_id)
    if claim is None:  # pragma: no cover - the run was created queued a moment ago
        raise KcnnError(f"Run {added.run_id} was claimed by a worker before it could start here.")
    if on_start is not None:
        try:
            on_start(claim.run_id)
        except BaseException as error:  # a caller that cannot even report the run must not leave it claimed
            store.fail(claim, FailureKind.INTERRUPTED, f"stopped before training: {type(error).__name__}: {error}")
            raise
    settings = RunSettings(device=device, checkpoint_seconds=checkpoint_seconds)
    execution = execute_claim(store, claim, settings, on_epoch=on_epoch, dataset=dataset)
    return ForegroundRun(claim.run_id, execution)
