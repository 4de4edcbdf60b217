"""Budgeted studies: which hyperparameters matter and which configuration wins, within a wall-time budget.

``kcnn study answer SWEEP.toml --budget 5m`` spends the budget where runs decide something, in three phases,
advanced by ordinary workers like races and Optuna studies (`decide_answer` is a pure function of the
store's runs, taken inside the store's write transaction, so the study survives any worker being killed):

1. **Screen** (about `SCREEN_SHARE` of the budget): a balanced fraction of the grid — every value of every
   hyperparameter about equally often, pairs of values as evenly as the fraction allows (`balanced_fraction`)
   — with `AnswerSettings.seeds` seeds per point, cheapest points first. Its runs give the main effects,
   tested against seed noise with ``kcnn effects``' maths when the study is shown.
2. **Focus** (about `FOCUS_SHARE`): a main-effects model fitted to the screening runs predicts every
   configuration of the grid, tried or not; those it leaves plausible (predicted within two residual
   standard deviations of the best prediction), best predicted first, are trained (`seeds` seeds each; a
   screened point keeps its runs) under **successive halving** (`kcnn.queue.halving`): at a few rung epochs
   a configuration goes on only if its seeds' mean is in the top third of the study's configurations at that
   epoch, so a weak one costs a few epochs, not the whole run. The plan counts the first `RACE_SIZE` new
   configurations at their full cost and the others at the share halving expects to train.
3. **Decide**: a race among the top configurations by observed mean (each round one more seed to each,
   Welch's test against the leader with Holm's correction, as `kcnn race`), while the budget allows.

A cost model (`CostModel`) predicts each run's seconds from its shape plan (training FLOPs) and what the
store measured on this machine (FLOP/s and a fixed cost per run, refitted at every step), so the plan fits
the budget and **a run that cannot finish inside the budget is not queued**; when the budget is spent,
queued runs are cancelled and the study ends with its answer as soon as its running runs finish.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kcnn import stats
from kcnn.config import ExperimentConfig, group_value
from kcnn.errors import ConfigError
from kcnn.queue.halving import expected_share
from kcnn.queue.race import RaceSettings, holm_rejections, look_alpha
from kcnn.store import NewRun, Run, RunState, Store, Study, StudyStep

#: Shares of the budget the screening and the focus phases plan for; the race takes what is left.
SCREEN_SHARE = 0.5
FOCUS_SHARE = 0.3
#: Training FLOP/s per worker slot assumed before this machine has measured any run (a laptop core measures
#: 5e10-1e11 on kcnn's models here; a GPU far more), and the fixed cost of a run (start, data, model build,
#: saves) in seconds. The first finished runs replace both.
PRIOR_FLOPS = 5e10
PRIOR_OVERHEAD = 1.5
#: Fractions weighed one by one (every subset of the grid of the fraction's size) when there are at most this many.
EXHAUSTIVE = 5000
#: Configurations the final race compares at most, and the seeds after which it stops adding any (`kcnn race`'s).
RACE_SIZE = 3
MAX_RACE_REPEATS = 10
PENDING = (RunState.QUEUED, RunState.RUNNING)


def clock() -> float:
    """Now (seconds since the epoch); replaced in tests."""
    return time.time()


@dataclass(frozen=True)
class AnswerSettings:
    """What a budgeted study was asked: the grid, the fixed values, the budget and how it is spent."""

    grid: dict[str, list[Any]]
    """Each varying hyperparameter's values (as in a sweep file's ``[grid]``)."""
    fixed: dict[str, Any] = field(default_factory=dict)
    """Values shared by every run (``[fixed]``)."""
    budget_seconds: float = 300.0
    """Wall time from the study's start to its answer."""
    workers: int = 1
    """Worker slots training the study's runs side by side (the budget is wall time)."""
    seeds: int = 2
    """Seeds per configuration in the screening and focus phases (at least 2: seed noise must be known)."""
    metric: str = "best"
    plan_seed: int = 0
    """Seed of the screening fraction's choice among equally balanced ones."""
    train_images: int = 0
    """Training images per epoch (from the dataset, at the start), for the cost model."""

    def __post_init__(self) -> None:
        varying = {name: values for name, values in self.grid.items() if len(values) > 1}
        if not varying:
            raise ConfigError("A budgeted study needs a grid with at least one hyperparameter of two values or more.")
        if "seed" in self.grid:
            raise ConfigError("The study chooses the seeds: leave `seed` out of the grid.")
        if not self.budget_seconds > 0 or not math.isfinite(self.budget_seconds):
            raise ConfigError(f"The budget must be a positive duration, such as 5m; got {self.budget_seconds!r}.")
        if not 1 <= self.workers <= 1024:
            raise ConfigError(f"`workers` must be between 1 and 1024; got {self.workers!r}.")
        if not 2 <= self.seeds <= 20:
            raise ConfigError(f"`seeds` must be between 2 and 20 (seed noise must be measured); got {self.seeds!r}.")
        if self.metric not in ("best", "final"):
            raise ConfigError(f"`metric` must be best or final; got {self.metric!r}.")
        object.__setattr__(self, "grid", varying)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (what the study row keeps)."""
        return {"grid": _plain(self.grid), "fixed": _plain(self.fixed), "budget_seconds": self.budget_seconds,
                "workers": self.workers, "seeds": self.seeds, "metric": self.metric, "plan_seed": self.plan_seed,
                "train_images": self.train_images}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerSettings:
        """Inverse of `to_dict`."""
        return cls(**data)

    def config(self, point: dict[str, Any], seed: int = 0) -> ExperimentConfig:
        """The experiment of one grid point and seed."""
        return ExperimentConfig(**{**self.fixed, **point, "seed": seed})

    def points(self) -> list[dict[str, Any]]:
        """Every point of the grid."""
        names = sorted(self.grid)
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*(self.grid[n] for n in names))]


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Tuples as lists (JSON), recursively."""

    def plain(value: Any) -> Any:
        return [plain(item) for item in value] if isinstance(value, list | tuple) else value

    return {name: plain(value) for name, value in values.items()}


@dataclass(frozen=True)
class CostModel:
    """Seconds a run takes on a worker slot: a fixed cost plus its training FLOPs at the measured rate."""

    flops_per_second: float = PRIOR_FLOPS
    overhead: float = PRIOR_OVERHEAD
    measured: int = 0
    """Finished runs the model was fitted to (0: the priors)."""

    @classmethod
    def fit(cls, runs: Iterable[Run]) -> CostModel:
        """From finished runs: their training FLOP/s (total FLOPs over total training time) and fixed cost."""
        flops = seconds = 0.0
        overheads = []
        for run in runs:
            if run.state != RunState.DONE or not run.train_seconds or not run.flops_per_second:
                continue
            flops += run.flops_per_second * run.train_seconds
            seconds += run.train_seconds
            if run.started and run.finished:
                overheads.append(max(run.finished - run.started - run.train_seconds, 0.0))
        if seconds <= 0:
            return cls()
        overhead = float(np.median(overheads)) if overheads else PRIOR_OVERHEAD
        return cls(flops / seconds, overhead, len(overheads) or 1)

    def seconds(self, config: ExperimentConfig, train_images: int) -> float:
        """The predicted wall time of one run of `config`."""
        flops = 3 * config.plan(num_classes=2).flops * max(train_images, 1) * config.epochs
        return self.overhead + flops / self.flops_per_second


def balanced_fraction(
    grid: dict[str, list[Any]], size: int, cost: Callable[[dict[str, Any]], float], seed: int = 0, restarts: int = 8
) -> list[dict[str, Any]]:
    """`size` points of the grid, as balanced as possible, cheapest first.

    Balance is measured by how far each value of each hyperparameter, and each pair of values of two of them,
    is from appearing equally often (the sum of squared deviations: 0 for an orthogonal array of strength 2).
    A small grid's fractions are all weighed (`EXHAUSTIVE`). Otherwise each of `restarts` seeded random
    orders gives a start, greedy or not, (each next point the one that evens the
    counts most), improved by swapping a chosen point for an unchosen one while that lowers the imbalance, or
    keeps it and lowers the cost; the most balanced (then cheapest) result is kept, cheap points first.
    """
    names = sorted(grid)
    points = [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]
    size = min(size, len(points))
    known: dict[str, float] = {}

    def cached(point: dict[str, Any]) -> float:
        key = repr(sorted(point.items()))
        if key not in known:
            known[key] = cost(point)
        return known[key]

    best: tuple[float, float, list[dict[str, Any]]] | None = None
    if math.comb(len(points), size) <= EXHAUSTIVE:  # a small grid: every fraction of this size is weighed
        for subset in itertools.combinations(points, size):
            balance = _Balance(names, grid, size)
            for point in subset:
                balance.add(point)
            key = (balance.imbalance(), sum(map(cached, subset)))
            if best is None or key < best[:2]:
                best = (*key, list(subset))
        assert best is not None
        return sorted(best[2], key=cached)
    for restart in range(restarts):
        candidates = list(points)
        random.Random(f"{seed}:{restart}").shuffle(candidates)
        # Even restarts start greedily, odd ones from the random order itself: the greedy first steps (a point
        # and its complement) can rule out the orthogonal array, which a swap at a time cannot reach again.
        balance, chosen = _balanced_start(names, grid, candidates, size, cached, greedy=restart % 2 == 0)
        total = sum(map(cached, chosen))
        if best is None or (balance.imbalance(), total) < best[:2]:
            best = (balance.imbalance(), total, chosen)
    assert best is not None
    return sorted(best[2], key=cached)


def _balanced_start(
    names: list[str], grid: dict[str, list[Any]], candidates: list[dict[str, Any]], size: int,
    cost: Callable[[dict[str, Any]], float], greedy: bool = True,
) -> tuple[_Balance, list[dict[str, Any]]]:  # fmt: skip
    """A fraction of `size` points from `candidates` (greedy, or their first ones), improved by swaps."""
    balance = _Balance(names, grid, size)
    chosen: list[dict[str, Any]] = []
    remaining = list(candidates)
    if not greedy:
        chosen, remaining = remaining[:size], remaining[size:]
        for point in chosen:
            balance.add(point)
    while len(chosen) < size:
        pick = min(remaining, key=lambda point: (balance.delta_add(point), cost(point)))
        remaining.remove(pick)
        chosen.append(pick)
        balance.add(pick)
    improved = True
    while improved:
        improved = False
        for position, old in enumerate(chosen):
            balance.remove(old)
            best_key, best_new = (balance.delta_add(old), cost(old)), None
            for new in remaining:
                key = (balance.delta_add(new), cost(new))
                if key < best_key:
                    best_key, best_new = key, new
            if best_new is None:
                balance.add(old)
                continue
            chosen[position] = best_new
            remaining.remove(best_new)
            remaining.append(old)
            balance.add(best_new)
            improved = True
    return balance, chosen


class _Balance:
    """Counts of each value and each pair of values among chosen points, against equal counts."""

    def __init__(self, names: list[str], grid: dict[str, list[Any]], size: int) -> None:
        self.names = names
        self.levels = {name: len(grid[name]) for name in names}
        self.targets = {name: size / len(grid[name]) for name in names}
        self.pair_targets = {(a, b): size / (len(grid[a]) * len(grid[b])) for a, b in itertools.combinations(names, 2)}
        self.singles: dict[tuple[str, str], int] = {}
        self.pairs: dict[tuple[str, str, str, str], int] = {}

    def _marks(self, point: dict[str, Any]) -> list[tuple[str, str]]:
        return [(name, repr(point[name])) for name in self.names]

    def delta_add(self, point: dict[str, Any]) -> float:
        """How much adding `point` changes the imbalance (negative: more balanced)."""
        marks = self._marks(point)
        change = 0.0
        for mark in marks:
            change += 2 * (self.singles.get(mark, 0) - self.targets[mark[0]]) + 1
        for first, second in itertools.combinations(marks, 2):
            target = self.pair_targets[(first[0], second[0])]
            change += 2 * (self.pairs.get((*first, *second), 0) - target) + 1
        return change

    def add(self, point: dict[str, Any], step: int = 1) -> None:
        marks = self._marks(point)
        for mark in marks:
            self.singles[mark] = self.singles.get(mark, 0) + step
        for first, second in itertools.combinations(marks, 2):
            self.pairs[(*first, *second)] = self.pairs.get((*first, *second), 0) + step

    def remove(self, point: dict[str, Any]) -> None:
        self.add(point, -1)

    def imbalance(self) -> float:
        """The sum of squared deviations from equal counts, values and pairs that never appear included."""
        total = 0.0
        for name in self.names:
            seen = [count for (owner, _), count in self.singles.items() if owner == name and count]
            total += sum((count - self.targets[name]) ** 2 for count in seen)
            total += (self.levels[name] - len(seen)) * self.targets[name] ** 2
        for (first, second), target in self.pair_targets.items():
            seen = [count for (a, _, b, _), count in self.pairs.items() if (a, b) == (first, second) and count]
            total += sum((count - target) ** 2 for count in seen)
            total += (self.levels[first] * self.levels[second] - len(seen)) * target**2
        return total


def main_effects_fit(
    grid: dict[str, list[Any]], observed: Sequence[tuple[dict[str, Any], float]]
) -> tuple[list[tuple[dict[str, Any], float]], float]:
    """Every grid point with what a main-effects model of `observed` predicts (best first), and its spread.

    The model is additive, fitted by least squares on treatment-coded values; a value never observed gets its
    hyperparameter's mean effect. The spread is the fit's residual standard deviation (`inf` with no residual
    degrees of freedom): how far a prediction may be from what the configuration would measure.
    """
    names = sorted(grid)
    columns = [(name, repr(value)) for name in names for value in grid[name][1:]]
    index = {column: position for position, column in enumerate(columns)}

    def row(point: dict[str, Any]) -> np.ndarray:
        vector = np.zeros(len(columns) + 1)
        vector[0] = 1.0
        for name in names:
            position = index.get((name, repr(point[name])))
            if position is not None:
                vector[position + 1] = 1.0
        return vector

    design = np.array([row(point) for point, _ in observed])
    y = np.array([value for _, value in observed])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    freedom = len(y) - np.linalg.matrix_rank(design)
    spread = math.sqrt(float(np.sum((y - design @ beta) ** 2)) / freedom) if freedom > 0 else math.inf
    points = [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]
    ranked = sorted(((point, float(row(point) @ beta)) for point in points), key=lambda item: -item[1])
    return ranked, spread


def start_answer(store: Store, settings: AnswerSettings) -> int:
    """Create a budgeted study and queue its screening runs; the study id.

    Raises:
        ConfigError: If a grid point is not a valid configuration (its geometry, its fields).
    """
    for point in settings.points():
        settings.config(point)  # every point must be a valid experiment before anything is written
    study_id = store.create_study("answer", settings.to_dict())
    store.advance_study(study_id, decide_answer)
    return study_id


def decide_answer(study: Study, own: list[Run], runs_of: Callable[[Iterable[str]], list[Run]]) -> StudyStep | None:
    """The study's next step (see the module docstring), or `None` while nothing is to be done."""
    settings = AnswerSettings.from_dict(study.settings)
    progress = dict(study.progress)
    phase = progress.get("phase", "start")
    now = clock()
    elapsed = now - study.created
    left = settings.budget_seconds - elapsed
    model = CostModel.fit(own)
    pending = [run for run in own if run.state in PENDING]
    queued = [run for run in own if run.state == RunState.QUEUED]
    if left <= 0 or phase == "over":
        if queued:
            return StudyStep(cancel=[run.id for run in queued], progress={**progress, "phase": "over"},
                             note=f"budget spent: {len(queued)} queued run(s) cancelled")  # fmt: skip
        if any(run.state == RunState.RUNNING for run in own):
            return None
        return _finish(settings, own, progress, elapsed)
    if phase == "start":
        return _screen(settings, progress, model)
    halved = {run.config_key for run in own if run.state == RunState.PRUNED}
    leftovers = [run.id for run in queued if run.config_key in halved]
    if leftovers:  # a configuration is pruned whole: its seeds not yet started end pruned, untrained
        return StudyStep(prune=leftovers, note=f"successive halving: {len(leftovers)} queued seed(s) of pruned "
                                                "configurations pruned")  # fmt: skip
    if pending:
        return None
    if phase == "screen":
        step = _focus(settings, own, progress, model, left)
        if step is not None:
            return step
        phase = "focus"
    if phase in ("focus", "race"):
        return _race_round(settings, own, progress, model, left, elapsed)
    return None


def _cost(settings: AnswerSettings, model: CostModel) -> Callable[[dict[str, Any]], float]:
    return lambda point: model.seconds(settings.config(point), settings.train_images)


def _fits(seconds: float, settings: AnswerSettings, left: float) -> bool:
    """Whether runs of these summed seconds finish within `left` on the study's worker slots."""
    return seconds / settings.workers <= left


def _screen(settings: AnswerSettings, progress: dict[str, Any], model: CostModel) -> StudyStep:
    """Queue the screening fraction: as many balanced points as `SCREEN_SHARE` of the budget pays for."""
    cost = _cost(settings, model)
    every = settings.points()
    minimum = min(len(every), 1 + sum(len(values) - 1 for values in settings.grid.values()))
    share = SCREEN_SHARE * settings.budget_seconds

    def affordable(size: int) -> bool:
        fraction = balanced_fraction(settings.grid, size, cost, settings.plan_seed, restarts=1)
        return _fits(sum(map(cost, fraction)) * settings.seeds, settings, share)

    low, high = minimum, len(every)  # the largest affordable size, by bisection (at least the minimum)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if affordable(middle) else (low, middle - 1)
    points = balanced_fraction(settings.grid, low, cost, settings.plan_seed)
    runs = [NewRun.of(settings.config(point, seed)) for point in points for seed in range(settings.seeds)]
    planned = sum(map(cost, points)) * settings.seeds / settings.workers
    note = (f"screening: {len(points)} of {len(every)} configurations × {settings.seeds} seeds, about {planned:.0f} s "
            f"of the {settings.budget_seconds:.0f} s budget")  # fmt: skip
    progress = {**progress, "phase": "screen", "screened": len(points), "screen_seconds": round(planned, 1)}
    return StudyStep(new_runs=runs, progress=progress, note=note)


def tight_budget_line(settings: AnswerSettings, screen_seconds: float) -> str | None:
    """One line when even the smallest balanced screen takes more than its share of the budget, else `None`.

    Such a study can still say which hyperparameters matter, but has little or nothing left to focus and race;
    the line says which budget would leave the focus and the race their shares.
    """
    if screen_seconds <= SCREEN_SHARE * settings.budget_seconds:
        return None
    enough = f"--budget {math.ceil(screen_seconds / SCREEN_SHARE / 60)}m would leave the focus and the race their share"
    budget = f"{settings.budget_seconds:.0f} s budget"
    if screen_seconds > settings.budget_seconds:
        return (f"the smallest balanced screen needs about {screen_seconds:.0f} s (predicted), more than the {budget}: "
                f"its costliest runs may not finish, which unbalances it; {enough}")  # fmt: skip
    return (f"the smallest balanced screen needs about {screen_seconds:.0f} s of the {budget} (predicted), leaving "
            f"little to focus and race; {enough}")  # fmt: skip


def _observed(settings: AnswerSettings, runs: Iterable[Run]) -> dict[str, tuple[dict[str, Any], list[float]]]:
    """Each configuration's point and its done runs' metric values, by config key."""
    found: dict[str, tuple[dict[str, Any], list[float]]] = {}
    for run in runs:
        value = run.best_val_accuracy if settings.metric == "best" else run.final_val_accuracy
        if run.state != RunState.DONE or value is None or run.config_problem is not None:
            continue
        config = run.config_dict
        point = {name: group_value(name, config.get(name)) for name in settings.grid}
        found.setdefault(run.config_key, (point, []))[1].append(float(value))
    return found


def _focus(
    settings: AnswerSettings, own: list[Run], progress: dict[str, Any], model: CostModel, left: float
) -> StudyStep | None:
    """Train the configurations the screening leaves plausible, best predicted first, under successive halving."""
    observed = _observed(settings, own)
    rows = [(point, value) for point, values in observed.values() for value in values]
    if len(rows) < 2:
        return None
    cost = _cost(settings, model)
    predicted, spread = main_effects_fit(_grouped(settings.grid), rows)
    plausible = [point for point, value in predicted if value >= predicted[0][1] - 2 * spread]
    known = {_point_key(point) for point, _ in observed.values()}
    share = expected_share(settings.config(predicted[0][0]).epochs)
    runs: list[NewRun] = []
    halving: list[str] = []
    spent = 0.0
    allowance = min(FOCUS_SHARE * settings.budget_seconds, left)
    for point in plausible:
        if _point_key(point) in known:
            continue
        full = cost(point) * settings.seeds
        seconds = full if len(halving) < RACE_SIZE else full * share
        if not _fits(spent + seconds, settings, allowance):
            continue
        spent += seconds
        configs = [settings.config(point, seed) for seed in range(settings.seeds)]
        halving.append(configs[0].config_key)
        runs += [NewRun.of(config) for config in configs]
    best = predicted[0][0]
    note = (f"focus: the screening's model predicts {_describe(best)} best; {len(halving)} of {len(plausible)} "
            f"plausible configuration(s) × {settings.seeds} seeds, under successive halving")  # fmt: skip
    progress = {**progress, "phase": "focus", "focused": len(halving), "halving": halving}
    return StudyStep(new_runs=runs, progress=progress, note=note)


def _race_round(
    settings: AnswerSettings, own: list[Run], progress: dict[str, Any], model: CostModel, left: float, elapsed: float
) -> StudyStep:
    """One more seed to each configuration still in the race, if it fits the budget; else the answer."""
    observed = _observed(settings, own)
    ranked = sorted(observed, key=lambda key: -stats.mean(observed[key][1]))
    contenders = [key for key in ranked if len(observed[key][1]) >= 2][:RACE_SIZE]
    dropped = set(progress.get("left_race", []))
    active = [key for key in contenders if key not in dropped]
    if len(active) >= 2:
        leader = active[0]
        tests = {key: stats.welch_test(observed[leader][1], observed[key][1]) for key in active[1:]}
        for key in holm_rejections({key: test.p_value for key, test in tests.items()}, _race_level(settings)):
            dropped.add(key)
        active = [key for key in active if key not in dropped]
    cost = _cost(settings, model)
    round_seconds = sum(cost(observed[key][0]) for key in active)
    full = all(len(observed[key][1]) >= MAX_RACE_REPEATS for key in active)
    if len(active) < 2 or full or not _fits(round_seconds, settings, left):
        return _finish(settings, own, {**progress, "phase": "race", "left_race": sorted(dropped)}, elapsed)
    used = {key: {run.seed for run in own if run.config_key == key} for key in active}
    runs = [NewRun.of(settings.config(observed[key][0], max(used[key]) + 1)) for key in active]
    progress = {**progress, "phase": "race", "left_race": sorted(dropped), "rounds": progress.get("rounds", 0) + 1}
    return StudyStep(new_runs=runs, progress=progress, note=f"race: one more seed to each of {len(active)}")


def _race_level(settings: AnswerSettings) -> float:
    """The level of each race round's tests: Pocock's, for up to `MAX_RACE_REPEATS` looks (as `kcnn race`)."""
    race = RaceSettings(("leader", "rival"), MAX_RACE_REPEATS, 0.05, settings.metric, settings.seeds)
    return look_alpha(race)


def _finish(settings: AnswerSettings, own: list[Run], progress: dict[str, Any], elapsed: float) -> StudyStep:
    observed = _observed(settings, own)
    scored = {key: values for key, (_, values) in observed.items() if len(values) >= 2}
    if not scored:
        return StudyStep(progress={**progress, "phase": "done"},
                         finish="no answer: no configuration has two finished runs within the budget")  # fmt: skip
    ranked = sorted(scored, key=lambda key: -stats.mean(scored[key]))
    winner, values = ranked[0], scored[ranked[0]]
    low, high = stats.clipped(stats.t_interval(values))
    tests = [run.best_test_accuracy if settings.metric == "best" else run.test_accuracy
             for run in own if run.config_key == winner and run.state == RunState.DONE]  # fmt: skip
    found = [value for value in tests if value is not None]
    test = f"; test accuracy {stats.mean(found):.1%} (n={len(found)})" if found else ""
    how = "wins"
    if len(ranked) > 1:
        runner = ranked[1]
        gap = stats.welch_test(values, scored[runner])
        if gap.p_value <= _race_level(settings):
            how = f"wins (better than {runner[:8]} by {100 * gap.difference:.1f} points, p = {gap.p_value:.2g})"
        else:
            bound = max(abs(gap.low), abs(gap.high))
            how = (f"leads, not separable from {runner[:8]} (their difference is below {100 * bound:.1f} points "
                   f"with 95% confidence)")  # fmt: skip
    pruned = sum(run.state == RunState.PRUNED for run in own)
    halved = f" ({pruned} stopped early by successive halving)" if pruned else ""
    verdict = (
        f"{winner[:8]} ({_describe(observed[winner][0])}) {how} with {stats.mean(values):.1%} {settings.metric} "
        f"validation accuracy, 95% CI {low:.1%}–{high:.1%} (n={len(values)}){test}; {len(own)} runs{halved} in "
        f"{elapsed:.0f} s of the {settings.budget_seconds:.0f} s budget"
    )
    return StudyStep(progress={**progress, "phase": "done", "winner": winner}, finish=verdict)


def _grouped(grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The grid's values as runs are compared (`kcnn.config.group_value`: 2 on every layer is 2)."""
    return {name: [group_value(name, value) for value in values] for name, values in grid.items()}


def _point_key(point: dict[str, Any]) -> str:
    return repr(sorted((name, repr(value)) for name, value in point.items()))


def _describe(point: dict[str, Any]) -> str:
    from kcnn.config import format_value

    return ", ".join(f"{name}={format_value(name, value)}" for name, value in sorted(point.items()))
