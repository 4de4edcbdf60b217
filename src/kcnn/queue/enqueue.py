"""Queue a sweep in one streaming transaction: 10⁵ runs in seconds, in memory that does not grow with them.

Each grid point is built and validated once; its seeds are written as JSON from the point's fields, not
as one config object each; runs go to the store as they are made, and only counters and the first few
rows (for the table) are kept. Either every run is queued or none: an invalid grid point (without
``--skip-invalid``) or a dataset that cannot be used rolls the transaction back, after every invalid
point has been found so that all of them are listed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kcnn.config import ExperimentConfig, absolute_dataset, key_of
from kcnn.errors import ConfigError, InvalidSweep, KcnnError
from kcnn.queue.submit import ConfigPreparer
from kcnn.queue.sweep import InvalidCombination, SweepPoints, SweepSpec
from kcnn.store import AddResult, NewRun, Store

#: Rows of the "Queued" table kept for display (the rest are counted).
SAMPLE_ROWS = 20


@dataclass(frozen=True)
class QueuedRow:
    """One run as the "Queued" table shows it."""

    config: ExperimentConfig
    """The run's grid point (at its first seed)."""
    seed: int
    config_key: str
    run_id: int | None = None
    """`None` in a dry run."""
    existed: bool = False
    """The config, seed and fold were already in the store: not added again."""
    fold: int = 0
    """The fold the run validates on (configs with ``folds`` above 1)."""


@dataclass
class QueueReport:
    """What queueing a sweep did (or, in a dry run, would do)."""

    grid_points: int = 0
    """Grid points considered (after random sampling)."""
    points: int = 0
    """Valid configurations."""
    seeds: int = 0
    """Seeds per configuration."""
    runs: int = 0
    """Runs asked for: valid configurations × seeds (× folds, under cross-validation)."""
    created: int = 0
    existing: int = 0
    """Config+seed pairs already in the store, not added again."""
    existing_ids: list[int] = field(default_factory=list)
    """The first of those runs' ids."""
    invalid: list[InvalidCombination] = field(default_factory=list)
    sample: list[QueuedRow] = field(default_factory=list)
    """The first `SAMPLE_ROWS` runs."""


def queue_sweep(
    store: Store | None, spec: SweepSpec, *, skip_invalid: bool = False, source: str = "queue"
) -> QueueReport:
    """Queue every run of `spec` (or, with no store, count them: a dry run).

    Args:
        store: Where to queue; `None` for a dry run.
        spec: The sweep.
        skip_invalid: Queue the valid points and list the invalid ones, instead of queueing nothing.
        source: The runs' source column. Defaults to ``queue``.

    Returns:
        Counts, the invalid points, and the first rows.

    Raises:
        ConfigError: For a malformed sweep or one over its run limit (nothing built).
        InvalidSweep: If a grid point is invalid and `skip_invalid` is False (nothing queued).
        DataError: If a dataset cannot be used (nothing queued).
    """
    SweepPoints(spec)  # a malformed or oversized sweep is refused before any dataset is read
    preparer = ConfigPreparer()
    spec = _read_datasets_first(preparer, spec)  # folder scans happen before the write lock is taken
    points = SweepPoints(spec)
    report = QueueReport(grid_points=points.grid_points, seeds=len(points.seeds))
    shown: dict[str, ExperimentConfig] = {}  # the configs of the first rows, by key (the store adds in batches)

    def stream() -> Iterator[NewRun]:
        for run, config in _runs(points, preparer, report, skip_invalid):
            if len(shown) < SAMPLE_ROWS:
                shown.setdefault(run.config_key, config)
            yield run

    if store is None:
        for run in stream():
            _count(report, run, shown.get(run.config_key), None)
    else:
        store.add_new_runs(
            stream(),
            priority=spec.priority,
            max_attempts=spec.max_attempts,
            keep=spec.keep,
            source=source,
            on_added=lambda run, result: _count(report, run, shown.get(run.config_key), result),
        )
    return report


def _runs(
    points: SweepPoints, preparer: ConfigPreparer, report: QueueReport, skip_invalid: bool
) -> Iterator[tuple[NewRun, ExperimentConfig]]:
    for item in points:
        if isinstance(item, InvalidCombination):
            report.invalid.append(item)
            continue
        if report.invalid and not skip_invalid:
            continue  # nothing will be queued; keep looking, to list every invalid point
        try:
            config = preparer.prepare(item)
        except ConfigError as error:  # too large for this machine's memory: an invalid point like the others
            report.invalid.append(InvalidCombination(_sized(item), str(error)))
            continue
        if report.invalid and not skip_invalid:
            continue
        report.points += 1
        fields = config.to_dict()
        key = key_of(fields)
        # Under cross-validation every seed trains each fold: K runs per seed, fold i validating on fold i.
        cuts = [_json_around_seed({**fields, "fold": fold}) for fold in range(config.folds)]
        for seed in points.seeds:
            for fold, (before, after) in enumerate(cuts):
                yield NewRun(f"{before}{seed}{after}", key, seed, config.epochs, config.precision, fold), config
    if report.invalid and not skip_invalid:
        raise InvalidSweep(
            f"{len(report.invalid)} of {report.grid_points} configurations are invalid (listed above); nothing was "
            "queued. Fix the values, or pass --skip-invalid to queue the rest.",
            report.invalid,
        )


def _sized(config: ExperimentConfig) -> dict[str, Any]:
    """The values that size a run's memory, to list a point refused for it."""
    return {"input_size": config.input_size, "batch_size": config.batch_size, "channels": config.channels}


def _json_around_seed(fields: dict[str, Any]) -> tuple[str, str]:
    """A config's canonical JSON (`ExperimentConfig.to_json`) cut where the seed goes: one join per seed."""
    marker = -918_273_645  # no other field can print as this
    text = json.dumps({**fields, "seed": marker}, sort_keys=True, separators=(",", ":"))
    before, found, after = text.partition(f'"seed":{marker}')
    if not found or f'"seed":{marker}' in after:  # pragma: no cover - the canonical JSON has one seed key
        raise AssertionError(f"cannot find the seed in {text!r}")
    return before + '"seed":', after


def _count(report: QueueReport, run: NewRun, config: ExperimentConfig | None, result: AddResult | None) -> None:
    report.runs += 1
    existed = result is not None and not result.created
    if result is not None:
        report.created += result.created
        report.existing += existed
        if existed and len(report.existing_ids) < SAMPLE_ROWS:
            report.existing_ids.append(result.run_id)
    if len(report.sample) < SAMPLE_ROWS and config is not None:
        run_id = None if result is None else result.run_id
        report.sample.append(QueuedRow(config, run.seed, run.config_key, run_id, existed, run.fold))


def _read_datasets_first(preparer: ConfigPreparer, spec: SweepSpec) -> SweepSpec:
    """Check every dataset the sweep names and settle ``auto`` colour modes, outside any transaction.

    Returns:
        The sweep, with the colour mode fixed when one dataset and ``auto`` are all it can mean: its points
        are then built once, not built and rebuilt with the resolved mode.
    """
    datasets = spec.grid.get("dataset") or [spec.fixed.get("dataset", ExperimentConfig().dataset)]
    modes = spec.grid.get("color_mode") or [spec.fixed.get("color_mode", ExperimentConfig().color_mode)]
    skips = spec.grid.get("skip_bad") or [spec.fixed.get("skip_bad", False)]
    settled = None
    for dataset in datasets:
        for mode in modes:
            for skip_bad in skips:
                try:
                    probe = ExperimentConfig(dataset=absolute_dataset(dataset), color_mode=mode, skip_bad=skip_bad)
                except (KcnnError, TypeError, ValueError, AttributeError):
                    continue  # an invalid value: its grid points are listed as invalid
                settled = preparer.prepare(probe).color_mode
    if len(datasets) == 1 and modes == ["auto"] and settled is not None:
        return dataclasses.replace(spec, fixed={**spec.fixed, "color_mode": settled})
    return spec
