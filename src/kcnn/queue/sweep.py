"""Expand hyperparameter grids (and sweep files) into validated configs, with repeats over seeds."""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kcnn.config import FIELD_NAMES, ExperimentConfig, file_value
from kcnn.errors import ConfigError, FileContentError
from kcnn.store.retention import DEFAULT_KEEP, KEEP_POLICIES
from kcnn.store.schema import MAX_INTEGER

CONFIG_FIELDS = FIELD_NAMES
SWEEP_KEYS = ("grid", "fixed", "repeats", "random", "sample_seed", "priority", "max_attempts", "max_runs", "keep")
#: The most runs one sweep queues unless the user raises the limit (`--max-runs`): a grid is counted
#: (the product of its value lists × seeds) before anything is built, so a mistyped 10⁶-point grid is
#: refused at once instead of filling memory.
MAX_RUNS = 10_000


@dataclass(frozen=True)
class InvalidCombination:
    """A grid point that cannot be built, and why."""

    values: dict[str, Any]
    reason: str


@dataclass
class Expansion:
    """What a grid expands to."""

    configs: list[ExperimentConfig] = field(default_factory=list)
    """Valid configs, one per (grid point, seed)."""
    invalid: list[InvalidCombination] = field(default_factory=list)
    """Grid points rejected by validation, with the geometry's reason."""
    grid_points: int = 0
    """Grid points considered (after random sampling)."""


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: a grid of values, fixed values, repeats, optional random sampling."""

    grid: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    random: int | None = None
    sample_seed: int = 0
    priority: int = 0
    max_attempts: int = 3
    max_runs: int = MAX_RUNS
    """Refuse to expand into more runs than this."""
    keep: str = DEFAULT_KEEP
    """What each done run keeps (`kcnn.store.retention.KEEP_POLICIES`)."""


def count_runs(spec: SweepSpec) -> tuple[int, int]:
    """``(configurations, runs per configuration)`` the sweep asks for, counted without building anything.

    Runs per configuration are its seeds times its folds (cross-validation trains every fold of every
    seed). Both are upper bounds: overlapping seed ranges are queued once, and the largest `folds` value
    of the grid is counted for every configuration.
    """
    points = math.prod(len(values) for name, values in spec.grid.items() if name != "seed")
    if spec.random is not None:
        points = min(points, spec.random)
    base_seeds = len(spec.grid.get("seed") or [None])
    folds = [value for value in spec.grid.get("folds") or [spec.fixed.get("folds", 1)] if isinstance(value, int)]
    return points, base_seeds * spec.repeats * max(folds, default=1)


def expand(spec: SweepSpec) -> Expansion:
    """Expand a sweep into configs, all in memory (a preview, or a small sweep; `kcnn.queue.enqueue` streams).

    Seeds: the ``seed`` values of the grid (or the fixed seed, default 0),
    each followed by ``repeats − 1`` consecutive seeds; under cross-validation (``folds`` K > 1), every
    seed gives K runs, one per fold.

    Raises:
        ConfigError: For an unknown field, an empty value list, a bad repeat count, or more runs than
            `SweepSpec.max_runs`.
    """
    points = SweepPoints(spec)
    expansion = Expansion(grid_points=points.grid_points)
    for item in points:
        if isinstance(item, InvalidCombination):
            expansion.invalid.append(item)
        else:
            expansion.configs.extend(
                item.replace(seed=seed, fold=fold) for seed in points.seeds for fold in range(item.folds)
            )
    return expansion


class SweepPoints:
    """The grid points of a sweep, checked and counted up front, built one at a time when iterated.

    Iterating yields, per grid point in grid order, its config (at the first seed) or, when the values
    do not make a valid config, an `InvalidCombination`. Memory does not grow with the grid.

    Raises:
        ConfigError: At construction, for an unknown field, an empty value list, a bad repeat count, a
            negative seed, or more runs than `SweepSpec.max_runs`.
    """

    def __init__(self, spec: SweepSpec) -> None:
        _check_fields(spec.grid, "grid")
        _check_fields(spec.fixed, "fixed")
        if spec.repeats < 1:
            raise ConfigError(f"`repeats` must be at least 1; got {spec.repeats}.")
        if spec.random is not None and spec.random < 1:
            raise ConfigError(f"`random` must be at least 1; got {spec.random}.")
        self._grid = {name: list(values) for name, values in spec.grid.items() if name != "seed"}
        for name, values in self._grid.items():
            if not values:
                raise ConfigError(f"`{name}` in the grid has no values; give at least one.")
        points, seeds_each = count_runs(spec)
        if points * seeds_each > spec.max_runs:
            raise ConfigError(
                f"This sweep would queue {points * seeds_each:,} runs ({points:,} configuration(s) × {seeds_each:,} "
                f"run(s) each), more than the limit of {spec.max_runs:,}. Sample the grid with `--random N`, or raise "
                "the limit with `--max-runs N`."
            )
        base_seeds = list(spec.grid.get("seed") or [spec.fixed.get("seed", 0)])
        for seed in base_seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ConfigError(f"`seed` values must be whole numbers, 0 or more; got {seed!r}.")
        self.seeds = list(dict.fromkeys(seed + offset for seed in base_seeds for offset in range(spec.repeats)))
        """Every run's seed: each base seed followed by ``repeats − 1`` more, without repeats."""
        self._sizes = [len(values) for values in self._grid.values()]
        total = math.prod(self._sizes)
        self._indices: Sequence[int] = range(total)
        if spec.random is not None:
            self._indices = sorted(random.Random(spec.sample_seed).sample(range(total), min(spec.random, total)))
        self.grid_points = len(self._indices)
        """Grid points considered (after random sampling)."""
        self._fixed = {name: value for name, value in spec.fixed.items() if name != "seed"}

    def __iter__(self) -> Iterator[ExperimentConfig | InvalidCombination]:
        names = list(self._grid)
        for index in self._indices:
            positions = _unravel(index, self._sizes)
            point = {name: _normalise(self._grid[name][at]) for name, at in zip(names, positions, strict=True)}
            try:
                yield ExperimentConfig(**{**self._fixed, **point, "seed": self.seeds[0]})
            except ConfigError as error:
                yield InvalidCombination(point, str(error))


def load_sweep(path: Path) -> SweepSpec:
    """Read a sweep file (TOML; see ``examples/dilation_sweep.toml``).

    Raises:
        FileContentError: If the file is missing or not TOML, has an unknown key, a field both in the grid and
            fixed, or a value of the wrong shape (each named as the file names it).
    """
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FileContentError(f"Sweep file {str(path)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise FileContentError(f"Sweep file {str(path)!r} is not valid TOML: {error}.") from None
    where = f"Sweep file {str(path)!r}"
    try:
        return _parse_sweep(data)
    except ConfigError as error:
        raise FileContentError(f"{where}: {error}") from None


def _parse_sweep(data: dict[str, Any]) -> SweepSpec:
    unknown = sorted(set(data) - set(SWEEP_KEYS))
    if unknown:
        hint = (
            f"; a field goes under [grid] (`{unknown[0]} = [1, 2]`) or [fixed]"
            if unknown[0] in CONFIG_FIELDS
            else f"; known keys are {', '.join(SWEEP_KEYS)}"
        )
        raise ConfigError(f"unknown key `{unknown[0]}`{hint}.")
    grid = data.get("grid", {})
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("it needs a [grid] table with at least one field.")
    fixed = data.get("fixed", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"`fixed` must be a table of field = value (a [fixed] section); got {fixed!r}.")
    _check_fields(grid, "grid")
    _check_fields(fixed, "fixed values")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ConfigError(f"`{both[0]}` is both in [grid] and in [fixed]; keep one.")
    lists = {name: values if isinstance(values, list) else [values] for name, values in grid.items()}
    random_points = data.get("random")
    return SweepSpec(
        grid={name: [file_value(name, value) for value in values] for name, values in lists.items()},
        fixed={name: file_value(name, value) for name, value in fixed.items()},
        repeats=_whole(data, "repeats", 1, 1),
        random=None if random_points is None else _whole(data, "random", None, 1),
        sample_seed=_whole(data, "sample_seed", 0, 0),
        priority=_whole(data, "priority", 0, -MAX_INTEGER - 1),
        max_attempts=_whole(data, "max_attempts", 3, 1, 1000),
        max_runs=_whole(data, "max_runs", MAX_RUNS, 1),
        keep=_keep(data),
    )


def _whole(data: dict[str, Any], key: str, default: int | None, low: int, high: int = MAX_INTEGER) -> int:
    """A sweep file's whole-number setting, checked: one line naming the key otherwise."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bound = f"at least {low}" if high == MAX_INTEGER and low >= 0 else f"between {low:,} and {high:,}"
        raise ConfigError(f"`{key}` must be a whole number {bound}; got {value!r}.")
    return value


def _keep(data: dict[str, Any]) -> str:
    keep = data.get("keep", DEFAULT_KEEP)
    if keep not in KEEP_POLICIES:
        raise ConfigError(f"`keep` must be one of {', '.join(KEEP_POLICIES)}; got {keep!r}.")
    return str(keep)


def _check_fields(values: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(values) - set(CONFIG_FIELDS))
    if unknown:
        raise ConfigError(f"Unknown field `{unknown[0]}` in the {where}; fields are {', '.join(CONFIG_FIELDS)}.")


def _normalise(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _unravel(index: int, sizes: Sequence[int]) -> list[int]:
    positions = []
    for size in reversed(sizes):
        index, position = divmod(index, size)
        positions.append(position)
    return positions[::-1]


__all__ = ["Expansion", "InvalidCombination", "SweepPoints", "SweepSpec", "expand", "load_sweep"]
