"""Reports through the facade: the leaderboard, comparisons, effect tables and tests, figures, exports."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from kcnn.api.workspace import StoreLike, engine_store
from kcnn.config import Value, field_name
from kcnn.errors import ConfigError, KcnnError
from kcnn.files import output_file
from kcnn.reports.comparison import Comparison, find_summary
from kcnn.reports.comparison import compare as compare_summaries
from kcnn.reports.grouping import (
    ConfigSummary,
    EffectCell,
    Excluded,
    RunPoint,
    apply_filters,
    load_points,
    parse_filters,
)
from kcnn.reports.grouping import effects as effect_cells
from kcnn.reports.grouping import leaderboard as rank_summaries

if TYPE_CHECKING:
    from rich.text import Text

    from kcnn.reports.effects import EffectAnalysis

#: A filter: ``["dilation=2,1", "kernel=2"]``, or field → value.
Filters = Sequence[str] | Mapping[str, Value]


def _points(store: StoreLike, filters: Filters) -> list[RunPoint]:
    parsed = dict(filters) if isinstance(filters, Mapping) else parse_filters(filters)
    return apply_filters(load_points(engine_store(store).finished_runs()), parsed)


def _check_metric(metric: str) -> None:
    if metric not in ("best", "final"):
        raise ConfigError(f"`metric` must be best or final; got {metric!r}.")


def leaderboard(store: StoreLike, metric: str = "best", filters: Filters = ()) -> list[ConfigSummary]:
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


def excluded(store: StoreLike) -> Excluded:
    """The runs the statistics leave out: counted by state, and the finished ones with a damaged config."""
    from kcnn.reports.grouping import damaged_runs

    engine = engine_store(store)
    return Excluded(engine.count_by_state(), damaged_runs(engine.finished_runs()))


def by_fields(by: str | Sequence[str], counts: Sequence[int] = (1, 2)) -> list[str]:
    """The hyperparameters of a ``--by`` (``"kernel,dilation"`` or a list), each resolved, none twice.

    Raises:
        ConfigError: For an empty list, an unknown name (named), a name given twice, or a count not in `counts`.
    """
    names = [name.strip() for name in by.split(",")] if isinstance(by, str) else [str(name).strip() for name in by]
    example = "`--by kernel_size`" if 1 in counts else "`--by kernel_size,dilation`"
    if not names or any(not name for name in names):
        raise ConfigError(f"`--by` needs hyperparameter names separated by commas, such as {example}; got {by!r}.")
    fields = [field_name(name) for name in names]
    twice = next((name for name in fields if fields.count(name) > 1), None)
    if twice is not None:
        raise ConfigError(f"`--by` names {twice} twice; give different hyperparameters, such as {example}.")
    if len(fields) not in counts:
        wanted = " or ".join(map(str, counts))
        raise ConfigError(f"`--by` takes {wanted} hyperparameter(s), such as {example}; got {len(fields)}.")
    return fields


def effects(store: StoreLike, by: Sequence[str], metric: str = "best", filters: Filters = ()) -> list[EffectCell]:
    """Every finished run grouped by the values of one or two hyperparameters (an effect table's cells).

    Raises:
        ConfigError: For an unknown hyperparameter or metric, a name given twice, more than two names, or a
            malformed filter.
    """
    _check_metric(metric)
    return effect_cells(_points(store, filters), by_fields(by), metric)


def effect_tests(
    store: StoreLike, metric: str = "best", by: Sequence[str] = (), filters: Filters = (), study: int | None = None
) -> EffectAnalysis:
    """Which hyperparameters matter beyond seed noise, with ω² and a verdict each (`kcnn.reports.effects`).

    Type II F-tests against the within-configuration variance of repeats (scipy's F distribution).

    Args:
        store: The store.
        metric: ``best`` or ``final``. Defaults to ``best``.
        by: Two hyperparameters whose interaction is tested too; empty for main effects only.
        filters: Only runs matching these (``["kernel=2"]`` or ``{"kernel_size": 2}``).
        study: Only the runs of this study (a budgeted study's screening and focus runs, say).

    Raises:
        ConfigError: For an unknown hyperparameter or metric, or a `by` that is not two varying names.
        KcnnError: Without scipy, with fewer than two finished runs, or when no hyperparameter varies.
    """
    from kcnn.reports.effects import analyze_effects
    from kcnn.reports.grouping import varying_fields

    _check_metric(metric)
    points = _points(store, filters)
    if study is not None:
        owned = {run.id for run in engine_store(store).study_runs(study)}
        points = [point for point in points if point.run_id in owned]
    fields = varying_fields(points)
    if not fields:
        raise KcnnError(f"No hyperparameter varies among the {len(points)} finished run(s); queue a sweep first.")
    return analyze_effects(points, fields, metric, by_fields(by, counts=(2,)) if by else [])


def figure(
    store: StoreLike,
    kind: str,
    by: str,
    *,
    color: str | None = None,
    metric: str = "best",
    filters: Filters = (),
    png: str | os.PathLike[str] | None = None,
) -> Text:
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
    target = output_file(png, "--png", ".png") if png is not None else None  # before any work
    _check_metric(metric)
    by = field_name(by)
    color = field_name(color) if color else None
    points = _points(store, filters)
    if not points:
        raise KcnnError("No finished runs to plot; `kcnn worker` trains queued runs.")
    histories: dict[Value, list[list[float]]] = {}
    if kind == "curves":
        for point in points:
            value = group_value(by, point.config.get(by))
            curve = [epoch["val_accuracy"] for epoch in engine_store(store).epochs(point.run_id)]
            histories.setdefault(value, []).append(curve)
    if target is not None:
        plots.write_png(kind, target, points, by, color, metric, histories)
    if kind == "runs":
        return plots.runs_chart(points, by, color, metric)
    if kind == "box":
        return plots.box_chart(points, by, metric)
    return plots.curves_chart(histories, by)


def compare(
    store: StoreLike,
    a: str | None = None,
    b: str | None = None,
    metric: str = "best",
    filters: Filters = (),
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
        first, second = find_summary(summaries, a), find_summary(summaries, b)
        if first.config_key == second.config_key:
            raise KcnnError(
                f"{a!r} and {b!r} are the same configuration ({first.config_key}); compare two different ones."
            )
        return compare_summaries(first, second)
    if a is not None or b is not None:
        raise KcnnError("Compare two configurations (two config keys), or none for the top two.")
    if len(summaries) < 2:
        raise KcnnError(f"Comparing needs two configurations with finished runs; found {len(summaries)}.")
    return compare_summaries(summaries[0], summaries[1])


def export_runs(store: StoreLike, fmt: str = "csv", table: str = "runs", states: Sequence[str] | None = None) -> str:
    """Every number of the runs (or of their epochs) as CSV or JSON text (what ``kcnn runs export`` writes).

    Args:
        store: The store.
        fmt: ``csv`` or ``json``. Defaults to ``csv``.
        table: ``runs`` (one row per run: its columns, every metric of the run contract, every hyperparameter as
            ``config.NAME``) or ``epochs`` (one row per recorded epoch). Defaults to ``runs``.
        states: Only runs in these states. Defaults to all.

    Raises:
        ConfigError: For an unknown format or table.
    """
    from kcnn.reports.export import export_epochs
    from kcnn.reports.export import export_runs as write_runs

    if fmt not in ("csv", "json") or table not in ("runs", "epochs"):
        raise ConfigError(f"`fmt` is csv or json and `table` runs or epochs; got {fmt!r} and {table!r}.")
    engine = engine_store(store)
    if table == "epochs":
        return export_epochs(engine, fmt, states)
    return write_runs(engine.list_runs(states), fmt)


def curves(store: StoreLike, run_ids: Sequence[int]) -> dict[int, list[dict[str, float | None]]]:
    """Each run's per-epoch metrics (what ``kcnn run curves`` draws), by run id.

    Raises:
        StoreError: If a run does not exist.
    """
    engine = engine_store(store)
    return {run_id: engine.epochs(engine.get_run(run_id).id) for run_id in run_ids}
