"""Training, queueing and the store's upkeep through the facade."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from kcnn.api.checks import config_argument
from kcnn.api.workspace import StoreLike, engine_store
from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunResult
from kcnn.errors import RunFailed
from kcnn.files import remove_stale_scratch, scratch_folder
from kcnn.queue.settings import CHECKPOINT_SECONDS
from kcnn.queue.sweep import SweepSpec
from kcnn.store import Store
from kcnn.store.retention import DEFAULT_KEEP

if TYPE_CHECKING:
    from kcnn.data.report import FolderReport
    from kcnn.queue.enqueue import QueueReport
    from kcnn.store.upgrade import StoreInfo, UpgradeReport


def check_setup(config: ExperimentConfig, device: str = "auto") -> None:
    """Check that `config` can train here (device, precision, dataset, memory) without loading anything big.

    Raises:
        DeviceError: If the device or the config's precision is not available.
        DataError: If the dataset cannot be found (its other problems are listed when training decodes it).
        ConfigError: If training it cannot fit this machine's memory.
    """
    from kcnn.data import locate_dataset
    from kcnn.queue.memory import check_fits, dataset_images
    from kcnn.training.train import prepare_device

    prepare_device(device, config.precision)
    locate_dataset(config.dataset)  # a folder's problems are listed together when it is decoded
    check_fits(config, dataset_images(config.dataset))


def train(
    config: ExperimentConfig,
    *,
    store: StoreLike | str | os.PathLike[str] | None = None,
    progress: bool = True,
    device: str = "auto",
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    on_start: Callable[[int], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    keep: str = DEFAULT_KEEP,
) -> RunResult:
    """Train `config` in this process, recorded in `store` like any run, and return what it measured.

    Args:
        config: The experiment (an ``auto`` colour mode is resolved first).
        store: A store, or its folder. Defaults to a temporary store that is deleted afterwards.
        progress: Print one line per epoch. Defaults to `True`.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``. Defaults to ``auto``.
        checkpoint_seconds: Seconds of training between checkpoints (0: every epoch).
        on_start: Called with the run id once the run is recorded and claimed.
        on_epoch: Called with each finished epoch's record.
        keep: The model files the run keeps once done: ``final+best`` (default), ``final``, ``best``, ``all``
            (its last checkpoint too) or ``none``.

    Raises:
        ConfigError, DataError, DeviceError: For a config (or something that is not one), dataset or device
            that cannot be used.
        RunFailed: If the run did not finish (its store record says why).
    """
    from kcnn.queue.foreground import train_in_foreground
    from kcnn.queue.runner import Outcome

    config = config_argument(config, "train")

    def report(record: EpochRecord) -> None:
        if on_epoch is not None:
            on_epoch(record)
        if progress:
            print(
                f"epoch {record.epoch}/{config.epochs}  loss {record.loss:.4f}  val acc {record.val_accuracy:.2%}",
                flush=True,
            )

    remove_stale_scratch()  # what killed kcnn processes left in the temporary folder
    with scratch_folder("kcnn-train-") as scratch:
        opened = None
        if store is None or isinstance(store, str | os.PathLike):
            opened = Store(store if store is not None else Path(scratch) / "store")
            engine = opened
        else:
            engine = engine_store(store)
        try:
            run = train_in_foreground(
                engine,
                config,
                device=device,
                checkpoint_seconds=checkpoint_seconds,
                on_start=on_start,
                on_epoch=report,
                keep=keep,
            )
        finally:
            if opened is not None:
                opened.close()
    execution = run.execution
    if execution.outcome is not Outcome.DONE:
        kind = execution.error_kind.value if execution.error_kind else execution.outcome.value
        first_line = execution.message.splitlines()[0] if execution.message else ""
        if execution.outcome is Outcome.REQUEUED and store is not None:  # say what the store says
            raise RunFailed(
                f"run {run.run_id} stopped ({kind}: {first_line}); the store's retry policy put it back in the "
                f"queue: `kcnn worker` resumes it from its last checkpoint, `kcnn queue cancel {run.run_id}` "
                "drops it.",
                run.run_id,
                kind,
            )
        raise RunFailed(f"run {run.run_id} failed ({kind}): {first_line}", run.run_id, kind)
    assert execution.result is not None
    return execution.result


def queue_sweep(store: StoreLike | None, spec: SweepSpec, *, skip_invalid: bool = False) -> QueueReport:
    """Queue every run of a sweep in one streaming transaction (no store: a dry run that only counts).

    10⁵ runs take seconds and memory that does not grow with them (`kcnn.queue.enqueue`); either all are
    queued or none.

    Raises:
        ConfigError: For a malformed sweep, or one over `SweepSpec.max_runs` (nothing built).
        InvalidSweep: If grid points are invalid and `skip_invalid` is False; `.invalid` lists them all.
        DataError: If a dataset cannot be used.
    """
    from kcnn.queue.enqueue import queue_sweep as stream

    return stream(None if store is None else engine_store(store), spec, skip_invalid=skip_invalid)


def prepare_configs(configs: Iterable[ExperimentConfig]) -> list[ExperimentConfig]:
    """The configs as the store will hold them: datasets checked, ``auto`` colour modes resolved.

    Raises:
        DataError: If a dataset cannot be found or used.
    """
    from kcnn.queue.submit import prepare_configs as prepare

    return prepare(configs)


def dataset_classes(dataset: str) -> int | None:
    """The number of classes of a built-in dataset (known without loading it); `None` for a folder."""
    from kcnn.data import builtin_class_count

    return builtin_class_count(dataset)


def store_info(path: str | os.PathLike[str] | None = None) -> StoreInfo:
    """A store at a glance: path, schema version, runs by state, sizes by kind, the largest runs.

    Also the decoded-image cache this machine's stores share. Any schema version; changes nothing.
    """
    from kcnn.data.cache import cache_dir
    from kcnn.store.upgrade import store_info as info

    cache = cache_dir()
    cached = sum(entry.stat().st_size for entry in cache.rglob("*") if entry.is_file()) if cache.is_dir() else 0
    return dataclasses.replace(info(Path(path) if path is not None else None), data_cache=cache,
                               data_cache_bytes=cached)  # fmt: skip


def upgrade_store(path: str | os.PathLike[str] | None = None) -> UpgradeReport:
    """Back the store up, then bring it to this kcnn's schema and re-key its runs, in one transaction."""
    from kcnn.store.upgrade import upgrade_store as upgrade

    return upgrade(Path(path) if path is not None else None)


def folder_report(path: str | os.PathLike[str]) -> FolderReport:
    """What kcnn sees in an image folder: classes, counts, sizes, modes, every problem, cache entries.

    Never refuses a folder it can list: empty classes, missing classes and unreadable files are in
    ``problems`` (and unreadable files in ``unreadable``).

    Raises:
        DataError: If the folder is missing or cannot be listed.
    """
    from kcnn.data.report import folder_report as report

    return report(str(path))
