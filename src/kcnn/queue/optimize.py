"""Optuna studies: search a space of configurations with a sampler, stop weak runs with a pruner.

``kcnn optimize SPACE.toml`` creates a study row in the store and an Optuna study in the store folder
(``optuna.sqlite3``, Optuna's own SQLite storage, which ``optuna-dashboard`` opens). Optuna is used
through its ask-and-tell interface (public API only), and the study is advanced by whichever worker is
running (`kcnn.queue.studies`): Optuna is asked and told outside the store's write lock, and the resulting
step is applied in one transaction only if the study's progress is still the one decided on
(`Store.advance_study_outside_lock`):

* a finished trial (all its runs finished) is told to Optuna: the mean of its runs' metric over its
  `repeats` seeds; ``PRUNED`` if the pruner stopped it; ``FAIL`` if every run failed;
* while fewer than `parallel` trials are in flight and the budget allows, a new trial is asked for,
  its parameters become a config (the space's values over the ``[fixed]`` ones), and the config is
  checked by the geometry and the memory estimate first (`kcnn.queue.memory`): an impossible one is told
  ``FAIL`` with the reason, at no compute;
  a valid one queues `repeats` runs (seeds ``seed`` … ``seed + repeats − 1``) tagged with the trial;
* when the budget (`trials`, or `timeout_hours`) is spent and nothing is in flight, the study is done
  and its verdict names the best trial.

Between epochs, a study run reports the trial's intermediate value (its validation accuracy so far —
the running best for ``metric = best``; with several seeds, their mean once every seed has reached the
epoch) and asks the pruner; a pruned run stops there in state ``pruned`` (`pruning_check`).

Why one module of ~500 lines: the settings, the space's parser, the decision and the pruning check all read
and write one format, the study's ``progress`` (trials by number, their state, value and parameters);
kept together, that format is defined and used in one place.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import tomllib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcnn.config import ExperimentConfig, field_name, file_value, format_value, parse_value
from kcnn.config.fields import FIELDS_BY_NAME, LAYER_LIST_FIELDS
from kcnn.errors import ConfigError, DataError, FileContentError, KcnnError, Pruned
from kcnn.queue.memory import check_fits, dataset_images
from kcnn.store import NewRun, Run, RunState, Store, Study, StudyStep
from kcnn.store.states import TrialState

OPTUNA_FILE = "optuna.sqlite3"
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
FINISHED = tuple(state for state in RunState if state.is_finished())
#: Impossible configurations asked for in a row after which a study gives up (its space is mostly invalid).
MAX_INVALID_IN_A_ROW = 50


def import_optuna() -> Any:
    """Optuna, or one line naming the extra that installs it."""
    try:
        import optuna
    except ImportError:
        raise KcnnError("Optuna studies need Optuna: pip install 'kcnn[optuna]'.") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter: a list of choices, or a numeric range."""

    name: str
    choices: tuple[Any, ...] = ()
    """Values as Optuna sees them (per-layer lists as ``"2,1"`` text)."""
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    def suggest(self, trial: Any) -> Any:
        """Ask the trial for a value, as the config takes it."""
        if self.choices:
            label = trial.suggest_categorical(self.name, list(self.choices))
            return parse_value(self.name, label) if isinstance(label, str) and self.name in LAYER_LIST_FIELDS else label
        if FIELDS_BY_NAME[self.name].kind is int:
            step = int(self.step or 1)
            return trial.suggest_int(self.name, int(self.low or 0), int(self.high or 0), step=step, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value not in (None, (), False)}


def parse_space(data: dict[str, Any], where: str = "the space") -> tuple[list[Param], dict[str, Any]]:
    """The searched hyperparameters and the ``[fixed]`` values of a space (a parsed SPACE.toml).

    Everything is checked here, before a study row or an Optuna study exists: every choice has its field's
    shape (`kcnn.config.file_value`), every range is finite with low < high, a step is above 0 and lands
    on `high`, a log range is positive and has no step.

    Raises:
        ConfigError: For an unknown hyperparameter, an empty choice list, a malformed choice or range.
    """
    fixed_raw = data.get("fixed", {})
    if not isinstance(fixed_raw, dict):
        raise ConfigError(f"`[fixed]` in {where} must be a table of values, such as `epochs = 10`.")
    fixed = {field_name(name): file_value(field_name(name), value) for name, value in fixed_raw.items()}
    params = []
    for raw_name, spec in data.items():
        if raw_name == "fixed":
            continue
        name = field_name(raw_name)
        if name in fixed:
            raise ConfigError(f"`{name}` is both searched and fixed in {where}; keep one.")
        if isinstance(spec, list):
            if not spec:
                raise ConfigError(f"`{name}` in {where} has no choices; give at least one, such as `{name} = [2, 3]`.")
            labels = tuple(_label(name, file_value(name, value)) for value in spec)
            params.append(Param(name, choices=tuple(dict.fromkeys(labels))))
        elif isinstance(spec, dict) and {"low", "high"} <= set(spec):
            params.append(_range(name, spec))
        else:
            raise ConfigError(
                f"`{name}` in {where} must be a list of choices (`{name} = [2, 3]`) or a range "
                f"(`{name} = {{ low = 1e-4, high = 1e-2, log = true }}`); got {spec!r}."
            )
    if not params:
        raise ConfigError(f"{where} searches nothing: name at least one hyperparameter with choices or a range.")
    return params, fixed


def _range(name: str, spec: dict[str, Any]) -> Param:
    """A numeric range, checked so that Optuna accepts it and samples what it says."""
    kind = FIELDS_BY_NAME[name].kind
    if kind not in (int, float) or name in LAYER_LIST_FIELDS:
        raise ConfigError(f"`{name}` takes a list of choices, not a range.")
    unknown = set(spec) - {"low", "high", "log", "step"}
    if unknown:
        raise ConfigError(f"Unknown key `{sorted(unknown)[0]}` in the range of `{name}`; use low, high, log, step.")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)

    def number(value: Any) -> bool:
        whole = isinstance(value, int) and not isinstance(value, bool)
        return whole or (kind is float and isinstance(value, float) and math.isfinite(value))

    wanted = "whole numbers" if kind is int else "finite numbers"
    if not (number(low) and number(high)) or not low < high:
        raise ConfigError(f"The range of `{name}` needs {wanted} low < high; got low = {low!r}, high = {high!r}.")
    if not isinstance(log, bool):
        raise ConfigError(f"`log` in the range of `{name}` must be true or false; got {log!r}.")
    if log and low <= 0:
        raise ConfigError(f"A log range of `{name}` needs low > 0; got {low!r}.")
    if step is not None:
        if not number(step) or not step > 0:
            raise ConfigError(f"`step` in the range of `{name}` must be one of the {wanted} above 0; got {step!r}.")
        if log and step != 1:
            raise ConfigError(f"The log range of `{name}` cannot have a step; drop `step` or `log`.")
        intervals = (high - low) / step
        if abs(intervals - round(intervals)) > 1e-9 * max(1.0, abs(intervals)):
            below = low + math.floor(intervals) * step
            raise ConfigError(
                f"The range of `{name}` from {low:g} in steps of {step:g} does not land on high = {high:g}; "
                f"use high = {below:g} (or {below + step:g})."
            )
    return Param(name, low=low, high=high, log=log, step=step)


def load_space(path: Path) -> tuple[list[Param], dict[str, Any]]:
    """Read SPACE.toml.

    Raises:
        ConfigError: If the file cannot be read or parsed, or describes an invalid space.
    """
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as error:
        raise FileContentError(f"Cannot read the space file {str(path)!r}: {error.strerror or error}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FileContentError(f"The space file {str(path)!r} is not valid TOML: {error}.") from None
    try:
        return parse_space(data, str(path))
    except FileContentError:
        raise
    except ConfigError as error:
        raise FileContentError(f"Space file {str(path)!r}: {error}") from None


@dataclass(frozen=True)
class OptimizeSettings:
    """What an Optuna study was asked to do."""

    params: tuple[Param, ...]
    fixed: dict[str, Any]
    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "median"
    repeats: int = 1
    metric: str = "best"
    timeout_hours: float | None = None
    parallel: int = 2
    """Trials in flight at once (each has `repeats` runs): what idle workers can train."""
    seed: int = 0
    """Seed of the sampler and of the runs' first seed."""

    def __post_init__(self) -> None:
        if not 1 <= self.trials <= 100_000:
            raise ConfigError(f"`--trials` must be between 1 and 100000; got {self.trials}.")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"`--sampler` must be one of {', '.join(SAMPLERS)}; got {self.sampler!r}.")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"`--pruner` must be one of {', '.join(PRUNERS)}; got {self.pruner!r}.")
        if not 1 <= self.repeats <= 100:
            raise ConfigError(f"`--repeats` must be between 1 and 100; got {self.repeats}.")
        if self.metric not in ("best", "final"):
            raise ConfigError(f"`--metric` must be best or final; got {self.metric!r}.")
        if self.timeout_hours is not None and not self.timeout_hours > 0:
            raise ConfigError(f"`timeout_hours` must be above 0; got {self.timeout_hours:g}.")
        if not 1 <= self.parallel <= 1000:
            raise ConfigError(f"`--parallel` must be between 1 and 1000; got {self.parallel}.")
        if self.sampler == "grid":
            if any(not p.choices for p in self.params):
                ranged = next(p.name for p in self.params if not p.choices)
                raise ConfigError(
                    f"`--sampler grid` needs a list of choices for every hyperparameter; `{ranged}` is a range."
                )
            points = math.prod(len(p.choices) for p in self.params)
            object.__setattr__(self, "trials", min(self.trials, points))  # each grid point once

    @property
    def epochs(self) -> int:
        """The epochs of every run (fixed, or the config default)."""
        return int(self.fixed.get("epochs", ExperimentConfig().epochs))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (what the study row keeps)."""
        data = dataclasses.asdict(self)
        data["params"] = [param.to_dict() for param in self.params]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizeSettings:
        """Inverse of `to_dict`."""
        params = tuple(Param(**{**p, "choices": tuple(p.get("choices", ()))}) for p in data["params"])
        return cls(**{**data, "params": params})


def storage_url(store_path: Path) -> str:
    """Optuna's storage for a store: ``sqlite:///<store>/optuna.sqlite3`` (what optuna-dashboard opens)."""
    return f"sqlite:///{Path(store_path).resolve() / OPTUNA_FILE}"


def optuna_study(store_path: Path, study: Study, draws: int = 0) -> Any:
    """The Optuna study of a kcnn study, with its sampler (seeded by the draws so far) and pruner."""
    optuna = import_optuna()
    settings = OptimizeSettings.from_dict(study.settings)
    seed = settings.seed + draws  # a sampler rebuilt for each advance must not repeat its first draws
    if settings.sampler == "grid":
        sampler = optuna.samplers.GridSampler({p.name: list(p.choices) for p in settings.params}, seed=seed)
    elif settings.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    if settings.pruner == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=max(2, settings.parallel), n_warmup_steps=1)
    elif settings.pruner == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=settings.epochs, reduction_factor=3)
    else:
        pruner = optuna.pruners.NopPruner()
    return optuna.create_study(
        storage=_storage(storage_url(store_path)),
        study_name=f"kcnn-study-{study.id}",
        direction="maximize",
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


@functools.lru_cache(maxsize=4)
def _storage(url: str) -> Any:
    """One storage object per process and file (SQLAlchemy engines are costly to make)."""
    optuna = import_optuna()
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})


def start_optimize(
    store: Store, settings: OptimizeSettings, prepare: Callable[[ExperimentConfig], ExperimentConfig]
) -> int:
    """Create an Optuna study in the store and queue its first trials; the study id.

    Args:
        store: The store.
        settings: The study.
        prepare: Settles a config's dataset and ``auto`` colour mode (`kcnn.queue.submit`), applied to the
            fixed values once, so that the trials' configs are keyed as stored.

    Raises:
        ConfigError: If the fixed values are not a valid config on their own terms.
        KcnnError: If Optuna is missing.
    """
    import_optuna()
    base = {**settings.fixed}
    try:
        probe = ExperimentConfig(**base)
    except ConfigError as error:
        if not any(p.name in str(error) for p in settings.params):
            raise
        probe = None  # the fixed values need a searched one to be valid: each trial is checked on its own
    if probe is not None:
        prepared = prepare(probe)
        base["dataset"], base["color_mode"] = prepared.dataset, prepared.color_mode
    settings = dataclasses.replace(settings, fixed=base)
    study_id = store.create_study("optimize", settings.to_dict())
    try:
        optuna_study(store.path, store.get_study(study_id))
        store.advance_study_outside_lock(study_id, decide_optimize(store.path))
    except BaseException as error:  # never leave a study running that could not take its first step
        store.stop_study(study_id, f"ended: its first step failed ({type(error).__name__}: {error})")
        raise
    return study_id


def probe_optimize(study: Study, own: list[Run], runs_of: Callable[[Iterable[str]], list[Run]]) -> StudyStep | None:
    """Whether the study has something to do now (no Optuna call: this runs on every worker poll)."""
    settings = OptimizeSettings.from_dict(study.settings)
    trials = study.progress.get("trials", {})
    running = [int(n) for n, info in trials.items() if info["state"] == TrialState.RUNNING]
    by_trial = _runs_by_trial(own)
    for number in running:
        twin = trials[str(number)].get("same_as")
        if twin is not None:
            if trials.get(str(twin), {}).get("state") != TrialState.RUNNING:
                return StudyStep(note="a trial finished")
            continue
        runs = by_trial.get(number, [])
        pruned = any(run.state == RunState.PRUNED for run in runs)
        if all(run.state in FINISHED for run in runs) or (pruned and any(run.state == RunState.QUEUED for run in runs)):
            return StudyStep(note="a trial finished")
    asked = study.progress.get("asked", 0)
    if len(running) < settings.parallel and asked < settings.trials and not _timed_out(study, settings):
        return StudyStep(note="room for a trial")
    if not running:
        return StudyStep(note="budget spent")
    return None


def decide_optimize(
    store_path: Path,
) -> Callable[[Study, list[Run], Callable[[Iterable[str]], list[Run]]], StudyStep | None]:
    """The decision of one advance of an Optuna study whose storage sits in `store_path` (see the module)."""

    def decide(study: Study, own: list[Run], runs_of: Callable[[Iterable[str]], list[Run]]) -> StudyStep | None:
        if probe_optimize(study, own, runs_of) is None:
            return None
        optuna = import_optuna()
        settings = OptimizeSettings.from_dict(study.settings)
        progress = {**study.progress}
        trials: dict[str, dict[str, Any]] = {n: dict(info) for n, info in progress.get("trials", {}).items()}
        asked = int(progress.get("asked", 0))
        ostudy = optuna_study(store_path, study, draws=asked)
        state = optuna.trial.TrialState
        in_optuna = ostudy.get_trials(deepcopy=False)
        finished = {frozen.number for frozen in in_optuna if frozen.state != state.RUNNING}

        def tell(number: int, value: float | None = None, outcome: Any = None) -> None:
            """Tell Optuna once (a trial finished by a dropped step or by another worker is not told again)."""
            if number in finished:
                return
            try:
                ostudy.tell(number, value, state=outcome, skip_if_finished=True)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another worker told it between our read and our tell
            except RuntimeError as error:  # the grid sampler stops the study when its grid is done: fine here
                if "objective function" not in str(error):
                    raise
            finished.add(number)

        for frozen in in_optuna:
            if frozen.state == state.RUNNING and str(frozen.number) not in trials:  # asked by a rolled-back advance
                tell(frozen.number, outcome=state.FAIL)
        step = StudyStep()
        by_trial = _runs_by_trial(own)
        for number, info in trials.items():
            if info["state"] != TrialState.RUNNING:
                continue
            if info.get("same_as") is not None:  # the same configuration as a trial in flight: its outcome
                twin = trials[str(info["same_as"])]
                if twin["state"] == TrialState.RUNNING:
                    continue
                info["state"], info["value"] = twin["state"], twin.get("value")
                outcome = {TrialState.PRUNED: state.PRUNED, TrialState.COMPLETE: None}.get(twin["state"], state.FAIL)
                tell(int(number), info["value"] if outcome is None else None, outcome)
                continue
            runs = by_trial.get(int(number), []) + _reused(runs_of, info)
            if any(run.state == RunState.PRUNED for run in runs):
                step.prune += [run.id for run in runs if run.state == RunState.QUEUED]
                if any(run.state == RunState.RUNNING for run in runs):
                    continue  # they see the pruner's decision at their next epoch
                tell(int(number), outcome=state.PRUNED)
                info["state"] = TrialState.PRUNED
            elif runs and all(run.state in FINISHED for run in runs):
                scores = [_metric(run, settings.metric) for run in runs if run.state == RunState.DONE]
                found = [score for score in scores if score is not None]
                if found:
                    info["value"] = sum(found) / len(found)
                    tell(int(number), info["value"])
                    info["state"] = TrialState.COMPLETE
                else:
                    tell(int(number), outcome=state.FAIL)
                    info["state"] = TrialState.FAILED
        running = sum(info["state"] == TrialState.RUNNING for info in trials.values())
        invalid_in_a_row = 0
        while running < settings.parallel and asked < settings.trials and not _timed_out(study, settings):
            trial = ostudy.ask()
            asked += 1
            values = {param.name: param.suggest(trial) for param in settings.params}
            shown = {name: format_value(name, value) for name, value in values.items()}
            try:
                config = ExperimentConfig(**{**settings.fixed, **values, "seed": settings.seed})
                _check_memory(config)
            except ConfigError as error:
                trial.set_user_attr("kcnn_error", str(error))
                tell(trial.number, outcome=state.FAIL)
                trials[str(trial.number)] = {"state": TrialState.INVALID, "params": shown, "reason": str(error)}
                invalid_in_a_row += 1
                if invalid_in_a_row >= MAX_INVALID_IN_A_ROW:
                    break
                continue
            invalid_in_a_row = 0
            key = config.config_key
            trial.set_user_attr("config_key", key)
            entry: dict[str, Any] = {"state": TrialState.RUNNING, "params": shown, "key": key}
            in_flight = next((n for n, other in trials.items() if other["state"] == TrialState.RUNNING
                         and other.get("key") == key and other.get("same_as") is None), None)  # fmt: skip
            if in_flight is not None:  # asked again while in flight: it takes that trial's outcome, no run queued
                trials[str(trial.number)] = {**entry, "same_as": int(in_flight)}
                running += 1
                continue
            needed = [
                (settings.seed + offset, fold) for offset in range(settings.repeats) for fold in range(config.folds)
            ]
            done = {(run.seed, run.fold): run for run in runs_of([key]) if run.state == RunState.DONE}
            reused = [done[pair] for pair in needed if pair in done]  # runs are unique by (key, seed, fold)
            if reused:
                entry["reused"] = [run.id for run in reused]
            if len(reused) == len(needed):  # every run it needs is done already: told at no compute
                reused_values = [v for v in (_metric(run, settings.metric) for run in reused) if v is not None]
                if reused_values:
                    entry["state"], entry["value"] = TrialState.COMPLETE, sum(reused_values) / len(reused_values)
                    tell(trial.number, entry["value"])
                else:
                    entry["state"] = TrialState.FAILED
                    tell(trial.number, outcome=state.FAIL)
                trials[str(trial.number)] = entry
                continue
            for seed, fold in needed:
                if (seed, fold) not in done:
                    run = NewRun.of(config.replace(seed=seed, fold=fold))
                    step.new_runs.append(dataclasses.replace(run, trial=trial.number))
            trials[str(trial.number)] = entry
            running += 1
        told = sum(info["state"] != TrialState.RUNNING for info in trials.values())
        step.progress = {**progress, "trials": trials, "asked": asked, "told": told}
        gave_up = invalid_in_a_row >= MAX_INVALID_IN_A_ROW
        if running == 0 and (asked >= settings.trials or _timed_out(study, settings) or gave_up):
            step.finish = _verdict(trials, settings, asked, gave_up)
        elif step.new_runs:
            step.note = f"{len(step.new_runs)} run(s) queued for new trial(s)"
        else:
            step.note = f"{told} trial(s) told"
        return step

    return decide


def pruning_check(store: Store, study: Study, run: Run) -> Callable[[Any], None]:
    """What a study run does after each epoch: report the trial's intermediate value, then ask the pruner.

    Raises (from the returned check):
        Pruned: When the pruner stops the trial.
    """
    optuna = import_optuna()
    settings = OptimizeSettings.from_dict(study.settings)
    if run.trial is None or str(run.trial) not in study.progress.get("trials", {}):
        return lambda record: None
    ostudy = optuna_study(store.path, study)
    # Optuna has no public way yet to report for a trial asked in another process (optuna/optuna#2177, "allow
    # reporting and pruning by restoring Trials"): the trial's id comes from the storage's public lookup, and
    # `Trial` is built with its documented constructor.
    storage = _storage(storage_url(store.path))
    study_id = storage.get_study_id_from_name(ostudy.study_name)
    trial = optuna.trial.Trial(ostudy, storage.get_trial_id_from_study_id_trial_number(study_id, run.trial))
    history: list[float] = []

    def check(record: Any) -> None:
        history.append(record.val_accuracy)
        value = _intermediate(store, study, run, record.epoch, history, settings)
        if value is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a step already reported by a sibling seed is ignored
                trial.report(value, record.epoch)
        if record.epoch < settings.epochs and trial.should_prune():
            raise Pruned(
                f"pruned by the {settings.pruner} pruner after epoch {record.epoch} of {settings.epochs} "
                f"(trial {run.trial}" + (f" at {value:.2%})" if value is not None else ")")
            )

    return check


def _intermediate(
    store: Store, study: Study, run: Run, epoch: int, history: list[float], settings: OptimizeSettings
) -> float | None:
    """The trial's value at `epoch`: this run's, or the mean over its seeds once all of them reached it."""
    own = max(history) if settings.metric == "best" else history[-1]
    if settings.repeats == 1 or not math.isfinite(own):
        return own if math.isfinite(own) else None
    siblings = [r for r in store.study_runs(study.id) if r.trial == run.trial and r.id != run.id]
    values = [own]
    for sibling in siblings:
        accuracies = [e["val_accuracy"] for e in store.epochs(sibling.id) if e["epoch"] <= epoch]
        if len(accuracies) < epoch or any(a is None for a in accuracies):
            return None  # not every seed has reached this epoch yet
        values.append(max(accuracies) if settings.metric == "best" else accuracies[-1])
    return sum(values) / len(values)


def _check_memory(config: ExperimentConfig) -> None:
    """Refuse a trial too large for this machine's memory (`kcnn.queue.memory`).

    An unreadable dataset is left to the trial's runs, which fail with the data's own reason.
    """
    try:
        images = dataset_images(config.dataset)
    except DataError:
        return
    check_fits(config, images)


def _reused(runs_of: Callable[[Iterable[str]], list[Run]], info: dict[str, Any]) -> list[Run]:
    """The done runs (of any study, or none) a trial counts as its own: same key, seed and fold."""
    ids = set(info.get("reused", ()))
    return [run for run in runs_of([info["key"]]) if run.id in ids] if ids else []


def _runs_by_trial(runs: Iterable[Run]) -> dict[int, list[Run]]:
    grouped: dict[int, list[Run]] = {}
    for run in runs:
        if run.trial is not None:
            grouped.setdefault(run.trial, []).append(run)
    return grouped


def _metric(run: Run, metric: str) -> float | None:
    return run.best_val_accuracy if metric == "best" else run.final_val_accuracy


def _timed_out(study: Study, settings: OptimizeSettings) -> bool:
    return settings.timeout_hours is not None and time.time() - study.created > settings.timeout_hours * 3600


def _verdict(trials: dict[str, dict[str, Any]], settings: OptimizeSettings, asked: int, gave_up: bool) -> str:
    counts = {state: sum(info["state"] == state for info in trials.values()) for state in TrialState}
    told = [counts[state] for state in TrialState if state is not TrialState.RUNNING]
    tally = "{} complete, {} pruned, {} failed, {} impossible of ".format(*told) + f"{asked} trial(s)"
    why = " (gave up: the last 50 configurations asked for were impossible)" if gave_up else ""
    complete = {n: info for n, info in trials.items() if info["state"] == TrialState.COMPLETE}
    if not complete:
        return f"no trial completed{why}: {tally}"
    number, best = max(complete.items(), key=lambda item: item[1]["value"])
    params = ", ".join(f"{name}={value}" for name, value in best["params"].items())
    seeds = f"mean of {settings.repeats} seeds" if settings.repeats > 1 else "one seed"
    return (
        f"best trial {number}: {best['value']:.2%} {settings.metric} validation accuracy ({seeds}) with {params} "
        f"(config {best['key'][:8]}){why}; {tally}"
    )


def _label(name: str, value: Any) -> Any:
    """A checked choice as Optuna stores it: per-layer lists become ``"2,1"``; numbers and text stay as they are."""
    if name == "channels":
        return ",".join(map(str, value))
    return format_value(name, value) if isinstance(value, tuple) else value
