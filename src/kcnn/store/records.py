"""The store's row types: `Run` (one row of ``runs``), `Claim` (a worker's right to write one attempt), `AddResult`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

from kcnn.config import ExperimentConfig, stored_config_problem
from kcnn.contract import MetricValue, run_metrics
from kcnn.errors import ConfigError
from kcnn.store.states import RunState
from kcnn.throughput import training_flops_per_second

#: The class names a run trained on, in label order, in its artifacts folder beside the model.
CLASSES_FILE = "classes.json"


@dataclass(frozen=True)
class Claim:
    """The right of one worker to write one attempt of one run."""

    run_id: int
    attempt: int
    worker_id: str
    config_json: str
    checkpoint_epoch: int
    checkpoint: str | None = None
    """File name (in the run's artifacts folder) of the checkpoint to resume from."""
    config_key: str | None = None
    """The key the run was queued under; the config must still match it."""
    keep: str = "final+best"
    """What the run keeps once done (`kcnn.store.retention.KEEP_POLICIES`)."""

    @property
    def config(self) -> ExperimentConfig:
        """The run's config.

        Raises:
            ConfigError: If it no longer validates, or no longer matches its key (a row edited or damaged):
                training it would record results under a configuration they are not from.
        """
        problem = stored_config_problem(self.config_json, self.config_key)
        if problem is not None:
            raise ConfigError(f"the stored config cannot be trained: {problem}")
        return ExperimentConfig.from_json(self.config_json)


@dataclass(frozen=True)
class Run:
    """One run: a row of the ``runs`` table."""

    id: int
    config: str
    config_key: str
    seed: int
    state: str
    priority: int
    attempt: int
    retries: int
    max_attempts: int
    worker_id: str | None
    lease_expires: float | None
    created: float
    started: float | None
    finished: float | None
    heartbeat: float | None
    epochs_total: int
    epochs_done: int
    checkpoint_epoch: int
    checkpoint: str | None
    model: str | None
    best_val_accuracy: float | None
    final_val_accuracy: float | None
    train_seconds: float | None
    images_per_second: float | None
    params: int | None
    flops_per_image: int | None
    device: str | None
    error_kind: str | None
    error_message: str | None
    source: str
    device_name: str | None = None
    peak_flops: float | None = None
    train_loop: str | None = None
    key_version: int = 1
    precision: str | None = None
    dataset_fingerprint: str | None = None
    train_loop_reason: str | None = None
    fold: int = 0
    """The fold the run validates on, under cross-validation (``folds`` in its config); 0 otherwise."""
    test_accuracy: float | None = None
    """The final model's accuracy on the run's test set (runs queued with ``test_split``)."""
    best_test_accuracy: float | None = None
    """The best-epoch model's accuracy on the run's test set."""
    study_id: int | None = None
    """The study (race or Optuna study) that queued the run, if any."""
    trial: int | None = None
    """The Optuna trial number of a study's run."""
    keep: str = "final+best"
    """What the run keeps once done: ``final+best``, ``final``, ``best``, ``all`` or ``none`` (``--keep``)."""
    metrics: dict[str, MetricValue] = field(default_factory=dict, compare=False)
    """Every metric of the run contract (`kcnn.contract.run_metrics`) by name, the built-in ones above included:
    a metric added to the contract is here (and in every export) without a field of its own."""
    artifacts: Path | None = field(default=None, compare=False, repr=False)
    """The store's artifacts folder (set by the store that read the run; not a column)."""

    @property
    def flops_per_second(self) -> float | None:
        """Achieved training FLOP/s (3× forward FLOPs per image × images per second)."""
        return training_flops_per_second(self.flops_per_image, self.images_per_second)

    @property
    def run_state(self) -> RunState:
        """The state as an enum."""
        return RunState(self.state)

    @property
    def config_dict(self) -> dict[str, Any]:
        """The config as stored (not re-validated); empty when the stored text is not a JSON object."""
        return stored_config_dict(self.config)

    @property
    def config_problem(self) -> str | None:
        """Why the stored config is damaged or no longer validates, in one line; `None` when it is usable."""
        return stored_config_problem(self.config, self.config_key)

    @property
    def experiment_config(self) -> ExperimentConfig | None:
        """The config, validated; `None` if it is damaged or no longer validates with this kcnn."""
        return None if self.config_problem else ExperimentConfig.from_json(self.config)

    @property
    def folder(self) -> Path | None:
        """The run's artifacts folder, when the run was read from a store."""
        return self.artifacts / str(self.id) if self.artifacts is not None else None

    @property
    def model_path(self) -> Path | None:
        """The final model file of a finished run, when it has one."""
        folder = self.folder
        return folder / self.model if folder is not None and self.model else None

    @property
    def best_model_path(self) -> Path | None:
        """The best epoch's model of a finished run (``best-a<attempt>.keras``), when it has one."""
        folder = self.folder
        if folder is None or not self.model:
            return None
        found = sorted(folder.glob("best-a*.keras"), key=lambda path: path.stat().st_mtime_ns)
        return found[-1] if found else None

    def to_dict(self) -> dict[str, Any]:
        """Every column (every metric of the contract included), the config parsed."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_COLUMNS}
        data.update(self.metrics)
        data["config"] = self.config_dict
        return data


@dataclass(frozen=True, slots=True)
class NewRun:
    """One run to add, already serialized: what `Store.add_new_runs` streams (no config object per seed)."""

    config_json: str
    """The config's canonical JSON (`ExperimentConfig.to_json`), seed included."""
    config_key: str
    seed: int
    epochs: int
    precision: str
    fold: int = 0
    trial: int | None = None
    """The Optuna trial a study's run belongs to (set by the study that queues it)."""

    @classmethod
    def of(cls, config: ExperimentConfig) -> NewRun:
        """The new run of `config`."""
        return cls(config.to_json(), config.config_key, config.seed, config.epochs, config.precision, config.fold)

    @property
    def repeat(self) -> tuple[str, int, int]:
        """What makes a run unique in the store: its config key, seed and fold."""
        return (self.config_key, self.seed, self.fold)


@dataclass(frozen=True)
class AddResult:
    """What happened to one config+seed (+fold) given to `Store.add_runs`."""

    run_id: int
    created: bool
    """False if a run with the same config, seed and fold already existed."""


def stored_config_dict(text: str) -> dict[str, Any]:
    """A stored config's JSON object, or an empty one when the text is damaged (not JSON, or not an object)."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


#: `Run` fields that are not columns of ``runs``.
_NOT_COLUMNS = ("metrics", "artifacts")


def run_columns() -> list[str]:
    """The columns a `Run` is read from: its own fields, then the contract's metrics that are not among them."""
    own = [f.name for f in fields(Run) if f.name not in _NOT_COLUMNS]
    return own + [metric.name for metric in run_metrics() if metric.name not in own]


def run_from_row(row: Any, artifacts: Path | None, columns: list[str] | None = None) -> Run:
    """A `Run` from a row of `run_columns()` (read by name), knowing where the store keeps artifacts."""
    return run_reader(columns or run_columns(), artifacts)(row)


def run_reader(columns: list[str], artifacts: Path | None) -> Callable[[Sequence[Any]], Run]:
    """Turns rows of `columns` into `Run`s; the columns are matched to fields once, not once per row."""
    own = {f.name for f in fields(Run)}
    positions = [(name, index) for index, name in enumerate(columns) if name in own]
    metrics = [(metric.name, columns.index(metric.name)) for metric in run_metrics() if metric.name in columns]

    def read(row: Sequence[Any]) -> Run:
        values = {name: row[index] for name, index in positions}
        return Run(**values, metrics={name: row[index] for name, index in metrics}, artifacts=artifacts)

    return read


class FinishedRun(NamedTuple):
    """A done run as the reports group it: its config, seed, fold, accuracies, time and metrics.

    A named tuple, not a dataclass: the leaderboard reads 10⁴ of them at a time, and a tuple is made fastest.
    """

    run_id: int
    config: str
    """The config's stored JSON."""
    config_key: str
    seed: int
    best_val_accuracy: float | None
    final_val_accuracy: float | None
    train_seconds: float | None
    epochs_done: int
    fold: int
    best_test_accuracy: float | None
    test_accuracy: float | None
    metrics: dict[str, MetricValue] = {}  # noqa: RUF012 - a NamedTuple default, never mutated
    """Every numeric metric of the run contract by name (what the leaderboard averages)."""
