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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcnn.config import ExperimentConfig, field_name
from kcnn.contract import EpochRecord, RunResult
from kcnn.errors import ConfigError, InvalidSweep, KcnnError, RunFailed, StoreError
from kcnn.geometry import ShapePlan, conv_out, plan_network, pool_out
from kcnn.queue.settings import CHECKPOINT_SECONDS
from kcnn.queue.sweep import MAX_RUNS, Expansion, InvalidCombination, SweepPoints, SweepSpec, load_sweep
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
from kcnn.store import AddResult, Run, RunState, Store, default_store_path
from kcnn.store.schema import MAX_INTEGER

if TYPE_CHECKING:
    import keras
    import pandas

    from kcnn.inference.evaluation import Evaluation
    from kcnn.queue.enqueue import QueueReport
    from kcnn.queue.local_pool import ChildProcesses
    from kcnn.queue.ray_head import RayPool
    from kcnn.queue.settings import WorkerSettings
    from kcnn.reports.effects import EffectAnalysis
    from kcnn.reports.study_tables import StudySummary
    from kcnn.store.upgrade import StoreInfo, UpgradeReport

__all__ = [
    "CHECKPOINT_SECONDS",
    "MAX_INTEGER",
    "MAX_RUNS",
    "Comparison",
    "ConfigSummary",
    "EpochRecord",
    "Expansion",
    "InvalidCombination",
    "InvalidSweep",
    "KcnnStore",
    "Run",
    "RunFailed",
    "RunResult",
    "RunState",
    "ShapePlan",
    "SweepPoints",
    "SweepSpec",
    "check_setup",
    "compare",
    "conv_out",
    "dataset_classes",
    "default_store_path",
    "effect_tests",
    "effects",
    "evaluate",
    "excluded",
    "expand_sweep",
    "export_model",
    "figure",
    "folder_report",
    "leaderboard",
    "live_workers",
    "load_model",
    "load_sweep",
    "open_store",
    "optimize",
    "plan_network",
    "pool_out",
    "predict",
    "prepare_configs",
    "queue_sweep",
    "race",
    "run_workers",
    "stop_study",
    "stop_worker",
    "store_info",
    "study_summary",
    "train",
    "upgrade_store",
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

        A config with ``folds`` K > 1 queues every fold of every seed (K runs per seed), as ``kcnn queue
        add --folds K`` does; `Store.add_runs` adds exactly the configs it is given (one fold, say).
        Datasets are checked and ``auto`` colour modes resolved first; a config+seed (+fold) already in
        the store is not added again (its `AddResult.created` is False).

        Raises:
            ConfigError: If `repeats` is below 1.
            DataError: If a dataset cannot be used.
        """
        from kcnn.errors import ConfigError
        from kcnn.queue.submit import prepare_configs

        if repeats < 1:
            raise ConfigError(f"`repeats` must be at least 1; got {repeats}.")
        items = [configs] if isinstance(configs, ExperimentConfig) else list(configs)
        expanded = [
            config.replace(seed=config.seed + offset, fold=fold)
            for config in items
            for offset in range(repeats)
            for fold in range(config.folds)
        ]
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


def check_setup(config: ExperimentConfig, device: str = "auto") -> None:
    """Check that `config` can train here (device, precision, dataset) without loading anything big.

    Raises:
        DeviceError: If the device or the config's precision is not available.
        DataError: If the dataset cannot be found (its other problems are listed when training decodes it).
    """
    from kcnn.data import locate_dataset
    from kcnn.training.train import prepare_device

    prepare_device(device, config.precision)
    locate_dataset(config.dataset)  # a folder's problems are listed together when it is decoded


def train(
    config: ExperimentConfig,
    *,
    store: Store | str | os.PathLike[str] | None = None,
    progress: bool = True,
    device: str = "auto",
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    on_start: Callable[[int], None] | None = None,
    on_epoch: Callable[[Any], None] | None = None,
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

    Raises:
        ConfigError, DataError, DeviceError: For a config, dataset or device that cannot be used.
        RunFailed: If the run did not finish (its store record says why).
    """
    from kcnn.queue.foreground import train_in_foreground
    from kcnn.queue.runner import Outcome

    def report(record: Any) -> None:
        if on_epoch is not None:
            on_epoch(record)
        if progress:
            print(
                f"epoch {record.epoch}/{config.epochs}  loss {record.loss:.4f}  val acc {record.val_accuracy:.2%}",
                flush=True,
            )

    with tempfile.TemporaryDirectory(prefix="kcnn-train-") as scratch:
        opened = None
        if not isinstance(store, Store):
            opened = Store(store if store is not None else Path(scratch) / "store")
        try:
            run = train_in_foreground(
                opened or store,  # type: ignore[arg-type]
                config,
                device=device,
                checkpoint_seconds=checkpoint_seconds,
                on_start=on_start,
                on_epoch=report,
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
    result: RunResult = execution.result
    return result


def _points(store: Store, filters: Sequence[str] | Mapping[str, Any]) -> list[Any]:
    parsed = filters if isinstance(filters, Mapping) else parse_filters(filters)
    return apply_filters(load_points(store.finished_runs()), parsed)


def _check_metric(metric: str) -> None:
    if metric not in ("best", "final"):
        raise ConfigError(f"`metric` must be best or final; got {metric!r}.")


def leaderboard(
    store: Store, metric: str = "best", filters: Sequence[str] | Mapping[str, Any] = ()
) -> list[ConfigSummary]:
    """Configurations ranked by mean validation accuracy over their distinct seeds (best first).

    Args:
        store: The store.
        metric: ``best`` (best epoch) or ``final`` (last epoch) validation accuracy. Defaults to ``best``.
        filters: ``["dilation=2,1", "kernel=2"]``, or field → value. Defaults to none.

    Raises:
        ConfigError: For an unknown metric, or a malformed filter.
    """
    _check_metric(metric)
    return rank_summaries(_points(store, filters), metric)


def excluded(store: Store) -> Excluded:
    """The runs the statistics leave out: counted by state, and the finished ones with a damaged config."""
    from kcnn.reports.grouping import damaged_runs

    return Excluded(store.count_by_state(), damaged_runs(store.finished_runs()))


def effects(
    store: Store, by: Sequence[str], metric: str = "best", filters: Sequence[str] | Mapping[str, Any] = ()
) -> list[EffectCell]:
    """Every finished run grouped by the values of one or two hyperparameters (an effect table's cells).

    Raises:
        ConfigError: For an unknown hyperparameter or metric, more than two names, or a malformed filter.
    """
    _check_metric(metric)
    return effect_cells(_points(store, filters), [field_name(name) for name in by], metric)


def effect_tests(
    store: Store, metric: str = "best", by: Sequence[str] = (), filters: Sequence[str] | Mapping[str, Any] = ()
) -> EffectAnalysis:
    """Which hyperparameters matter beyond seed noise, with ω² and a verdict each (`kcnn.reports.effects`).

    Type II F-tests against the within-configuration variance of repeats. Needs scipy (``kcnn[stats]``).

    Args:
        store: The store.
        metric: ``best`` or ``final``. Defaults to ``best``.
        by: Two hyperparameters whose interaction is tested too; empty for main effects only.
        filters: Only runs matching these (``["kernel=2"]`` or ``{"kernel_size": 2}``).

    Raises:
        ConfigError: For an unknown hyperparameter or metric, or a `by` that is not two varying names.
        KcnnError: Without scipy, with fewer than two finished runs, or when no hyperparameter varies.
    """
    from kcnn.reports.effects import analyze_effects
    from kcnn.reports.grouping import varying_fields

    _check_metric(metric)
    points = _points(store, filters)
    fields = varying_fields(points)
    if not fields:
        raise KcnnError(f"No hyperparameter varies among the {len(points)} finished run(s); queue a sweep first.")
    return analyze_effects(points, fields, metric, [field_name(name) for name in by])


def figure(
    store: Store,
    kind: str,
    by: str,
    *,
    color: str | None = None,
    metric: str = "best",
    filters: Sequence[str] | Mapping[str, Any] = (),
    png: str | os.PathLike[str] | None = None,
) -> Any:
    """One of the study's figures of the finished runs, as Rich text; also a PNG when `png` is given.

    Args:
        store: The store.
        kind: ``runs`` (each run against `by`, with each value's mean and 95% CI), ``box`` (each value's
            spread) or ``curves`` (each value's mean validation curve over epochs).
        by: The hyperparameter on the x axis (or whose values make the curves).
        color: ``runs``: colour the points by this hyperparameter.
        metric: ``best`` or ``final``. Defaults to ``best``.
        filters: Only runs matching these.
        png: Write the figure to this PNG file too (needs ``kcnn[plot]``).

    Raises:
        ConfigError: For an unknown kind, hyperparameter or metric.
        KcnnError: With no finished runs, or for a PNG without matplotlib.
    """
    from kcnn.config import group_value
    from kcnn.reports import plots

    if kind not in plots.KINDS:
        raise ConfigError(f"The figure must be one of {', '.join(plots.KINDS)}; got {kind!r}.")
    _check_metric(metric)
    by = field_name(by)
    color = field_name(color) if color else None
    points = _points(store, filters)
    if not points:
        raise KcnnError("No finished runs to plot; `kcnn worker` trains queued runs.")
    histories: dict[Any, list[list[float]]] = {}
    if kind == "curves":
        for point in points:
            value = group_value(by, point.config.get(by))
            curve = [epoch["val_accuracy"] for epoch in store.epochs(point.run_id)]
            histories.setdefault(value, []).append(curve)
    if png is not None:
        plots.write_png(kind, Path(png), points, by, color, metric, histories)
    if kind == "runs":
        return plots.runs_chart(points, by, color, metric)
    if kind == "box":
        return plots.box_chart(points, by, metric)
    return plots.curves_chart(histories, by)


def compare(
    store: Store,
    a: str | None = None,
    b: str | None = None,
    metric: str = "best",
    filters: Sequence[str] | Mapping[str, Any] = (),
) -> Comparison:
    """Is configuration `a` really better than `b`? Welch's test and a verdict naming the better one.

    Args:
        store: The store.
        a: A config key or a unique prefix of one. Defaults to the leaderboard's first.
        b: Another. Defaults to the leaderboard's second.
        metric: ``best`` or ``final``. Defaults to ``best``.
        filters: Only runs matching these (as in `leaderboard`).

    Raises:
        KcnnError: If a key matches no configuration or several, or there are fewer than two.
    """
    summaries = leaderboard(store, metric, filters)
    if a is not None and b is not None:
        return compare_summaries(find_summary(summaries, a), find_summary(summaries, b))
    if a is not None or b is not None:
        raise KcnnError("Compare two configurations (two config keys), or none for the top two.")
    if len(summaries) < 2:
        raise KcnnError(f"Comparing needs two configurations with finished runs; found {len(summaries)}.")
    return compare_summaries(summaries[0], summaries[1])


def load_model(run: Run | int, store: Store | None = None) -> keras.Model:
    """The final Keras model of a finished run.

    Args:
        run: A `Run` (from `store.runs()`) or a run id (then `store` is needed).
        store: The store, when `run` is an id.

    Raises:
        StoreError: If the run has no final model (not done, or its file is gone).
    """
    from kcnn.inference import load_run_model

    network, _, _ = load_run_model(_run_of(run, store, "load_model"))
    return network


def evaluate(
    run: Run | int, store: Store | None = None, data: str | None = None, split: str | None = None, model: str = "final"
) -> Evaluation:
    """Evaluate a done run's final model per class, with the confusion matrix (`kcnn.inference.evaluation`).

    Args:
        run: The run, or its id (then `store` is needed).
        store: The store, when `run` is an id.
        data: Another folder with the run's classes; defaults to the run's own dataset.
        split: ``val``, ``test`` (runs queued with ``test_split``), ``train`` or ``all``; defaults to ``val`` on
            the run's dataset, ``all`` on `data`.
        model: ``final`` (last epoch) or ``best`` (the best validation epoch, what the leaderboard ranks).

    Raises:
        StoreError: If the run has no final model. DataError: If the data's classes are not the run's.
    """
    from kcnn.inference.evaluation import evaluate_run

    return evaluate_run(_run_of(run, store, "evaluate"), data, split, model)


def predict(
    run: Run | int, paths: Iterable[str], store: Store | None = None, top: int = 1, model: str = "final"
) -> Iterator[Any]:
    """Classify image files (or folders of them) with a done run's final model, streaming, in batches.

    Yields a `kcnn.inference.evaluation.Prediction` per image: its `top` classes with probabilities, or the
    reason it could not be read (never fatal).
    """
    from kcnn.inference.evaluation import predict_images

    return predict_images(_run_of(run, store, "predict"), paths, top, model)


def export_model(
    run: Run | int, output: str | os.PathLike[str], store: Store | None = None, fmt: str = "keras", model: str = "final"
) -> Any:
    """Write a done run's model as ``.keras`` or ONNX (``kcnn[onnx]``), checked by loading it back.

    Returns:
        A `kcnn.inference.export.ExportReport`: the path, and the largest difference of a class
        probability between the model and the loaded export on a few of the run's images.

    Raises:
        KcnnError: If the export cannot be written or does not reproduce the model (nothing is written then).
    """
    from kcnn.inference.export import export_model as write

    return write(_run_of(run, store, "export_model"), output, fmt, model)


def _run_of(run: Run | int, store: Store | None, caller: str) -> Run:
    """`run`, or the run with that id in `store`."""
    if isinstance(run, Run):
        return run
    if store is None:
        raise StoreError(f"`{caller}` needs the store when given a run id: {caller}({run}, store=store).")
    return store.get_run(run)


def live_workers(store: Store | str | os.PathLike[str]) -> list[Any]:
    """The worker supervisors alive on this store (pid, slots, start time), from its worker registry."""
    from kcnn.queue.registry import live_workers as registered

    return registered(store.path if isinstance(store, Store) else Path(store))


def race(
    store: Store,
    keys: Sequence[str] | None = None,
    *,
    top: int = 3,
    max_repeats: int = 10,
    alpha: float = 0.05,
    metric: str = "best",
) -> int:
    """Start a race (`kcnn.queue.race`) between configurations; its study id. Workers run and advance it.

    Args:
        store: The store.
        keys: Config keys, or their first characters; defaults to the leaderboard's top `top`
            (configurations validated on one split).
        top: How many leaderboard configurations to race when no keys are given. Defaults to 3.
        max_repeats: Runs per configuration at most. Defaults to 10.
        alpha: Family-wise significance level. Defaults to 0.05.
        metric: ``best`` or ``final`` validation accuracy. Defaults to ``best``.

    Raises:
        ConfigError: For fewer than two configurations, a bad setting, or a cross-validated key.
        KcnnError: If a key matches no configuration (or several).
    """
    from kcnn.queue.race import RaceSettings, start_race

    _check_metric(metric)
    ranked = [summary for summary in leaderboard(store, metric) if summary.fold_count == 1]
    chosen = [find_summary(ranked, key).config_key for key in keys] if keys else [s.config_key for s in ranked[:top]]
    if len(chosen) < 2:
        raise ConfigError(
            f"A race needs at least two configurations with done runs; found {len(chosen)}. "
            "Train or queue more first (`kcnn queue add --kernel 2 3`)."
        )
    return start_race(store, RaceSettings(tuple(dict.fromkeys(chosen)), max_repeats, alpha, metric))


def optimize(
    store: Store,
    space: str | os.PathLike[str] | Mapping[str, Any],
    *,
    trials: int = 20,
    sampler: str = "tpe",
    pruner: str = "median",
    repeats: int = 1,
    metric: str = "best",
    timeout_hours: float | None = None,
    parallel: int = 2,
    seed: int = 0,
) -> int:
    """Start an Optuna study (`kcnn.queue.optimize`) over a search space; its study id. Workers run and advance it.

    Args:
        store: The store (Optuna's own storage goes beside it, ``optuna.sqlite3``).
        space: A SPACE.toml path, or the same as a dict: hyperparameter → list of choices or
            ``{"low": …, "high": …, "log": bool, "step": …}``, plus ``"fixed"``: field → value.
        trials: Trials to run (each is one config with `repeats` seeds). Defaults to 20.
        sampler: ``tpe``, ``random`` or ``grid``. Defaults to ``tpe``.
        pruner: ``median``, ``hyperband`` or ``none``. Defaults to ``median``.
        repeats: Seeds per trial; its value is their mean. Defaults to 1.
        metric: ``best`` or ``final`` validation accuracy. Defaults to ``best``.
        timeout_hours: Ask for no new trial after this long. Defaults to no limit.
        parallel: Trials in flight at once. Defaults to 2.
        seed: Seed of the sampler and the runs' first seed. Defaults to 0.

    Raises:
        ConfigError: For a malformed space or setting.
        DataError: If the fixed dataset cannot be used.
        KcnnError: If Optuna is not installed (``pip install 'kcnn[optuna]'``).
    """
    from kcnn.queue.optimize import OptimizeSettings, load_space, parse_space, start_optimize
    from kcnn.queue.submit import ConfigPreparer

    params, fixed = parse_space(dict(space)) if isinstance(space, Mapping) else load_space(Path(space))
    settings = OptimizeSettings(tuple(params), fixed, trials, sampler, pruner, repeats, metric, timeout_hours,
                                parallel, seed)  # fmt: skip
    return start_optimize(store, settings, ConfigPreparer().prepare)


def study_summary(store: Store, study_id: int) -> StudySummary:
    """A study with its runs counted by state and its best configuration so far.

    Raises:
        StoreError: If there is no such study.
    """
    from kcnn.reports.study_tables import summarize_study

    return summarize_study(store.get_study(study_id), store.study_runs(study_id))


def stop_study(store: Store, study_id: int) -> int:
    """Stop a running study: its queued runs are cancelled (running ones finish); how many were cancelled.

    Raises:
        StoreError: If there is no such study.
    """
    store.get_study(study_id)
    return store.stop_study(study_id, "stopped by the user")


def stop_worker(store: Store | str | os.PathLike[str], pid: int) -> bool:
    """Ask the worker supervisor `pid` of this host to stop (SIGTERM): its runs go back to the queue.

    The process is signalled only if it is the kcnn worker that registered on this store (same PID,
    start time and command), never a process that reused the PID of a killed one.

    Returns:
        Whether the worker was signalled.
    """
    import signal

    from kcnn.queue.registry import signal_worker

    return signal_worker(store.path if isinstance(store, Store) else Path(store), pid, signal.SIGTERM)


def dataset_classes(dataset: str) -> int | None:
    """The number of classes of a built-in dataset (known without loading it); `None` for a folder."""
    from kcnn.data import builtin_class_count

    return builtin_class_count(dataset)


def queue_sweep(store: Store | None, spec: SweepSpec, *, skip_invalid: bool = False) -> QueueReport:
    """Queue every run of a sweep in one streaming transaction (no store: a dry run that only counts).

    10⁵ runs take seconds and memory that does not grow with them (`kcnn.queue.enqueue`); either all are
    queued or none.

    Raises:
        ConfigError: For a malformed sweep, or one over `SweepSpec.max_runs` (nothing built).
        InvalidSweep: If grid points are invalid and `skip_invalid` is False; `.invalid` lists them all.
        DataError: If a dataset cannot be used.
    """
    from kcnn.queue.enqueue import queue_sweep as stream

    return stream(store, spec, skip_invalid=skip_invalid)


def prepare_configs(configs: Iterable[ExperimentConfig]) -> list[ExperimentConfig]:
    """The configs as the store will hold them: datasets checked, ``auto`` colour modes resolved.

    Raises:
        DataError: If a dataset cannot be found or used.
    """
    from kcnn.queue.submit import prepare_configs as prepare

    return prepare(configs)


def store_info(path: str | os.PathLike[str] | None = None) -> StoreInfo:
    """A store at a glance: path, schema version, runs by state, sizes (any version; changes nothing)."""
    from kcnn.store.upgrade import store_info as info

    return info(Path(path) if path is not None else None)


def upgrade_store(path: str | os.PathLike[str] | None = None) -> UpgradeReport:
    """Back the store up, then bring it to this kcnn's schema and re-key its runs, in one transaction."""
    from kcnn.store.upgrade import upgrade_store as upgrade

    return upgrade(Path(path) if path is not None else None)


def folder_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What kcnn sees in an image folder: classes, counts, sizes, modes, every problem, cache entries.

    Never refuses a folder it can list: empty classes, missing classes and unreadable files are in
    ``problems`` (and unreadable files in ``unreadable``).

    Raises:
        DataError: If the folder is missing or cannot be listed.
    """
    from kcnn.data.report import folder_report as report

    return report(str(path))


def run_workers(
    store: Store | str | os.PathLike[str] | None = None,
    *,
    jobs: int | None = None,
    gpus: Sequence[int] | None = None,
    per_gpu: int | None = None,
    once: bool = False,
    lease_seconds: float = 60.0,
    poll_seconds: float = 1.0,
    stall_seconds: float = 0.0,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    log: Callable[[str], None] = print,
    ray: str | None = None,
    cpus_per_run: float | None = None,
) -> int:
    """Train queued runs with worker children until stopped (or, with `once`, until the queue is empty).

    With `ray`, this process becomes a Ray head instead (`kcnn.queue.ray_head`): it stays the store's
    only writer and trains each run on a Ray actor, one per slot, anywhere on the cluster.

    Args:
        store: The store or its folder. Defaults to ``$KCNN_STORE`` or ``./kcnn-runs``.
        jobs: CPU children (the cores are split among them); with `ray`, the number of slots. Defaults to one
            (with `ray`: as many as the cluster's resources hold).
        gpus: GPU indices to train on instead of the CPU (not with `ray`: Ray places GPU slots).
        per_gpu: Children (with `ray`: slots) per GPU. With `ray`, asking for it makes GPU slots.
        once: Exit when the queue is empty.
        lease_seconds: How long a claim lasts without a heartbeat.
        poll_seconds: How often an idle child looks for work.
        stall_seconds: End a child whose run makes no step for this long (0: never).
        checkpoint_seconds: Seconds of training between checkpoints (0: every epoch).
        log: Where the supervisor's lines go.
        ray: Train on Ray: a cluster address, ``auto`` (the cluster this machine belongs to) or ``local``
            (start a Ray instance on this machine). Needs ``kcnn[ray]``.
        cpus_per_run: With `ray`: CPUs each slot reserves (CPU slots: default 1; GPU slots: default 0).

    Returns:
        The supervisor's exit code (0 when it stopped cleanly).

    Raises:
        KcnnError: For impossible slot settings, a store that cannot be opened, or `ray` without Ray installed.
    """
    from kcnn.queue.settings import WorkerSettings

    path = store.path if isinstance(store, Store) else Path(store) if store is not None else default_store_path()
    settings = WorkerSettings(path, once=once, lease_seconds=lease_seconds, poll_seconds=poll_seconds,
                              stall_seconds=stall_seconds, checkpoint_seconds=checkpoint_seconds)  # fmt: skip
    executor = (
        _ray_pool(settings, ray, jobs=jobs, gpus=gpus, per_gpu=per_gpu, cpus_per_run=cpus_per_run, log=log)
        if ray is not None
        else _child_processes(settings, jobs=jobs, gpus=gpus, per_gpu=per_gpu, cpus_per_run=cpus_per_run, log=log)
    )
    from kcnn.queue.supervisor import Supervisor

    return Supervisor(executor, settings, log).run()


def _child_processes(
    settings: WorkerSettings,
    *,
    jobs: int | None,
    gpus: Sequence[int] | None,
    per_gpu: int | None,
    cpus_per_run: float | None,
    log: Callable[[str], None],
) -> ChildProcesses:
    """Local child processes for `run_workers` (see `kcnn.queue.local_pool`)."""
    from kcnn.queue.local_pool import ChildProcesses, plan_slots

    if cpus_per_run is not None:
        raise ConfigError("`cpus_per_run` (`--cpus-per-run`) is for Ray slots; local CPU workers split the cores "
                          "with `--jobs N`.")  # fmt: skip
    per_gpu = 1 if per_gpu is None else per_gpu
    slots = plan_slots(jobs=jobs, gpus=gpus, per_gpu=per_gpu)
    Store(settings.store_path).close()  # create it, or fail with a clear message, before starting children
    where = f"GPUs {','.join(map(str, gpus))} × {per_gpu}" if gpus else f"CPU, {slots[0].threads} thread(s) each"
    log(
        f"{len(slots)} child process(es) on {where}; store {settings.store_path}"
        + ("; exits when the queue is empty" if settings.once else "; Ctrl-C to stop")
    )
    return ChildProcesses(slots, settings, log)


def _ray_pool(
    settings: WorkerSettings,
    address: str,
    *,
    jobs: int | None,
    gpus: Sequence[int] | None,
    per_gpu: int | None,
    cpus_per_run: float | None,
    log: Callable[[str], None],
) -> RayPool:
    """Ray slots for `run_workers` (see `kcnn.queue.ray_head.RayPool`)."""
    from kcnn.queue.ray_head import RayPool, import_ray

    if gpus:
        raise ConfigError("`--gpus` picks this machine's GPUs; on Ray, ask for GPU slots with `--per-gpu N` "
                          "and Ray places them on the cluster's GPUs.")  # fmt: skip
    if settings.stall_seconds:
        raise ConfigError("`--stall` ends a stalled local child; it is not available with `--ray` (leases and "
                          "Ray's own restarts cover a lost slot).")  # fmt: skip
    import_ray()  # the one line naming the extra, before the store is touched
    Store(settings.store_path).close()
    return RayPool(settings, address, jobs=jobs, per_gpu=per_gpu, cpus_per_run=cpus_per_run, log=log)
