"""`Workspace`: a store as a user sees it — queue, cancel, retry, runs, reports, models, studies, workers.

It holds a `kcnn.store.Store` but never hands out the worker protocol (claims, heartbeats, fenced epoch
writes, study advances): those belong to workers, through their claim handles. Every method is one call of
the facade's functions (`kcnn.api`), which take a workspace or a store alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kcnn.api.checks import configs_argument, run_ids_argument, states_argument, whole_argument
from kcnn.config import ExperimentConfig, Value
from kcnn.errors import KcnnError
from kcnn.store import AddResult, Run, Store, Study, default_store_path
from kcnn.store.schema import MAX_INTEGER

if TYPE_CHECKING:
    import keras
    import pandas
    from rich.text import Text

    from kcnn.api.retention import PruneReport
    from kcnn.inference.evaluation import Prediction
    from kcnn.inference.export import ExportReport
    from kcnn.queue.enqueue import QueueReport
    from kcnn.queue.registry import WorkerInfo
    from kcnn.queue.sweep import SweepSpec
    from kcnn.reports.comparison import Comparison
    from kcnn.reports.confusion import Evaluation
    from kcnn.reports.effects import EffectAnalysis
    from kcnn.reports.grouping import ConfigSummary, EffectCell, Excluded
    from kcnn.reports.study_tables import StudySummary
    from kcnn.store.upgrade import StoreInfo

    #: A filter: ``["dilation=2,1", "kernel=2"]``, or field → value.
    Filters = Sequence[str] | Mapping[str, Value]


class Workspace:
    """One store, as a user works with it (a notebook, a script, the CLI and the TUI alike).

    Safe to use while workers train from the same store: every write is one transaction of the store's.

    Args:
        path: The store folder. Defaults to ``$KCNN_STORE`` or ``./kcnn-runs``.
        create: Create it when missing. Defaults to `True`; `False` only opens an existing one.

    Raises:
        StoreError: If it cannot be opened, or its schema needs ``kcnn store upgrade``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self._store = Store(path if path is not None else default_store_path(), create=create)

    @property
    def path(self) -> Path:
        """The store folder."""
        return self._store.path

    def close(self) -> None:
        """Close the store."""
        self._store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queueing -------------------------------------------------------------------

    def queue(
        self,
        configs: ExperimentConfig | Iterable[ExperimentConfig],
        repeats: int = 1,
        priority: int = 0,
        max_attempts: int = 3,
        keep: str = "final+best",
    ) -> list[AddResult]:
        """Queue configs for `kcnn worker`, each with `repeats` seeds (seed, seed + 1, …).

        A config with ``folds`` K > 1 queues every fold of every seed (K runs per seed), as ``kcnn queue add
        --folds K`` does. Datasets are checked and ``auto`` colour modes resolved first; a config+seed (+fold)
        already in the store is not added again (its `AddResult.created` is False). `keep` is what each run
        keeps once done: ``final+best`` (default), ``final``, ``best``, ``all`` or ``none``.

        Raises:
            ConfigError: If `configs` are not `ExperimentConfig` objects, or a count is not a whole number in range.
            DataError: If a dataset cannot be used.
        """
        from kcnn.queue.submit import prepare_configs

        items = configs_argument(configs, "queue")
        whole_argument("repeats", repeats, 1, 10_000)
        whole_argument("priority", priority, -MAX_INTEGER - 1)
        whole_argument("max_attempts", max_attempts, 1, 1000)
        expanded = [
            config.replace(seed=config.seed + offset, fold=fold)
            for config in items
            for offset in range(repeats)
            for fold in range(config.folds)
        ]
        return self._store.add_runs(prepare_configs(expanded), priority=priority, max_attempts=max_attempts, keep=keep)

    def queue_sweep(self, spec: SweepSpec, *, skip_invalid: bool = False) -> QueueReport:
        """Queue a whole sweep in one streaming transaction, all runs or none (`kcnn.api.queue_sweep`)."""
        from kcnn.api.setup import queue_sweep

        return queue_sweep(self, spec, skip_invalid=skip_invalid)

    def cancel(self, run_ids: int | Sequence[int]) -> list[int]:
        """Cancel queued or running runs (one id or several); the ids cancelled."""
        return self._store.cancel(run_ids_argument(run_ids, "cancel"))

    def cancel_all_queued(self) -> list[int]:
        """Cancel every queued run; their ids."""
        return self._store.cancel_all_queued()

    def retry(self, run_ids: int | Sequence[int] | None = None, fresh: bool = False) -> list[int]:
        """Queue failed or cancelled runs again (all failed ones without ids); `fresh` drops their checkpoints."""
        return self._store.retry(None if run_ids is None else run_ids_argument(run_ids, "retry"), fresh=fresh)

    def prioritize(self, run_id: int, priority: int) -> None:
        """Change a queued run's priority (higher is claimed first)."""
        whole_argument("priority", priority, -MAX_INTEGER - 1)
        self._store.prioritize(whole_argument("run id", run_id, 1), priority)

    def reap(self) -> list[int]:
        """Requeue the runs whose worker's lease expired (a killed worker); their ids."""
        return self._store.reap()

    # -- runs -----------------------------------------------------------------------

    def runs(self, state: str | Sequence[str] | None = None) -> list[Run]:
        """Every run (oldest first), or those in `state` (one state or several; an unknown one is refused)."""
        return self._store.runs(states_argument(state))

    def list_runs(self, states: Sequence[str] | None = None, limit: int | None = None) -> list[Run]:
        """Runs newest first, optionally only in `states` and at most `limit`."""
        return self._store.list_runs(
            states_argument(states), None if limit is None else whole_argument("limit", limit, 1)
        )

    def get_run(self, run_id: int) -> Run:
        """One run.

        Raises:
            StoreError: If there is no such run.
        """
        return self._store.get_run(whole_argument("run id", run_id, 1))

    def count_by_state(self) -> dict[str, int]:
        """How many runs are in each state."""
        return self._store.count_by_state()

    def now(self) -> float:
        """The store's clock (Unix seconds), which leases and run times use."""
        return self._store.now()

    def epochs(self, run_id: int) -> list[dict[str, float | None]]:
        """A run's per-epoch metrics, in epoch order."""
        return self._store.epochs(run_id)

    def events(self, run_id: int | None = None) -> list[dict[str, str | float | None]]:
        """The event log of a run (or of the whole store)."""
        return self._store.events(run_id)

    def runs_frame(self, state: str | Sequence[str] | None = None) -> pandas.DataFrame:
        """Every run as a pandas DataFrame: one row per run, its metrics and config fields as columns.

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

    # -- reports --------------------------------------------------------------------

    def leaderboard(self, metric: str = "best", filters: Filters = ()) -> list[ConfigSummary]:
        """Configurations ranked by mean validation accuracy (`kcnn.api.leaderboard`)."""
        from kcnn.api.analysis import leaderboard

        return leaderboard(self, metric, filters)

    def excluded(self) -> Excluded:
        """The runs the statistics leave out (`kcnn.api.excluded`)."""
        from kcnn.api.analysis import excluded

        return excluded(self)

    def compare(
        self, a: str | None = None, b: str | None = None, metric: str = "best", filters: Filters = ()
    ) -> Comparison:
        """Is configuration `a` really better than `b`? (`kcnn.api.compare`)."""
        from kcnn.api.analysis import compare

        return compare(self, a, b, metric, filters)

    def effects(self, by: Sequence[str], metric: str = "best", filters: Filters = ()) -> list[EffectCell]:
        """Finished runs grouped by one or two hyperparameters (`kcnn.api.effects`)."""
        from kcnn.api.analysis import effects

        return effects(self, by, metric, filters)

    def effect_tests(self, metric: str = "best", by: Sequence[str] = (), filters: Filters = ()) -> EffectAnalysis:
        """Which hyperparameters matter beyond seed noise (`kcnn.api.effect_tests`)."""
        from kcnn.api.analysis import effect_tests

        return effect_tests(self, metric, by, filters)

    def figure(self, kind: str, by: str, *, color: str | None = None, metric: str = "best", filters: Filters = (),
               png: str | os.PathLike[str] | None = None) -> Text:  # fmt: skip
        """One of the study's figures as Rich text (`kcnn.api.figure`)."""
        from kcnn.api.analysis import figure

        return figure(self, kind, by, color=color, metric=metric, filters=filters, png=png)

    def export_runs(self, fmt: str = "csv", table: str = "runs", states: Sequence[str] | None = None) -> str:
        """Every number of the runs or their epochs as CSV or JSON (`kcnn.api.export_runs`)."""
        from kcnn.api.analysis import export_runs

        return export_runs(self, fmt, table, states)

    def curves(self, run_ids: Sequence[int]) -> dict[int, list[dict[str, float | None]]]:
        """Each run's per-epoch metrics by run id (`kcnn.api.curves`)."""
        from kcnn.api.analysis import curves

        return curves(self, run_ids)

    # -- a done run's model ---------------------------------------------------------

    def load_model(self, run: Run | int) -> keras.Model:
        """A done run's final Keras model (`kcnn.api.load_model`)."""
        from kcnn.api.models import load_model

        return load_model(run, self)

    def evaluate(self, run: Run | int, data: str | None = None, split: str | None = None,
                 model: str = "final") -> Evaluation:  # fmt: skip
        """A done run's model per class, with the confusion matrix (`kcnn.api.evaluate`)."""
        from kcnn.api.models import evaluate

        return evaluate(run, self, data, split, model)

    def predict(self, run: Run | int, paths: Iterable[str], top: int = 1, model: str = "final") -> Iterator[Prediction]:
        """Classify images with a done run's model, streaming (`kcnn.api.predict`)."""
        from kcnn.api.models import predict

        return predict(run, paths, self, top, model)

    def export_model(self, run: Run | int, output: str | os.PathLike[str], fmt: str = "keras",
                     model: str = "final") -> ExportReport:  # fmt: skip
        """Write a done run's model, checked by loading it back (`kcnn.api.export_model`)."""
        from kcnn.api.models import export_model

        return export_model(run, output, self, fmt, model)

    # -- studies and workers --------------------------------------------------------

    def race(self, keys: Sequence[str] | None = None, *, top: int = 3, max_repeats: int = 10, alpha: float = 0.05,
             metric: str = "best") -> int:  # fmt: skip
        """Start a race between configurations; its study id (`kcnn.api.race`)."""
        from kcnn.api.studies import race

        return race(self, keys, top=top, max_repeats=max_repeats, alpha=alpha, metric=metric)

    def studies(self, state: str | None = None) -> list[Study]:
        """Every study (or those in `state`), oldest first."""
        return self._store.studies(state)

    def get_study(self, study_id: int) -> Study:
        """One study.

        Raises:
            StoreError: If there is no such study.
        """
        return self._store.get_study(study_id)

    def study_runs(self, study_id: int) -> list[Run]:
        """The runs a study queued, oldest first."""
        return self._store.study_runs(study_id)

    def study_summary(self, study_id: int) -> StudySummary:
        """A study's runs by state, best so far and verdict (`kcnn.api.study_summary`)."""
        from kcnn.api.studies import study_summary

        return study_summary(self, study_id)

    def stop_study(self, study_id: int) -> int:
        """Stop a running study; how many queued runs were cancelled (`kcnn.api.stop_study`)."""
        from kcnn.api.studies import stop_study

        return stop_study(self, study_id)

    def workers(self) -> list[WorkerInfo]:
        """The worker supervisors alive on this store (`kcnn.api.live_workers`)."""
        from kcnn.api.workers import live_workers

        return live_workers(self)

    def stop_worker(self, pid: int) -> bool:
        """Ask a worker of this store to stop; whether it was signalled (`kcnn.api.stop_worker`)."""
        from kcnn.api.workers import stop_worker

        return stop_worker(self, pid)

    def prune(self, keep_top: int, *, metric: str = "best", keep: str = "final", dry_run: bool = False) -> PruneReport:
        """Remove the model files of every run outside the top `keep_top` configurations (`kcnn.api.prune`)."""
        from kcnn.api.retention import prune

        return prune(self, keep_top, metric=metric, keep=keep, dry_run=dry_run)

    def info(self) -> StoreInfo:
        """What the store holds (`kcnn.api.store_info`)."""
        from kcnn.api.setup import store_info

        return store_info(self.path)


#: What the facade's functions take: a user's workspace, or the engine's store (workers, tests, bench).
StoreLike = Workspace | Store


def engine_store(store: StoreLike) -> Store:
    """The engine's store behind a workspace (for the facade's own functions, never handed to users)."""
    return store._store if isinstance(store, Workspace) else store


def open_store(path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Workspace:
    """Open the store folder `path` (``$KCNN_STORE`` or ``./kcnn-runs`` by default) as a `Workspace`.

    Args:
        path: The store folder.
        create: Create it when missing. Defaults to `True`; pass `False` to only read.

    Raises:
        StoreError: If it cannot be opened, or its schema needs ``kcnn store upgrade``.
    """
    return Workspace(path, create=create)
