"""Effect tests against statsmodels (Type II ANOVA) and scipy on known data."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

from kcnn.reports.effects import analyze_effects
from kcnn.reports.grouping import RunPoint

RNG = np.random.default_rng(7)


def _points(rows):
    """RunPoints from (config dict, value) rows; the config key is the config itself."""
    points = []
    for run_id, (config, value) in enumerate(rows, start=1):
        key = ",".join(f"{k}={v}" for k, v in sorted(config.items()))
        points.append(RunPoint(run_id, config, key, run_id, value, value, None))
    return points


def _frame(rows):
    return pd.DataFrame([{**config, "y": value} for config, value in rows])


def _grid(repeats, kernels=(2, 3, 4), dilations=(1, 2), effect=0.05, drop=()):
    rows = []
    for kernel in kernels:
        for dilation in dilations:
            for seed in range(repeats):
                if (kernel, dilation, seed) in drop:
                    continue
                value = 0.6 + effect * (kernel == 3) + 0.002 * dilation + RNG.normal(0, 0.01)
                rows.append(({"kernel_size": kernel, "dilation": dilation}, value))
    return rows


@pytest.mark.parametrize("drop", [(), ((2, 1, 0), (3, 2, 1), (4, 2, 0), (4, 2, 2))], ids=["balanced", "unbalanced"])
def test_type_two_sums_of_squares_match_statsmodels(drop):
    rows = _grid(3, drop=drop)
    analysis = analyze_effects(_points(rows), ["kernel_size", "dilation"])
    model = smf.ols("y ~ C(kernel_size) + C(dilation)", data=_frame(rows)).fit()
    table = anova_lm(model, typ=2)
    for term in analysis.terms:
        assert term.sum_squares == pytest.approx(table.loc[f"C({term.name})", "sum_sq"], abs=1e-9)
        assert term.df == table.loc[f"C({term.name})", "df"]


def test_a_saturated_two_way_model_matches_statsmodels_f_and_p_exactly():
    """With the interaction, every configuration is a cell: the model's residual is the seed noise."""
    rows = _grid(3, drop=((2, 1, 0), (4, 2, 1)))
    analysis = analyze_effects(_points(rows), ["kernel_size", "dilation"], interaction=("kernel_size", "dilation"))
    table = anova_lm(smf.ols("y ~ C(kernel_size) * C(dilation)", data=_frame(rows)).fit(), typ=2)
    names = {"kernel_size": "C(kernel_size)", "dilation": "C(dilation)", "kernel_size × dilation":
             "C(kernel_size):C(dilation)"}  # fmt: skip
    for term in analysis.terms:
        row = table.loc[names[term.name]]
        assert term.sum_squares == pytest.approx(row["sum_sq"], abs=1e-9)
        assert term.f == pytest.approx(row["F"], rel=1e-6)
        assert term.p == pytest.approx(row["PR(>F)"], rel=1e-6, abs=1e-12)
    assert analysis.noise_mean_square == pytest.approx(table.loc["Residual", "sum_sq"] / table.loc["Residual", "df"])


def test_a_real_effect_is_found_and_noise_is_not_and_omega_squared_is_the_documented_formula():
    rows = _grid(4, effect=0.05)
    analysis = analyze_effects(_points(rows), ["kernel_size", "dilation"])
    kernel, dilation = analysis.terms  # ordered by ω²
    assert kernel.name == "kernel_size" and kernel.real and kernel.p < 1e-6
    assert kernel.verdict.startswith("real (p < 0.001),") and "; 3 beats " in kernel.verdict
    assert dilation.name == "dilation" and not dilation.real
    assert dilation.verdict.startswith("not distinguishable from seed noise (p = ")
    noise = analysis.noise_mean_square
    expected = (kernel.sum_squares - kernel.df * noise) / (analysis.total_sum_squares + noise)
    assert kernel.omega_squared == pytest.approx(expected)
    # the F-test's p is scipy's F distribution at the documented degrees of freedom
    assert kernel.p == pytest.approx(stats.f.sf(kernel.f, kernel.df, analysis.noise_df))
    assert analysis.noise_df == len(rows) - 6


def test_without_repeats_the_noise_floor_is_unknown_and_said_so():
    analysis = analyze_effects(_points(_grid(1)), ["kernel_size", "dilation"])
    assert analysis.noise_mean_square is None
    for term in analysis.terms:
        assert term.p is None and term.verdict.startswith("cannot tell: no configuration has repeats")


def test_two_hyperparameters_that_always_change_together_are_reported_as_confounded():
    rows = [({"kernel_size": k, "dilation": d}, 0.6 + 0.05 * (k == 3) + RNG.normal(0, 0.01))
            for k, d in ((2, 1), (3, 2)) for _ in range(3)]  # fmt: skip
    analysis = analyze_effects(_points(rows), ["kernel_size", "dilation"])
    for term in analysis.terms:
        assert term.df == 0 and term.p is None
        assert term.verdict == "cannot tell: its effect is confounded with others"
