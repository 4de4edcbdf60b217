"""The Python API: the one facade the CLI, the TUI and notebooks reach the engine through.

Everything here is typed and documented, and stays stable; modules not re-exported by `kcnn` are
internal. Importing this module is cheap: keras and torch load only when a model is trained or loaded.

Example:
    >>> import kcnn
    >>> config = kcnn.ExperimentConfig(input_size=16, channels=(4,), dense_units=8, epochs=1)
    >>> with kcnn.open_store("kcnn-runs") as store:
    ...     result = kcnn.train(config, store=store, progress=False)
    ...     store.queue([config.replace(kernel_size=2)], repeats=3)
    ...     board = kcnn.leaderboard(store)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcnn.config import ExperimentConfig
from kcnn.errors import KcnnError, StoreError, TrainingError
from kcnn.queue.sweep import Expansion, SweepSpec, load_sweep
from kcnn.queue.sweep import expand as expand_sweep
from kcnn.reports.comparison import Comparison, find_summary
from kcnn.reports.comparison import compare as compare_summaries
from kcnn.reports.grouping import (
    ConfigSummary,
    EffectCell,
    Excluded,
    apply_filters,
    load_points,
    parse_filters,
)
from kcnn.reports.grouping import effects as effect_cells
from kcnn.reports.grouping import leaderboard as rank_summaries
from kcnn.store import AddResult, Run, Store, default_store_path

if TYPE_CHECKING:
    import keras
    import pandas

    from kcnn.training.train import RunResult

__all__ = [
    "Comparison",
    "ConfigSummary",
    "Expansion",
    "KcnnStore",
    "Run",
    "SweepSpec",
    "compare",
    "dataset_classes",
    "effects",
    "expand_sweep",
    "leaderboard",
    "live_workers",
    "load_model",
    "load_sweep",
    "open_store",
    "train",
]


class KcnnStore(Store):
    """A `Store` with the conveniences of the Python API: queueing with repeats and a pandas frame."""

    def queue(
        self,
        configs: ExperimentConfig | Iterable[ExperimentConfig],
        repeats: int = 1,
        priority: int = 0,
        max_attempts: int = 3,
    ) -> list[AddResult]:
        """Queue configs for `kcnn worker`, each with `repeats` seeds (seed, seed + 1, …).

        Datasets are checked and ``auto`` colour modes resolved first; a config+seed already in the
        store is not added again (its `AddResult.created` is False).

        Raises:
            ConfigError: If `repeats` is below 1.
            DataError: If a dataset cannot be used.
        """
        from kcnn.errors import ConfigError
        from kcnn.queue.submit import prepare_configs

        if repeats < 1:
            raise ConfigError(f"`repeats` must be at least 1; got {repeats}.")
        items = [configs] if isinstance(configs, ExperimentConfig) else list(configs)
        expanded = [config.replace(seed=config.seed + offset) for config in items for offset in range(repeats)]
        return self.add_runs(prepare_configs(expanded), priority=priority, max_attempts=max_attempts)

    def runs_frame(self, state: str | Sequence[str] | None = None) -> pandas.DataFrame:
        """Every run as a pandas DataFrame: one row per run, config fields as columns.

        Raises:
            KcnnError: If pandas is not installed (``pip install 'kcnn[pandas]'``).
        """
        try:
            import pandas
        except ImportError:
            raise KcnnError("`runs_frame` needs pandas: pip install 'kcnn[pandas]'.") from None
        from kcnn.reports.export import run_table

        header, rows = run_table(self.runs(state))
        return pandas.DataFrame(rows, columns=header)


def open_store(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> KcnnStore:
    """Open the store folder `path` (``$KCNN_STORE`` or ``./kcnn-runs`` by default).

    Args:
        path: The store folder.
        create: Create it when missing. Defaults to `True`; pass `False` to only read.

    Raises:
        StoreError: If it cannot be opened, or its schema needs ``kcnn store upgrade``.
    """
    return KcnnStore(path if path is not None else default_store_path(), create=create)


def train(
    config: ExperimentConfig, *, store: Store | str | os.PathLike[str] | None = None, progress: bool = True
) -> RunResult:
    """Train `config` in this process, recorded in `store` like any run, and return what it measured.

    Args:
        config: The experiment.
        store: A store, or its folder. Defaults to a temporary store that is deleted afterwards.
        progress: Print one line per epoch. Defaults to `True`.

    Raises:
        ConfigError, DataError, DeviceError: For a config, dataset or device that cannot be used.
        TrainingError: If the run did not finish (its store record says why).
    """
    from kcnn.queue.foreground import train_in_foreground
    from kcnn.queue.runner import Outcome

    def report(record: Any) -> None:
        print(
            f"epoch {record.epoch}/{config.epochs}  loss {record.loss:.4f}  val acc {record.val_accuracy:.2%}",
            flush=True,
        )

    on_epoch = report if progress else None
    with tempfile.TemporaryDirectory(prefix="kcnn-train-") as scratch:
        opened = None
        if not isinstance(store, Store):
            opened = Store(store if store is not None else Path(scratch) / "store")
        try:
            run = train_in_foreground(opened or store, config, on_epoch=on_epoch)  # type: ignore[arg-type]
        finally:
            if opened is not None:
                opened.close()
    execution = run.execution
    if execution.outcome is not Outcome.DONE:
        kind = execution.error_kind.value if execution.error_kind else execution.outcome.value
        first_line = execution.message.splitlines()[0] if execution.message else ""
        raise TrainingError(f"Run {run.run_id} did not finish ({kind}): {first_line}")
    result: RunResult = execution.result
    return result


def leaderboard(
    store: Store, metric: str = "best", filters: Sequence[str] | dict[str, Any] = ()
) -> list[ConfigSummary]:
    """Configurations ranked by mean validation accuracy over their distinct seeds (best first).

    Args:
        store: The store.
        metric: ``best`` (best epoch) or ``final`` (last epoch) validation accuracy. Defaults to ``best``.
        filters: ``["dilation=2,1", "kernel=2"]``, or field → value. Defaults to none.
    """
    from kcnn.errors import ConfigError

    if metric not in ("best", "final"):
        raise ConfigError(f"`metric` must be best or final; got {metric!r}.")
    parsed = filters if isinstance(filters, dict) else parse_filters(filters)
    return rank_summaries(apply_filters(load_points(store.finished_metrics()), parsed), metric)


def excluded(store: Store) -> Excluded:
    """The runs the statistics leave out, counted by state."""
    return Excluded(store.count_by_state())


def compare(store: Store, a: str, b: str, metric: str = "best") -> Comparison:
    """Is configuration `a` really better than `b`? Welch's test and a verdict in words.

    Args:
        store: The store.
        a: A config key or a unique prefix of one.
        b: Another.
        metric: ``best`` or ``final``. Defaults to ``best``.

    Raises:
        KcnnError: If a key matches no configuration, or several.
    """
    summaries = leaderboard(store, metric)
    return compare_summaries(find_summary(summaries, a), find_summary(summaries, b))


def load_model(run: Run | int, store: Store | None = None) -> keras.Model:
    """The final Keras model of a finished run.

    Args:
        run: A `Run` (from `store.runs()`) or a run id (then `store` is needed).
        store: The store, when `run` is an id.

    Raises:
        StoreError: If the run has no final model (not done, or its file is gone).
    """
    if isinstance(run, int):
        if store is None:
            raise StoreError("`load_model` needs the store when given a run id: load_model(7, store).")
        run = store.get_run(run)
    path = run.model_path
    if path is None or not path.exists():
        raise StoreError(f"Run {run.id} has no final model ({run.state}); only done runs have one.")
    from kcnn.training.backend import import_keras

    return import_keras().saving.load_model(path)


def effects(store: Store, by: Sequence[str], metric: str = "best") -> list[EffectCell]:
    """Every finished run grouped by the values of one or two hyperparameters (an effect table's cells)."""
    return effect_cells(load_points(store.finished_metrics()), list(by), metric)


def live_workers(store: Store | str | os.PathLike[str]) -> list[Any]:
    """The worker supervisors alive on this store (pid, slots, start time), from its worker registry."""
    from kcnn.queue.registry import live_workers as registered

    return registered(store.path if isinstance(store, Store) else Path(store))


def dataset_classes(dataset: str) -> int | None:
    """The number of classes of a built-in dataset (known without loading it); `None` for a folder."""
    from kcnn.data import builtin_class_count

    return builtin_class_count(dataset)
