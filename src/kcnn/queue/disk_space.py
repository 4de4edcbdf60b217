"""Is there room on the disk for a run's files? Checked after each claim, before any training.

A run writes its resume checkpoint (weights and the optimizer's two moments: about 3× the weights), a
second one beside it before the first is removed, then its final and best models (weights only): about 8×
its weights at the peak, plus `MARGIN`. When the store's artifacts folder has less free space than that, the
worker gives the run back (not counted as a failure), says so in one line — the folder, the space needed,
and ``kcnn store prune`` — and stops claiming; runs it already holds finish. A write that fails anyway is
`kcnn.errors.StoreFull`'s business (the run is given back at its last checkpoint).

``KCNN_FAKE_FREE_BYTES`` (tests only) makes the probe report that many free bytes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kcnn.config import ExperimentConfig
from kcnn.errors import ConfigError, KcnnError

FAKE_FREE_VARIABLE = "KCNN_FAKE_FREE_BYTES"
#: Weights' worth of bytes a run holds on disk at its peak (two checkpoints with Adam's moments, two models).
WEIGHT_COPIES = 8
#: Room kept free beyond a run's files (the database's growth, logs, the data cache's next entry).
MARGIN = 64 * 2**20


class LowDiskSpace(KcnnError):
    """The disk holding the store has no room for the next run's files: the worker stops claiming."""


def free_bytes(folder: Path) -> int:
    """Free bytes on the disk holding `folder` (or its nearest existing parent)."""
    fake = os.environ.get(FAKE_FREE_VARIABLE)
    if fake is not None:
        return int(fake)
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def bytes_needed(config: ExperimentConfig) -> int:
    """The disk a run of `config` needs at its peak (`WEIGHT_COPIES` × its weights, plus `MARGIN`)."""
    try:
        weights = 4 * config.plan(num_classes=2).params
    except ConfigError:  # an impossible config fails before it writes anything
        weights = 0
    return WEIGHT_COPIES * weights + MARGIN


def space_problem(folder: Path, runs: list[tuple[int, ExperimentConfig]]) -> str | None:
    """One line when the disk holding `folder` cannot take the files of `runs` (``(run id, config)``); else `None`."""
    if not runs:
        return None
    free, needed = free_bytes(folder), sum(bytes_needed(config) for _, config in runs) - MARGIN * (len(runs) - 1)
    if free >= needed:
        return None
    if len(runs) == 1:
        which = f"run {runs[0][0]} needs about {needed / 1e6:,.0f} MB for its"
    else:
        listed = ", ".join(str(run_id) for run_id, _ in runs)
        which = f"runs {listed} (to train as one program) need about {needed / 1e6:,.0f} MB for their"
    return (
        f"the disk holding {folder} has {free / 1e6:,.0f} MB free, and {which} model files: free some space "
        "(`kcnn store prune --keep-top 5` removes the model files of all but the 5 best configurations) and start "
        "the worker again"
    )
