"""Which hyperparameters matter beyond seed noise: Type II sums of squares, F-tests against pure error, ω².

The model is a linear model of the metric with every varying hyperparameter as a categorical main
effect (and, with ``by=(A, B)``, their interaction). Each term's **Type II** sum of squares is the drop in
the residual sum of squares when the term is added to the model of every other term that does not
contain it: correct for balanced grids and for unbalanced designs alike (random search, studies, failed
runs). Least squares is numpy's; the F distribution is scipy's.

The F-test's denominator is the **seed-noise floor**: the pooled within-configuration variance of runs
that differ only by seed (pure error), not the model's residual, which would also hold whatever the
model leaves out. Without repeats the floor is unknown, and the verdict says so.

Effect size: ω² (omega squared), the term's share of the metric's variance corrected for the noise it
would show by chance: (SS − df · MS_noise) / (SS_total + MS_noise), at least 0. η² (SS / SS_total) is
given too; it is biased upwards in small samples.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kcnn.config import format_value, group_value, sort_key
from kcnn.errors import ConfigError, KcnnError
from kcnn.reports.grouping import RunPoint

ALPHA = 0.05


@dataclass(frozen=True)
class Level:
    """One value of a hyperparameter: its runs' mean."""

    value: Any
    n: int
    mean: float


@dataclass(frozen=True)
class TermEffect:
    """One model term (a hyperparameter, or two of them together) and its test against seed noise."""

    name: str
    df: int
    sum_squares: float
    eta_squared: float
    omega_squared: float | None
    f: float | None
    p: float | None
    verdict: str
    levels: list[Level] = field(default_factory=list)
    """Per value, best mean first (main effects only)."""

    @property
    def real(self) -> bool:
        """Whether the term beats seed noise at the 5% level."""
        return self.p is not None and self.p < ALPHA

    def to_dict(self) -> dict[str, Any]:
        """Every number, for scripts."""
        return {
            "name": self.name,
            "df": self.df,
            "sum_squares": self.sum_squares,
            "eta_squared": self.eta_squared,
            "omega_squared": self.omega_squared,
            "f": self.f,
            "p": self.p,
            "real": self.real,
            "verdict": self.verdict,
            "levels": [{"value": level.value, "n": level.n, "mean": level.mean} for level in self.levels],
        }


@dataclass(frozen=True)
class EffectAnalysis:
    """Every varying hyperparameter's effect on a metric, most important first."""

    metric: str
    runs: int
    configurations: int
    total_sum_squares: float
    noise_df: int
    """Degrees of freedom of the seed-noise floor: runs − configurations."""
    noise_mean_square: float | None
    """The seed-noise floor (pooled within-configuration variance); `None` without repeats."""
    terms: list[TermEffect]

    @property
    def noise_std(self) -> float | None:
        """The seed-noise standard deviation."""
        return None if self.noise_mean_square is None else math.sqrt(self.noise_mean_square)

    def to_dict(self) -> dict[str, Any]:
        """Every number, for scripts."""
        return {
            "metric": self.metric,
            "runs": self.runs,
            "configurations": self.configurations,
            "sums_of_squares": "Type II",
            "effect_size": "omega squared",
            "total_sum_squares": self.total_sum_squares,
            "noise_df": self.noise_df,
            "noise_mean_square": self.noise_mean_square,
            "terms": [term.to_dict() for term in self.terms],
        }


def analyze_effects(
    points: Sequence[RunPoint], fields: Sequence[str], metric: str = "best", interaction: Sequence[str] = ()
) -> EffectAnalysis:
    """Test each of `fields` (the hyperparameters that vary) against seed noise.

    Args:
        points: Finished runs, one per configuration and seed.
        fields: The hyperparameters to test (those that vary among `points`).
        metric: ``best`` or ``final`` validation accuracy.
        interaction: Two of `fields` whose interaction is tested too.

    Returns:
        The analysis, terms ordered by ω² (then F), largest first.

    Raises:
        KcnnError: If there are fewer than two runs.
        ConfigError: If `interaction` does not name two varying fields.
    """
    from scipy import stats as distributions  # a core dependency, imported only where a test is computed

    if len(points) < 2:
        raise KcnnError(f"Effect tests need at least two finished runs; found {len(points)}.")
    if interaction and (len(interaction) != 2 or not set(interaction) <= set(fields)):
        raise ConfigError(f"`--by` takes two hyperparameters that vary; got {', '.join(interaction)}.")
    y = np.array([point.metric(metric) for point in points], dtype=float)
    codes = {name: _codes(points, name) for name in fields}
    main = {name: _dummies(codes[name]) for name in fields}
    joint = f"{interaction[0]} × {interaction[1]}" if interaction else None
    terms: dict[str, np.ndarray] = dict(main)
    if joint:
        terms[joint] = _product(main[interaction[0]], main[interaction[1]])
    total = float(np.sum((y - y.mean()) ** 2))
    noise_ss, noise_df = _pure_error(points, y)
    noise_ms = noise_ss / noise_df if noise_df > 0 else None
    mains = _fit(y, list(main.values()))
    effects = []
    for name, columns in terms.items():
        # Type II: the term added to every term that does not contain it. A main effect is adjusted for
        # the other main effects (not for an interaction containing it); the interaction for all of them.
        if name == joint:
            base, top = mains, _fit(y, [*main.values(), columns])
        else:
            others = [main[other] for other in fields if other != name]
            base, top = _fit(y, others), mains
        effect = _test(name, top.rank - base.rank, max(base.rss - top.rss, 0.0), total, noise_ms, noise_df,
                       distributions)  # fmt: skip
        if name == joint:
            effect = _replace_verdict(effect, interaction_verdict(effect))
        else:
            effect = _with_levels(effect, points, codes[name], metric)
        effects.append(effect)
    effects.sort(key=lambda t: (-(t.omega_squared or 0.0), -(t.f or 0.0), t.name))
    configurations = len({point.config_key for point in points})
    return EffectAnalysis(metric, len(points), configurations, total, noise_df, noise_ms, effects)


@dataclass(frozen=True)
class _Fit:
    rss: float
    rank: int


def _fit(y: np.ndarray, blocks: Sequence[np.ndarray]) -> _Fit:
    """Least squares of `y` on an intercept and `blocks` of columns: residual sum of squares and rank."""
    design = np.column_stack([np.ones(len(y)), *blocks]) if blocks else np.ones((len(y), 1))
    beta, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ beta
    return _Fit(float(residual @ residual), int(rank))


def _codes(points: Sequence[RunPoint], name: str) -> list[Hashable]:
    return [group_value(name, point.config.get(name)) for point in points]


def _dummies(codes: Sequence[Hashable]) -> np.ndarray:
    """Treatment-coded columns of a categorical variable (first level in sorted order left out)."""
    levels = sorted(set(codes), key=sort_key)
    index = {level: position for position, level in enumerate(levels)}
    matrix = np.zeros((len(codes), max(len(levels) - 1, 0)))
    for row, code in enumerate(codes):
        if index[code]:
            matrix[row, index[code] - 1] = 1.0
    return matrix


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not a.shape[1] or not b.shape[1]:
        return np.zeros((a.shape[0], 0))
    return np.column_stack([a[:, i] * b[:, j] for i in range(a.shape[1]) for j in range(b.shape[1])])


def _pure_error(points: Sequence[RunPoint], y: np.ndarray) -> tuple[float, int]:
    """Within-configuration sum of squares and its degrees of freedom (runs − configurations)."""
    groups: dict[str, list[float]] = {}
    for point, value in zip(points, y, strict=True):
        groups.setdefault(point.config_key, []).append(float(value))
    sum_squares = sum(float(np.sum((np.array(v) - np.mean(v)) ** 2)) for v in groups.values())
    return sum_squares, len(points) - len(groups)


def _test(
    name: str, df: int, sum_squares: float, total: float, noise_ms: float | None, noise_df: int, distributions: Any
) -> TermEffect:
    eta = sum_squares / total if total > 0 else 0.0
    if df == 0:
        return TermEffect(name, 0, 0.0, 0.0, None, None, None, "cannot tell: its effect is confounded with others")
    if noise_ms is None:
        verdict = "cannot tell: no configuration has repeats, so seed noise is unknown (add --repeats 2 or more)"
        return TermEffect(name, df, sum_squares, eta, None, None, None, verdict)
    if noise_ms == 0:
        return TermEffect(name, df, sum_squares, eta, None, None, None, "cannot tell: repeats agree exactly")
    f = (sum_squares / df) / noise_ms
    p = float(distributions.f.sf(f, df, noise_df))
    omega = max((sum_squares - df * noise_ms) / (total + noise_ms), 0.0)
    return TermEffect(name, df, sum_squares, eta, omega, f, p, "")


def _replace_verdict(effect: TermEffect, verdict: str, levels: list[Level] | None = None) -> TermEffect:
    return TermEffect(effect.name, effect.df, effect.sum_squares, effect.eta_squared, effect.omega_squared,
                      effect.f, effect.p, verdict, levels if levels is not None else effect.levels)  # fmt: skip


def _with_levels(effect: TermEffect, points: Sequence[RunPoint], codes: Sequence[Hashable], metric: str) -> TermEffect:
    values: dict[Hashable, list[float]] = {}
    for point, code in zip(points, codes, strict=True):
        values.setdefault(code, []).append(point.metric(metric))
    levels = sorted(
        (Level(code, len(v), float(np.mean(v))) for code, v in values.items()), key=lambda level: -level.mean
    )
    return _replace_verdict(effect, effect.verdict or _verdict(effect, levels), levels)


def _verdict(effect: TermEffect, levels: list[Level]) -> str:
    p = "p < 0.001" if (effect.p or 0) < 0.001 else f"p = {effect.p:.3f}"
    if not effect.real:
        return f"not distinguishable from seed noise ({p})"
    best, worst = levels[0], levels[-1]
    gain = (best.mean - worst.mean) * 100
    name = effect.name
    return (
        f"real ({p}), {effect.omega_squared:.0%} of the variance; {format_value(name, best.value)} beats "
        f"{format_value(name, worst.value)} by {gain:+.1f} points"
    )


def interaction_verdict(effect: TermEffect) -> str:
    """The verdict of an interaction term (its levels are cells, not listed)."""
    if effect.verdict:
        return effect.verdict
    p = "p < 0.001" if (effect.p or 0) < 0.001 else f"p = {effect.p:.3f}"
    if effect.real:
        return f"real ({p}), {effect.omega_squared:.0%} of the variance: one's effect depends on the other's value"
    return f"not distinguishable from seed noise ({p}): the effects add up"


def more_budget_line(analysis: EffectAnalysis) -> str:
    """What more runs would resolve: the hyperparameter closest to separable from seed noise, and about how many.

    For an effect of the size measured, F grows with the number of runs; the runs needed are those that bring
    it to the 5% critical value (scipy's F distribution) — an estimate, since the effect measured is noisy too.
    """
    from scipy import stats as distributions

    open_terms = [term for term in analysis.terms if term.p is not None and term.f and not term.real]
    if not open_terms:
        tested = [term for term in analysis.terms if term.p is not None]
        if tested:
            return "every hyperparameter tested is separated from seed noise: more budget would not change that"
        return "more budget: seed noise is not measured yet (configurations need repeats)"
    closest = min(open_terms, key=lambda term: term.p or 1.0)
    critical = float(distributions.f.isf(ALPHA, closest.df, max(analysis.noise_df, 1)))
    factor = critical / (closest.f or 1.0)
    more = max(math.ceil(analysis.runs * (factor - 1)), 1)
    return (
        f"closest to separable: {closest.name} (p = {closest.p:.3f}); if its effect is as measured, about {more} "
        f"more run(s) (×{factor:.1f}) would separate it from seed noise"
    )
