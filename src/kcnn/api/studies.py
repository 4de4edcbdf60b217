"""Studies through the facade: start a race, an Optuna study or a budgeted study, follow one, stop one."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kcnn.api.analysis import _check_metric, leaderboard
from kcnn.api.arguments import RACE_TOP
from kcnn.api.workspace import StoreLike, engine_store
from kcnn.config import ExperimentConfig
from kcnn.errors import ConfigError, StoreError
from kcnn.queue.sweep import SweepSpec, load_sweep
from kcnn.reports.comparison import find_summary
from kcnn.store import StudyState

if TYPE_CHECKING:
    from kcnn.reports.study_tables import StudySummary


def race(
    store: StoreLike,
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
    low, high = RACE_TOP
    if not keys and (isinstance(top, bool) or not isinstance(top, int) or not low <= top <= high):
        raise ConfigError(f"The number of configurations to race (`--top`) must be from {low} to {high}; got {top!r}.")
    ranked = [summary for summary in leaderboard(store, metric) if summary.fold_count == 1]
    chosen = [find_summary(ranked, key).config_key for key in keys] if keys else [s.config_key for s in ranked[:top]]
    if len(chosen) < 2:
        raise ConfigError(
            f"A race needs at least two configurations with done runs; found {len(chosen)}. "
            "Train or queue more first (`kcnn queue add --kernel 2 3`)."
        )
    return start_race(engine_store(store), RaceSettings(tuple(dict.fromkeys(chosen)), max_repeats, alpha, metric))


def optimize(
    store: StoreLike,
    space: str | os.PathLike[str] | Mapping[str, object],
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
    return start_optimize(engine_store(store), settings, ConfigPreparer().prepare)


def answer(
    store: StoreLike,
    sweep: str | os.PathLike[str] | SweepSpec,
    *,
    budget_seconds: float,
    workers: int = 1,
    seeds: int = 2,
    metric: str = "best",
    seed: int = 0,
) -> int:
    """Start a budgeted study (`kcnn.queue.answer`) over a sweep's grid; its study id. Workers run and advance it.

    Within `budget_seconds` of wall time it screens a balanced fraction of the grid, trains the configurations a
    main-effects model leaves plausible under successive halving (a configuration is pruned by its seeds' mean),
    races the top few, and answers: the winner with its interval and test accuracy; `kcnn study show` adds which
    hyperparameters matter (effect tests on the study's runs).

    Args:
        store: The store.
        sweep: A sweep file (its ``[grid]`` and ``[fixed]``; repeats and sampling are the study's to choose), or
            a `SweepSpec`.
        budget_seconds: Wall time from now to the answer.
        workers: Worker slots that will train its runs side by side (``kcnn worker --jobs N``). Defaults to 1.
        seeds: Seeds per configuration screened or focused (at least 2). Defaults to 2.
        metric: ``best`` or ``final`` validation accuracy. Defaults to ``best``.
        seed: Seed of the screening fraction's choice. Defaults to 0.

    Raises:
        ConfigError: For a grid without a varying hyperparameter, a grid point that is not a valid
            configuration, or a bad setting.
        DataError: If the dataset cannot be used.
    """
    from kcnn.queue.answer import AnswerSettings, start_answer
    from kcnn.queue.memory import dataset_images
    from kcnn.queue.submit import prepare_configs

    _check_metric(metric)
    spec = sweep if isinstance(sweep, SweepSpec) else load_sweep(Path(sweep))
    fixed = dict(spec.fixed)
    first = ExperimentConfig(**{**fixed, **{name: values[0] for name, values in spec.grid.items()}})
    [prepared] = prepare_configs([first])  # an `auto` colour mode is settled once, from the data
    fixed.setdefault("color_mode", prepared.color_mode)
    share = max(1.0 - first.val_split - first.test_split, 0.0)
    train_images = round(dataset_images(first.dataset) * share)
    settings = AnswerSettings(spec.grid, fixed, budget_seconds, workers, seeds, metric, seed, train_images)
    return start_answer(engine_store(store), settings)


def answer_budget_line(store: StoreLike, study_id: int) -> str | None:
    """For a budgeted study whose smallest balanced screen takes more than half its budget: one line saying so.

    The line says which budget would leave the focus and the race their shares; `None` when the screen fits its
    share (or for another kind of study).

    Raises:
        StoreError: If there is no such study.
    """
    from kcnn.queue.answer import AnswerSettings, tight_budget_line

    study = engine_store(store).get_study(study_id)
    if study.kind != "answer" or "screen_seconds" not in study.progress:
        return None
    return tight_budget_line(AnswerSettings.from_dict(study.settings), float(study.progress["screen_seconds"]))


def study_summary(store: StoreLike, study_id: int) -> StudySummary:
    """A study with its runs counted by state and its best configuration so far.

    Raises:
        StoreError: If there is no such study.
    """
    from kcnn.reports.study_tables import summarize_study

    engine = engine_store(store)
    return summarize_study(engine.get_study(study_id), engine.study_runs(study_id))


def stop_study(store: StoreLike, study_id: int) -> int:
    """Stop a running study: its queued runs are cancelled (running ones finish); how many were cancelled.

    Raises:
        StoreError: If there is no such study, or it already ended (done or stopped): nothing to stop.
    """
    engine = engine_store(store)
    study = engine.get_study(study_id)
    if study.state is not StudyState.RUNNING:
        raise StoreError(f"Study {study_id} already ended ({study.state.value}); there is nothing to stop.")
    return engine.stop_study(study_id, "stopped by the user")
