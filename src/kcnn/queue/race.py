"""Races: spend repeats only where they can still change the answer to "which configuration wins?".

A race starts from a few configurations (the leaderboard's top N, or given keys) and adds seeds in
rounds. Before each round every configuration still in the race is compared with the current leader by
Welch's test on the metric; the p-values of the m comparisons are corrected with Holm's step-down
method (family-wise error ≤ `alpha`, valid under any dependence between the tests, and never less
powerful than Bonferroni). A configuration the leader beats at the corrected level leaves the race
("clearly worse"). The race ends when

* one configuration is left: it wins, and the verdict gives its gap to the runner-up with a 95% CI; or
* every configuration left has `max_repeats` runs: they are not separable, and the verdict bounds
  their difference ("below 0.8 points with 95% confidence", the largest |end| of the 95% CIs).

Otherwise each configuration left gets one more seed (the leader too: its mean is what the others are
measured against). A configuration first gets `min_repeats` runs, so that no test runs on one or two
values. Only runs on one validation split take part (cross-validated configurations are compared
fold by fold by ``kcnn compare``).

The decision is a pure function of the store's runs (`decide_race`), taken inside the store's write
transaction by whichever worker finishes a run: a race survives any worker being killed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kcnn import stats
from kcnn.config import ExperimentConfig
from kcnn.errors import ConfigError
from kcnn.store import NewRun, Run, RunState, Store, Study, StudyStep

#: Pocock's nominal two-sided level per look for an overall level of 0.05 with K equally spaced looks
#: (Pocock, Biometrika 64, 1977, table 1; K = 15 and 20 from Jennison & Turnbull, 2000, table 2.1).
POCOCK_05 = {1: 0.05, 2: 0.0294, 3: 0.0221, 4: 0.0182, 5: 0.0158, 6: 0.0142, 7: 0.0130, 8: 0.0120, 9: 0.0112,
             10: 0.0106, 15: 0.0086, 20: 0.0075}  # fmt: skip

#: Failed runs of one configuration in a race after which it leaves the race (its runs cannot finish).
MAX_FAILED = 3
PENDING = (RunState.QUEUED, RunState.RUNNING)


@dataclass(frozen=True)
class RaceSettings:
    """What a race was asked to do."""

    keys: tuple[str, ...]
    """The full config keys raced."""
    max_repeats: int = 10
    """Runs per configuration after which the race stops adding seeds."""
    alpha: float = 0.05
    """Family-wise significance level of each round's comparisons with the leader (Holm-corrected)."""
    metric: str = "best"
    """``best`` or ``final`` validation accuracy."""
    min_repeats: int = 3
    """Runs each configuration gets before the first comparison."""

    def __post_init__(self) -> None:
        if len(set(self.keys)) < 2:
            raise ConfigError("A race needs at least two configurations; give two keys or `--top 2` or more.")
        if not 2 <= self.max_repeats <= 1000:
            raise ConfigError(f"`--max-repeats` must be between 2 and 1000; got {self.max_repeats}.")
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"`--alpha` must be above 0 and below 0.5, such as 0.05; got {self.alpha:g}.")
        if self.metric not in ("best", "final"):
            raise ConfigError(f"`--metric` must be best or final; got {self.metric!r}.")
        object.__setattr__(self, "min_repeats", max(2, min(self.min_repeats, self.max_repeats)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (what the study row keeps)."""
        return {"keys": list(self.keys), "max_repeats": self.max_repeats, "alpha": self.alpha,
                "metric": self.metric, "min_repeats": self.min_repeats}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RaceSettings:
        """Inverse of `to_dict`."""
        return cls(tuple(data["keys"]), data["max_repeats"], data["alpha"], data["metric"], data["min_repeats"])


def start_race(store: Store, settings: RaceSettings) -> int:
    """Create a race in the store and queue its first round; the study id.

    Raises:
        ConfigError: If a key has no run to take its config from, or is cross-validated.
    """
    configs = _configs(store.runs_with_keys(settings.keys), settings.keys)
    for key in settings.keys:
        config = configs.get(key)
        if config is None:
            raise ConfigError(f"No run with config key {key} to race; `kcnn leaderboard` lists the keys.")
        if config.folds > 1:
            raise ConfigError(
                f"Configuration {key[:8]} is cross-validated (--folds {config.folds}); races add seeds to "
                "configurations validated on one split. Compare cross-validated ones with `kcnn compare`."
            )
    study_id = store.create_study("race", settings.to_dict())
    store.advance_study(study_id, decide_race)
    return study_id


def decide_race(study: Study, own: list[Run], runs_of: Callable[[Iterable[str]], list[Run]]) -> StudyStep | None:
    """The race's next step (see the module docstring), or `None` while its runs are still pending."""
    if any(run.state in PENDING for run in own):
        return None
    settings = RaceSettings.from_dict(study.settings)
    progress = dict(study.progress)
    dropped: dict[str, str] = dict(progress.get("dropped", {}))
    runs = runs_of(settings.keys)
    values = _values(runs, settings.metric)
    failed = {key: sum(r.state == RunState.FAILED and r.config_key == key for r in own) for key in settings.keys}
    for key in settings.keys:
        if key not in dropped and failed[key] >= MAX_FAILED:
            dropped[key] = f"{failed[key]} of its runs failed (`kcnn runs --state failed`)"
    active = [key for key in settings.keys if key not in dropped]
    base = {"round": progress.get("round", 0), "dropped": dropped, "queued": progress.get("queued", 0)}
    if len(active) < 2:
        return _finish(settings, values, active, base)
    short = {key: settings.min_repeats - len(values[key]) for key in active if len(values[key]) < settings.min_repeats}
    if short:
        return _queue_round(settings, runs, short, base, "first repeats")
    leader = max(active, key=lambda key: stats.mean(values[key]))
    others = [key for key in active if key != leader]
    tests = {key: stats.welch_test(values[leader], values[key]) for key in others}
    for key in holm_rejections({key: tests[key].p_value for key in others}, look_alpha(settings)):
        dropped[key] = f"clearly worse than {leader[:8]} (p = {tests[key].p_value:.3g}, Holm-corrected)"
    active = [key for key in active if key not in dropped]
    base["dropped"] = dropped
    if len(active) < 2 or all(len(values[key]) >= settings.max_repeats for key in active):
        return _finish(settings, values, active, base)
    more = {key: 1 for key in active if len(values[key]) < settings.max_repeats}
    return _queue_round(settings, runs, more, base, f"{len(active)} still in the race")


def look_alpha(settings: RaceSettings) -> float:
    """The level of each round's tests, so that looking after every round keeps the race's level near `alpha`.

    A race looks at its data up to ``max_repeats − min_repeats + 1`` times; testing at `alpha` each time
    would declare a winner between equal configurations far more often than `alpha` (12% of 100 simulated
    equal pairs at 0.05 and 10 repeats). At ``alpha = 0.05`` the per-look level is Pocock's (`POCOCK_05`,
    the next tabulated number of looks up); at other levels, Bonferroni's ``alpha / looks``.
    """
    looks = settings.max_repeats - settings.min_repeats + 1
    if settings.alpha == 0.05 and looks <= max(POCOCK_05):
        return POCOCK_05[min(k for k in POCOCK_05 if k >= looks)]
    return settings.alpha / looks


def holm_rejections(p_values: dict[str, float], alpha: float) -> list[str]:
    """Holm's step-down procedure: the hypotheses rejected at family-wise level `alpha`.

    Sort the m p-values; reject the i-th smallest (i = 1 … m) while it is at most ``alpha / (m − i + 1)``.
    """
    ordered = sorted(p_values, key=lambda key: p_values[key])
    rejected: list[str] = []
    for index, key in enumerate(ordered):
        if p_values[key] > alpha / (len(ordered) - index):
            break
        rejected.append(key)
    return rejected


def _values(runs: Sequence[Run], metric: str) -> dict[str, list[float]]:
    """Each configuration's metric over its done runs: the latest run of each seed."""
    latest: dict[tuple[str, int], float] = {}
    for run in runs:
        value = run.best_val_accuracy if metric == "best" else run.final_val_accuracy
        if run.state == RunState.DONE and value is not None:
            latest[(run.config_key, run.seed)] = value
    values: dict[str, list[float]] = {run.config_key: [] for run in runs}
    for (key, _), value in sorted(latest.items()):
        values[key].append(value)
    return values


def _queue_round(
    settings: RaceSettings, runs: Sequence[Run], wanted: dict[str, int], progress: dict[str, Any], why: str
) -> StudyStep:
    configs = _configs(runs, wanted)
    used: dict[str, set[int]] = {}
    for run in runs:
        used.setdefault(run.config_key, set()).add(run.seed)
    new_runs = []
    for key, count in wanted.items():
        seed = max(used.get(key, {-1})) + 1
        for offset in range(count):
            new_runs.append(NewRun.of(configs[key].replace(seed=seed + offset)))
    progress = {**progress, "round": progress["round"] + 1, "queued": progress["queued"] + len(new_runs)}
    return StudyStep(
        new_runs=new_runs, progress=progress, note=f"round {progress['round']}: {len(new_runs)} run(s), {why}"
    )


def _finish(
    settings: RaceSettings, values: dict[str, list[float]], active: list[str], progress: dict[str, Any]
) -> StudyStep:
    scored = [key for key in settings.keys if len(values.get(key, [])) >= 2]
    if not active or not scored:
        return StudyStep(progress=progress, finish="no result: the configurations' runs did not finish")
    leader = max(active, key=lambda key: stats.mean(values[key]) if values.get(key) else -math.inf)
    rivals = [key for key in scored if key != leader]
    if not rivals or len(values.get(leader, [])) < 2:
        verdict = f"{leader[:8]} is the only configuration left with results"
        return StudyStep(progress={**progress, "leader": leader}, finish=verdict)
    progress = {**progress, "leader": leader}
    if len(active) == 1:
        runner = max(rivals, key=lambda key: stats.mean(values[key]))
        test = stats.welch_test(values[leader], values[runner])
        verdict = (
            f"{leader[:8]} wins: better than {runner[:8]} by {100 * test.difference:.1f} points, 95% CI "
            f"{100 * test.low:.1f}–{100 * test.high:.1f}, p = {test.p_value:.2g}, after {len(values[leader])} and "
            f"{len(values[runner])} runs"
        )
        return StudyStep(progress={**progress, "winner": leader}, finish=verdict)
    bounds = {key: stats.welch_test(values[leader], values[key]) for key in active if key != leader}
    closest = max(bounds, key=lambda key: max(abs(bounds[key].low), abs(bounds[key].high)))
    bound = max(abs(bounds[closest].low), abs(bounds[closest].high))
    names = ", ".join(key[:8] for key in active)
    verdict = (
        f"not separable within {settings.max_repeats} repeats: {names} — the difference between {leader[:8]} and "
        f"{closest[:8]} is below {100 * bound:.1f} points with 95% confidence (p = {bounds[closest].p_value:.2g})"
    )
    return StudyStep(progress=progress, finish=verdict)


def _configs(runs: Iterable[Run], keys: Iterable[str]) -> dict[str, ExperimentConfig]:
    """A valid config per key, from its runs (damaged rows are skipped)."""
    wanted = set(keys)
    found: dict[str, ExperimentConfig] = {}
    for run in runs:
        if run.config_key in wanted and run.config_key not in found and run.config_problem is None:
            found[run.config_key] = ExperimentConfig.from_json(run.config)
    return found
