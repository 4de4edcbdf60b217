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

from kcnn.config import FIELD_NAMES, stored_config_problem
from kcnn.contract import run_metrics
from kcnn.store import Run, Store

FORMATS = ("csv", "json")
#: A run's own columns in the export, around the run contract's metrics (`run_columns`).
LEADING_COLUMNS = ("id", "state", "seed", "fold", "config_key", "epochs_done", "epochs_total", "best_val_accuracy",
                   "final_val_accuracy", "train_seconds", "images_per_second")  # fmt: skip
TRAILING_COLUMNS = ("key_version", "attempt", "retries", "error_kind", "keep", "created", "started", "finished")


def run_columns() -> list[str]:
    """The export's run columns: the run's own, then every metric of the run contract, then bookkeeping."""
    return [*LEADING_COLUMNS, *(metric.name for metric in run_metrics()), *TRAILING_COLUMNS]


class _ConfigColumns:
    """Flattens stored config JSON into ``config.NAME`` columns (every field but the seed), each text parsed once.

    Runs of one configuration differ only by seed, which is not a column here: one parse serves them all.
    A damaged config (`kcnn.config.stored_config_problem`) gets empty cells and says why in ``config_problem``.
    """

    def __init__(self) -> None:
        self.names = [name for name in FIELD_NAMES if name != "seed"]
        self._cache: dict[tuple[str, str], list[Any]] = {}

    def values(self, config_key: str, config_json: str) -> list[Any]:
        cached = self._cache.get((config_key, config_json))
        if cached is None:
            problem = stored_config_problem(config_json, config_key)
            data = {} if problem else json.loads(config_json)
            cached = [_flat(data.get(name)) for name in self.names] + [problem]
            self._cache[(config_key, config_json)] = cached
        return cached


def _flat(value: Any) -> Any:
    """A config value as a CSV cell: lists are written in full (``2,2``), the stored data, not its display form."""
    return ",".join(map(str, value)) if isinstance(value, list) else value


def run_table(runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: one row per run, its columns then every hyperparameter as ``config.NAME``."""
    configs = _ConfigColumns()
    columns = run_columns()
    rows = [
        [run.metrics[column] if column in run.metrics else getattr(run, column) for column in columns]
        + configs.values(run.config_key, run.config)
        for run in runs
    ]
    return [*columns, *(f"config.{name}" for name in configs.names), "config_problem"], rows


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
