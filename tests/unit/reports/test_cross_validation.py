"""Nadeau and Bengio's corrected resampled t-test, corrected intervals, and comparisons of cross-validated configs."""

import math

import pytest
from scipy import stats as scipy_stats

from kcnn import stats
from kcnn.reports.comparison import CORRECTED, WELCH, compare
from kcnn.reports.grouping import ConfigSummary

DIFFERENCES = [0.02, 0.04, 0.01, 0.03, 0.05]  # five folds of a − b


def test_corrected_t_test_known_answer():
    result = stats.corrected_resampled_t_test(DIFFERENCES, test_train_ratio=1 / 4)
    # By hand: mean 0.03, s² = 0.00025, corrected variance (1/5 + 1/4) · s² = 0.0001125, t = 0.03 / 0.0106066.
    assert result.t == pytest.approx(2.8284271247461903, abs=1e-12)
    assert result.df == 4
    assert result.p_value == pytest.approx(0.0474206555843196, abs=1e-10)
    se = math.sqrt(0.0001125)
    half = scipy_stats.t.ppf(0.975, 4) * se
    assert (result.low, result.high) == pytest.approx((0.03 - half, 0.03 + half), abs=1e-10)
    assert result.p_value == pytest.approx(2 * scipy_stats.t.sf(0.03 / se, 4), abs=1e-10)  # independent check


def test_without_the_correction_it_is_the_paired_t_test():
    result = stats.corrected_resampled_t_test(DIFFERENCES, test_train_ratio=0.0)
    reference = scipy_stats.ttest_1samp(DIFFERENCES, 0.0)
    assert result.t == pytest.approx(reference.statistic, abs=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, abs=1e-10)


def test_the_correction_widens_the_interval_and_raises_p():
    plain = stats.corrected_resampled_t_test(DIFFERENCES, 0.0)
    corrected = stats.corrected_resampled_t_test(DIFFERENCES, 1 / 4)
    assert corrected.p_value > plain.p_value and corrected.high - corrected.low > plain.high - plain.low
    assert plain.p_value == pytest.approx(0.0132355995636826, abs=1e-10)  # p = 0.013 uncorrected, 0.047 corrected


def test_corrected_interval_known_answer():
    values = [0.70, 0.74, 0.68, 0.72, 0.71]
    low, high = stats.corrected_interval(values, 1 / 4)
    s = scipy_stats.tstd(values)
    half = scipy_stats.t.ppf(0.975, 4) * s * math.sqrt(1 / 5 + 1 / 4)
    assert (low, high) == pytest.approx((0.71 - half, 0.71 + half), abs=1e-10)
    assert stats.corrected_interval([0.7], 0.25) == pytest.approx((math.nan, math.nan), nan_ok=True)
    with pytest.raises(ValueError):
        stats.corrected_resampled_t_test([0.1], 0.25)


def summary(key, folds, values, seeds=None, fold_numbers=None):
    """A configuration's summary, its runs at the given (seed, fold) pairs."""
    fold_numbers = fold_numbers if fold_numbers is not None else [i % max(folds, 1) for i in range(len(values))]
    seeds = seeds if seeds is not None else [i // max(folds, 1) for i in range(len(values))]
    return ConfigSummary(key, {"folds": folds}, list(values), list(range(len(values))), seeds=seeds, folds=fold_numbers)


def test_cross_validated_configurations_are_compared_fold_by_fold_with_the_corrected_test():
    b_values = [0.60, 0.62, 0.58, 0.61, 0.59]
    a = summary("aaaaaaaa", 5, [v + d for v, d in zip(b_values, DIFFERENCES, strict=True)])
    b = summary("bbbbbbbb", 5, b_values)
    result = compare(a, b)
    assert result.method == CORRECTED
    assert result.test.t == pytest.approx(2.8284271247461903, abs=1e-9)  # pairs matched by (seed, fold)
    assert result.verdict.startswith("aaaaaaaa is better than bbbbbbbb by 3.00%")
    assert "Nadeau-Bengio corrected resampled t-test over 5 paired folds" in result.verdict
    paired = stats.corrected_resampled_t_test([x - y for x, y in zip(a.values, b.values, strict=True)], 0.0)
    assert paired.p_value < result.test.p_value  # the plain paired test on fold results is too confident
    assert summary("x", 1, [0.5, 0.6]).interval == pytest.approx(stats.clipped(stats.t_interval([0.5, 0.6])))
    assert a.interval == pytest.approx(stats.clipped(stats.corrected_interval(a.values, 1 / 4)))


def test_pairs_follow_seed_and_fold_not_run_order():
    a = summary("aaaaaaaa", 2, [0.9, 0.5, 0.8, 0.6], seeds=[0, 0, 1, 1], fold_numbers=[0, 1, 0, 1])
    b = summary("bbbbbbbb", 2, [0.55, 0.85, 0.5, 0.75], seeds=[0, 1, 0, 1], fold_numbers=[1, 0, 0, 1])
    # b's runs by (seed, fold): (0,1) 0.55, (1,0) 0.85, (0,0) 0.5, (1,1) 0.75.
    differences = [0.9 - 0.5, 0.5 - 0.55, 0.8 - 0.85, 0.6 - 0.75]  # (0,0), (0,1), (1,0), (1,1)
    expected = stats.corrected_resampled_t_test(differences, 1.0)
    assert compare(a, b).test.t == pytest.approx(expected.t, abs=1e-12)


def test_configurations_validated_differently_are_not_compared():
    result = compare(summary("aaaaaaaa", 5, [0.7] * 5), summary("bbbbbbbb", 1, [0.6, 0.65, 0.62]))
    assert result.test is None and result.method == WELCH
    assert result.verdict.startswith(
        "Cannot compare: aaaaaaaa was validated by 5-fold cross-validation and bbbbbbbb on one split"
    )


def test_cross_validated_configurations_without_common_folds_cannot_be_told_apart():
    a = summary("aaaaaaaa", 3, [0.7, 0.6, 0.65], seeds=[0, 0, 0])
    b = summary("bbbbbbbb", 3, [0.6, 0.5, 0.55], seeds=[9, 9, 9])
    result = compare(a, b)
    assert result.test is None and "share 0 (seed, fold) pair(s)" in result.verdict
