import math
import random

import pytest
from scipy import stats as scipy_stats  # a core dependency: the reference and the implementation

from kcnn import stats


def test_mean_and_sample_std_by_hand():
    values = [0.60, 0.64, 0.68]
    assert stats.mean(values) == pytest.approx(0.64)
    # deviations −0.04, 0, 0.04: squares sum to 0.0032, over n − 1 = 2 → 0.0016, root 0.04
    assert stats.sample_std(values) == pytest.approx(0.04)
    assert math.isnan(stats.sample_std([0.5]))
    with pytest.raises(ValueError):
        stats.mean([])


@pytest.mark.parametrize("df", [1, 2, 3, 4.5, 5, 9, 10, 29, 30, 100])
def test_t_quantile_and_cdf_match_scipy(df):
    for p in (0.6, 0.9, 0.95, 0.975, 0.995):
        assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9)
    for t in (-3.0, -0.5, 0.0, 0.7, 2.0, 6.0):
        assert stats.t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), abs=1e-12)


def test_t_interval_matches_scipy():
    rng = random.Random(3)
    for n in (2, 3, 5, 12):
        values = [rng.gauss(0.6, 0.05) for _ in range(n)]
        low, high = stats.t_interval(values)
        ref_low, ref_high = scipy_stats.t.interval(0.95, n - 1, loc=stats.mean(values), scale=scipy_stats.sem(values))
        assert (low, high) == (pytest.approx(ref_low, rel=1e-9), pytest.approx(ref_high, rel=1e-9))


def test_welch_test_matches_scipy():
    rng = random.Random(5)
    for n_a, n_b in ((2, 2), (3, 5), (6, 4), (10, 10)):
        a = [rng.gauss(0.62, 0.04) for _ in range(n_a)]
        b = [rng.gauss(0.60, 0.02) for _ in range(n_b)]
        result = stats.welch_test(a, b)
        reference = scipy_stats.ttest_ind(a, b, equal_var=False)
        assert result.t == pytest.approx(reference.statistic, rel=1e-9)
        assert result.p_value == pytest.approx(reference.pvalue, rel=1e-7)
        half = scipy_stats.t.ppf(0.975, result.df) * math.sqrt(
            stats.sample_std(a) ** 2 / n_a + stats.sample_std(b) ** 2 / n_b
        )
        assert result.high - result.difference == pytest.approx(half, rel=1e-9)


def test_welch_needs_two_values_each():
    with pytest.raises(ValueError):
        stats.welch_test([0.5], [0.4, 0.6])


def test_repeats_for_power():
    # 2 (1.95996 + 0.84162)² σ²/δ² with σ = δ gives 15.7 → 16
    assert stats.repeats_for_power(0.02, 0.02) == 16
    assert stats.repeats_for_power(0.0, 0.02) is None


def test_dixons_q_known_answers():
    from kcnn.stats import largest_is_outlier

    issue = largest_is_outlier([0.194, 0.231, 0.294])  # the old flag's false alarm
    assert (issue.outlier, issue.test) == (False, "Dixon's Q")
    assert issue.statistic == pytest.approx(0.63) and issue.critical == 0.970
    assert largest_is_outlier([0.60, 0.602, 0.73]).outlier is True  # Q = 0.985
    assert largest_is_outlier([10.0, 10.1, 10.2, 10.3, 13.0]).statistic == pytest.approx(2.7 / 3.0)
    too_few = largest_is_outlier([0.5, 0.9])
    assert too_few.outlier is None and too_few.test == "too few runs to tell (n < 3)"


def test_grubbs_known_answer_above_ten_runs():
    from scipy import stats as scipy_stats

    from kcnn.stats import largest_is_outlier

    values = [0.61, 0.62, 0.60, 0.63, 0.61, 0.62, 0.60, 0.61, 0.62, 0.63, 0.61, 0.75]
    result = largest_is_outlier(values)
    n = len(values)
    t = scipy_stats.t.ppf(1 - 0.05 / n, n - 2)
    critical = (n - 1) / n**0.5 * (t * t / (n - 2 + t * t)) ** 0.5
    assert result.test == "Grubbs" and result.critical == pytest.approx(critical, rel=1e-6)
    assert result.outlier is True
    assert largest_is_outlier([*values[:-1], 0.64]).outlier is False


def test_the_normal_quantile_and_grubbs_critical_value_are_scipys():
    for p in (0.5, 0.8, 0.975, 0.999):
        assert stats.normal_quantile(p) == scipy_stats.norm.ppf(p)
    values = [0.60 + 0.001 * i for i in range(11)] + [0.70]
    result = stats.largest_is_outlier(values)
    n = len(values)
    t = scipy_stats.t.ppf(1 - 0.05 / n, n - 2)
    assert result.test == "Grubbs" and result.critical == pytest.approx(
        (n - 1) / math.sqrt(n) * math.sqrt(t * t / (n - 2 + t * t)), rel=1e-12
    )
    assert result.outlier is True


def test_a_far_tail_p_value_is_not_lost_to_rounding():
    """``2·sf`` keeps p-values that ``2·(1 − cdf)`` rounds to 0 (t = 40 with 30 degrees of freedom)."""
    result = stats.welch_test([1.0 + 1e-4 * i for i in range(16)], [0.0 + 1e-4 * i for i in range(16)])
    assert result.p_value > 0 and result.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(result.t), result.df))
