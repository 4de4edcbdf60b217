"""Group finished runs by configuration and hyperparameter: the numbers behind the reports.

Only runs in state ``done`` enter the statistics; the others are counted and
reported as excluded, never silently dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kcnn import stats
from kcnn.config import (
    FIELD_NAMES,
    Value,
    field_name,
    group_value,
    matches,
    parse_value,
    sort_key,
    stored_config_problem,
)
from kcnn.contract import MetricValue, run_metrics
from kcnn.errors import ConfigError
from kcnn.store import FinishedRun

METRICS = ("best", "final")


@dataclass(frozen=True)
class RunPoint:
    """One finished run, reduced to what the reports need."""

    run_id: int
    config: dict[str, Any]
    config_key: str
    seed: int
    best: float
    final: float
    epoch_seconds: float | None
    fold: int = 0
    """The fold the run validated on (under cross-validation)."""
    best_test: float | None = None
    """The best-epoch model's test-set accuracy (runs with a test set)."""
    final_test: float | None = None
    """The final model's test-set accuracy."""
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    """The run's metrics of the run contract (`kcnn.contract.run_metrics`)."""

    def metric(self, name: str) -> float:
        """The run's `best` or `final` validation accuracy."""
        return self.best if name == "best" else self.final

    def test_metric(self, name: str) -> float | None:
        """The test-set accuracy of the model `metric` measured (best epoch's or final), when it has a test set."""
        return self.best_test if name == "best" else self.final_test


@dataclass
class ConfigSummary:
    """Statistics of one configuration over its seeds."""

    config_key: str
    config: dict[str, Any]
    values: list[float] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    seeds: list[int] = field(default_factory=list)
    folds: list[int] = field(default_factory=list)
    """Each run's fold (0 without cross-validation), in `values` order."""
    test_values: list[float] = field(default_factory=list)
    """Test-set accuracies of the runs that have a test set (of the model the metric measured)."""
    metric_values: dict[str, list[float]] = field(default_factory=dict)
    """Each numeric metric of the run contract: its value in every run that has one."""

    @property
    def metric_means(self) -> dict[str, float]:
        """The mean of each numeric metric of the run contract over the runs that have it."""
        return {name: stats.mean(values) for name, values in self.metric_values.items() if values}

    @property
    def n(self) -> int:
        """Number of runs: distinct (seed, fold) pairs; a pair trained twice counts once, with its latest run."""
        return len(self.values)

    @property
    def fold_count(self) -> int:
        """K of K-fold cross-validation (1: one validation split)."""
        folds = self.config.get("folds", 1)
        return folds if isinstance(folds, int) and not isinstance(folds, bool) and folds > 1 else 1

    @property
    def test_mean(self) -> float | None:
        """Mean test-set accuracy, when the runs kept a test set."""
        return stats.mean(self.test_values) if self.test_values else None

    def by_repeat(self) -> dict[tuple[int, int], float]:
        """The metric of each (seed, fold): what a paired comparison matches up."""
        return dict(zip(zip(self.seeds, self.folds, strict=True), self.values, strict=True))

    @property
    def mean(self) -> float:
        """Mean of the metric."""
        return stats.mean(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation (NaN for one run)."""
        return stats.sample_std(self.values)

    @property
    def interval(self) -> tuple[float, float]:
        """95% Student-t confidence interval of the mean, cut to what an accuracy can be (0 to 1).

        Under K-fold cross-validation the folds' results are correlated (their training sets overlap), so the
        variance of the mean is the Nadeau–Bengio corrected one: ``(1/n + 1/(K−1)) · s²``.
        """
        if self.fold_count > 1:
            return stats.clipped(stats.corrected_interval(self.values, 1 / (self.fold_count - 1)))
        return stats.clipped(stats.t_interval(self.values))

    @property
    def interval_text(self) -> str:
        """The interval as both faces show it: empty for one run, marked when too few runs make it mean little."""
        low, high = self.interval
        if math.isnan(low):
            return ""
        few = f" (n={self.n})" if self.n < stats.FEW_FOR_AN_INTERVAL else ""
        return f"{low:.1%}–{high:.1%}{few}"

    @property
    def best(self) -> float:
        """Best single run."""
        return max(self.values)

    @property
    def best_run(self) -> int:
        """Id of the best single run."""
        return self.run_ids[self.values.index(self.best)]

    @property
    def mean_epoch_seconds(self) -> float | None:
        """Mean seconds per epoch."""
        return stats.mean(self.epoch_seconds) if self.epoch_seconds else None

    @property
    def outlier_test(self) -> stats.OutlierTest:
        """Whether the best run is an outlier among this config's runs (Dixon's Q, or Grubbs above 10 runs)."""
        return stats.largest_is_outlier(self.values)

    @property
    def likely_outlier(self) -> bool:
        """Whether the best run is an outlier by `outlier_test` (False when there are too few runs to tell)."""
        return bool(self.outlier_test.outlier)

    def to_dict(self) -> dict[str, Any]:
        """Every number of the row, for scripts."""
        low, high = self.interval
        return {
            "config_key": self.config_key,
            "config": {k: v for k, v in self.config.items() if k not in ("seed", "fold")},
            "n": self.n,
            "mean": self.mean,
            "std": _none_if_nan(self.std),
            "ci95_low": _none_if_nan(low),
            "ci95_high": _none_if_nan(high),
            "best": self.best,
            "best_run": self.best_run,
            "mean_epoch_seconds": self.mean_epoch_seconds,
            "likely_outlier": self.likely_outlier,
            "outlier_test": self.outlier_test.test,
            "unreplicated": self.n == 1,
            "folds": self.fold_count,
            "test_mean": self.test_mean,
            "test_n": len(self.test_values),
            "metrics": self.metric_means,
            "run_ids": self.run_ids,
            "values": self.values,
        }


@dataclass(frozen=True)
class Excluded:
    """Runs left out of the statistics, by state."""

    counts: dict[str, int]
    damaged: tuple[int, ...] = ()
    """Finished runs whose stored config is damaged (not a valid config): no configuration to count them in."""

    @property
    def text(self) -> str:
        """E.g. ``excluded: 2 failed, 1 running, 1 done with a damaged config (run 7; kcnn run show 7)``."""
        parts = [f"{count} {state}" for state, count in self.counts.items() if count and state != "done"]
        if self.damaged:
            ids = ", ".join(map(str, self.damaged[:5])) + (", …" if len(self.damaged) > 5 else "")
            parts.append(f"{len(self.damaged)} done with a damaged config (run {ids}; kcnn run show {self.damaged[0]})")
        return "excluded: " + ", ".join(parts) if parts else "no runs excluded"

    def to_dict(self) -> dict[str, Any]:
        """Counts by state, and the ids of damaged runs."""
        return {**self.counts, "damaged_config_runs": list(self.damaged)}


def damaged_runs(rows: Iterable[FinishedRun]) -> tuple[int, ...]:
    """Ids of the done runs (`Store.finished_runs`) whose stored config is damaged (every statistic leaves them out)."""
    return tuple(row.run_id for row in rows if stored_config_problem(row.config, row.config_key))


def load_points(rows: Iterable[FinishedRun]) -> list[RunPoint]:
    """Turn done runs (`Store.finished_runs`) into run points, one per configuration, seed and fold.

    Runs without a metric are skipped. When one seed (and fold) of a configuration was trained more than
    once (``kcnn train`` twice with the same flags), only its latest run counts: a repeat is a new seed
    or fold, so `ConfigSummary.n` counts distinct ones.
    """
    latest: dict[tuple[str, int, int], RunPoint] = {}
    for point in _all_points(rows):
        latest[(point.config_key, point.seed, point.fold)] = point  # rows come in id order: the last one wins
    return sorted(latest.values(), key=lambda point: point.run_id)


def _all_points(rows: Iterable[FinishedRun]) -> list[RunPoint]:
    points = []
    parsed: dict[str, dict[str, Any]] = {}  # runs of one config differ only by seed and fold: parse it once
    for row in rows:
        best, final = row.best_val_accuracy, row.final_val_accuracy
        if best is None or final is None or stored_config_problem(row.config, row.config_key):
            continue  # no metric, or a damaged config: nothing to group it by (`Excluded.damaged` counts it)
        if row.config_key not in parsed:
            parsed[row.config_key] = json.loads(row.config)
        seconds, epochs = row.train_seconds, row.epochs_done
        epoch_seconds = seconds / epochs if seconds is not None and epochs else None
        points.append(RunPoint(row.run_id, parsed[row.config_key], row.config_key, row.seed, best, final,
                               epoch_seconds, row.fold, row.best_test_accuracy, row.test_accuracy,
                               row.metrics))  # fmt: skip
    return points


def parse_filters(items: Sequence[str]) -> dict[str, Value]:
    """Parse ``name=value`` filters into field → value (parsed as the config parses it).

    Raises:
        ConfigError: For a malformed item, an unknown name or a value of the wrong type.
    """
    filters: dict[str, Value] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise ConfigError(f"A filter is `name=value`, such as `kernel=2` or `dilation=2,1`; got {item!r}.")
        field = field_name(name)
        filters[field] = parse_value(field, text)
    return filters


def apply_filters(points: Iterable[RunPoint], filters: Mapping[str, Any]) -> list[RunPoint]:
    """Keep the runs whose config matches every filter, compared as values.

    ``dilation=2`` matches 2 on every layer; ``dilation=2,1`` matches exactly that.
    """
    return [p for p in points if all(matches(k, p.config.get(k), v) for k, v in filters.items())]


def leaderboard(points: Iterable[RunPoint], metric: str = "best") -> list[ConfigSummary]:
    """One summary per configuration, best mean first."""
    numeric = [metric.name for metric in run_metrics() if metric.numeric]
    groups: dict[str, ConfigSummary] = {}
    for point in points:
        summary = groups.setdefault(point.config_key, ConfigSummary(point.config_key, point.config))
        summary.values.append(point.metric(metric))
        summary.run_ids.append(point.run_id)
        summary.seeds.append(point.seed)
        summary.folds.append(point.fold)
        test = point.test_metric(metric)
        if test is not None:
            summary.test_values.append(test)
        if point.epoch_seconds is not None:
            summary.epoch_seconds.append(point.epoch_seconds)
        for name in numeric:
            value = point.metrics.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                summary.metric_values.setdefault(name, []).append(float(value))
    return sorted(groups.values(), key=lambda s: (-s.mean, -s.n, s.config_key))


def varying_fields(summaries: Sequence[ConfigSummary] | Sequence[RunPoint]) -> list[str]:
    """The config fields (seed excluded) whose values differ between summaries (or runs), in field order."""
    return [
        name for name in FIELD_NAMES
        if name != "seed" and len({group_value(name, s.config.get(name)) for s in summaries}) > 1
    ]  # fmt: skip


@dataclass
class EffectCell:
    """Runs sharing one value (or pair of values) of the hyperparameters compared."""

    key: tuple[Value, ...]
    """The values of the hyperparameters compared (per-layer fields equal on every layer are one int)."""
    values: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of runs."""
        return len(self.values)

    def to_dict(self, by: Sequence[str]) -> dict[str, Any]:
        """Every number of the cell, for scripts."""
        return {
            **{name: list(v) if isinstance(v, tuple) else v for name, v in zip(by, self.key, strict=True)},
            "n": self.n,
            "mean": stats.mean(self.values),
            "std": _none_if_nan(stats.sample_std(self.values)),
            "best": max(self.values),
        }


def effects(points: Iterable[RunPoint], by: Sequence[str], metric: str = "best") -> list[EffectCell]:
    """Group every run by the values of one or two hyperparameters.

    Raises:
        ConfigError: For more than two names, or an unknown one.
    """
    if not 1 <= len(by) <= 2:
        raise ConfigError(f"`--by` takes one or two hyperparameters, such as `kernel_size,dilation`; got {len(by)}.")
    cells: dict[tuple[Value, ...], EffectCell] = {}
    for point in points:
        key = tuple(group_value(name, point.config.get(name)) for name in by)
        cells.setdefault(key, EffectCell(key)).values.append(point.metric(metric))
    return sorted(cells.values(), key=lambda cell: tuple(sort_key(v) for v in cell.key))


def _none_if_nan(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value
