"""Export runs and per-epoch histories as CSV or JSON, one row per run or per epoch (what pandas loads).

Built for large stores: each distinct config is parsed once, rows are plain
lists, and JSON is written compactly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from kcnn.store import Run, Store

FORMATS = ("csv", "json")
RUN_COLUMNS = (
    "id", "state", "seed", "config_key", "epochs_done", "epochs_total", "best_val_accuracy", "final_val_accuracy",
    "train_seconds", "images_per_second", "params", "flops_per_image", "device", "device_name", "train_loop",
    "train_loop_reason", "precision", "peak_flops", "dataset_fingerprint", "key_version", "attempt", "retries",
    "error_kind", "created", "started", "finished",
)  # fmt: skip


class _ConfigColumns:
    """Flattens stored config JSON into ``config.NAME`` columns, parsing each configuration once.

    Runs with one config key differ only by seed, which is not a column here: one parse serves them all.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self._cache: dict[str, list[Any]] = {}

    def values(self, config_key: str, config_json: str) -> list[Any]:
        cached = self._cache.get(config_key)
        if cached is None:
            data = {k: v for k, v in json.loads(config_json).items() if k != "seed"}
            if not self.names:
                self.names = sorted(data)
            cached = [_flat(data.get(name)) for name in self.names]
            self._cache[config_key] = cached
        return cached


def _flat(value: Any) -> Any:
    """A config value as a CSV cell: lists are written in full (``2,2``), the stored data, not its display form."""
    return ",".join(map(str, value)) if isinstance(value, list) else value


def run_table(runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: one row per run, its columns then every hyperparameter as ``config.NAME``."""
    configs = _ConfigColumns()
    rows = [
        [getattr(run, column) for column in RUN_COLUMNS] + configs.values(run.config_key, run.config) for run in runs
    ]
    return [*RUN_COLUMNS, *(f"config.{name}" for name in configs.names)], rows


def export_epochs(store: Store, fmt: str, states: Sequence[str] | None = None) -> str:
    """One row per recorded epoch: run id, config key, seed, state and the epoch's metrics.

    Hyperparameters are not repeated on every epoch: join with the run export on ``run_id``.
    """
    if fmt == "json":
        return store.epoch_export_json(states) + "\n"
    return render(*store.epoch_export_rows(states), "csv")


def render(header: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """CSV text, or a compact JSON array of objects."""
    if fmt == "json":
        return json.dumps([dict(zip(header, row, strict=True)) for row in rows], separators=(",", ":")) + "\n"
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def export_runs(runs: Sequence[Run], fmt: str) -> str:
    """One row per run: state, metrics, and every hyperparameter."""
    return render(*run_table(runs), fmt)
