"""Successive halving over epochs for a budgeted study's focus phase: a configuration is judged by its seeds' mean.

The focus phase of ``kcnn study answer`` (`kcnn.queue.answer`) trains the configurations the screening leaves
plausible. Most of them are not the best, and their first epochs already say so: at each *rung* (an epoch
count, `rungs`: ``epochs / 3``, ``epochs / 9``, … down to 2 epochs) a focus configuration goes on only if the
mean of its seeds' validation accuracy at that epoch is among the top third (`FACTOR`) of every configuration
of the study that reached the rung with every seed — the screening's configurations, trained in full, are
compared at the same epoch. This is asynchronous successive halving (Li et al., 2018, "Massively parallel
hyperparameter tuning") with one change the issue asked for: the unit pruned is a **configuration**, by the
mean of its seeds at an epoch every seed reached, never one seed alone (a seed ahead of its siblings goes on
until the last sibling reaches the rung and decides for all of them; a pruned configuration's other seeds stop
at their next epoch, and its queued ones are pruned by the study's next step).

Pure functions (`rungs`, `rung_means`, `goes_on`, `expected_share`) do the arithmetic; `halving_check` is the
between-epochs hook a worker runs for a focus run (as `kcnn.queue.optimize.pruning_check` is for Optuna).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kcnn.errors import Pruned
from kcnn.store import Run, RunState, Store, Study

#: The reduction factor: a third of the configurations at a rung go on to the next.
FACTOR = 3
#: No rung before this many epochs (the first epoch's accuracy is mostly chance on small images).
FIRST_RUNG = 2
#: Runs whose epochs count at a rung (a failed or cancelled seed is not waited for).
COUNTED = (RunState.QUEUED, RunState.RUNNING, RunState.DONE, RunState.PRUNED)


def rungs(epochs: int, factor: int = FACTOR) -> list[int]:
    """The epochs at which focus configurations are compared, ascending (``[2, 5]`` for 15 epochs)."""
    found: set[int] = set()
    power = factor
    while True:
        rung = round(epochs / power)
        if rung < FIRST_RUNG:
            return sorted(found)
        found.add(rung)
        power *= factor


def expected_share(epochs: int, factor: int = FACTOR) -> float:
    """The share of a configuration's full epochs successive halving expects to train (a third per rung)."""
    points = [*rungs(epochs, factor), epochs]
    share = points[0] / epochs
    for index in range(1, len(points)):
        share += (points[index] - points[index - 1]) / epochs / factor**index
    return share


def metric_at(accuracies: Sequence[float | None], epoch: int, metric: str) -> float | None:
    """A run's metric after `epoch` epochs (its running best, or that epoch's), from its per-epoch accuracies."""
    if len(accuracies) < epoch:
        return None
    seen = accuracies[:epoch]
    if any(value is None or not math.isfinite(value) for value in seen):
        return None
    values = [float(value) for value in seen if value is not None]
    return max(values) if metric == "best" else values[-1]


def rung_means(
    runs: Iterable[Run], accuracies_of: Callable[[Run], Sequence[float | None]], epoch: int, metric: str
) -> dict[str, float]:
    """Each configuration's mean over its seeds at `epoch`, for configurations whose every seed reached it."""
    by_key: dict[str, list[Run]] = {}
    for run in runs:
        if run.state in COUNTED:
            by_key.setdefault(run.config_key, []).append(run)
    means = {}
    for key, seeds in by_key.items():
        values = [metric_at(accuracies_of(run), epoch, metric) for run in seeds]
        found = [value for value in values if value is not None]
        if len(found) == len(values):
            means[key] = sum(found) / len(found)
    return means


def goes_on(key: str, means: dict[str, float], factor: int = FACTOR) -> bool:
    """Whether configuration `key` is among the top ``1/factor`` of `means` (ties go on; at least one does)."""
    ranked = sorted(means.values(), reverse=True)
    kept = max(1, math.ceil(len(ranked) / factor))
    return means[key] >= ranked[kept - 1]


def halving_check(store: Store, study: Study, run: Run) -> Callable[[Any], None] | None:
    """For a run of a budgeted study's focus phase: the check after each epoch; `None` for any other run.

    Configurations are compared by their first ``seeds`` seeds (those the screening and the focus train); the
    seeds a race adds later are never halved.

    Raises (from the returned check):
        Pruned: When the run's configuration was pruned (by this check, here or in a sibling seed's worker).
    """
    seeds = int(study.settings.get("seeds", 2))
    if run.config_key not in study.progress.get("halving", []) or run.seed >= seeds:
        return None  # not a focus run (a screening run, or a seed the race added: never halved)
    epochs = int(run.epochs_total)
    metric = str(study.settings.get("metric", "best"))
    stops = set(rungs(epochs))

    def accuracies(other: Run) -> list[float | None]:
        recorded = {row["epoch"]: row["val_accuracy"] for row in store.epochs(other.id)}
        return [recorded.get(epoch) for epoch in range(1, max(recorded, default=0) + 1)]

    def check(record: Any) -> None:
        own = [other for other in store.study_runs(study.id) if other.seed < seeds]  # every config's first seeds
        siblings = [other for other in own if other.config_key == run.config_key and other.id != run.id]
        if any(other.state == RunState.PRUNED for other in siblings):
            raise Pruned(
                f"its configuration was pruned by successive halving (a sibling seed); at epoch {record.epoch}"
            )
        if record.epoch not in stops:
            return
        means = rung_means(own, accuracies, record.epoch, metric)
        if run.config_key in means and not goes_on(run.config_key, means):
            raise Pruned(
                f"pruned by successive halving after epoch {record.epoch} of {epochs}: its seeds' mean "
                f"{means[run.config_key]:.2%} is not in the top 1/{FACTOR} of {len(means)} configurations at that epoch"
            )

    return check
