"""Small-sample statistics over scipy's distributions: means, intervals, Welch's and corrected t-tests, outliers.

Student's t and the normal distribution are scipy's (`scipy.stats`), imported where a test is computed so
that `kcnn --help` and the TUI's first screen never load scipy. What remains here is what scipy does not
have: the Nadeau–Bengio corrected resampled t-test and interval, the repeats needed for a given power,
Dixon's Q table, and kcnn's result types.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean.

    Raises:
        ValueError: For an empty sequence.
    """
    if not values:
        raise ValueError("`values` must not be empty.")
    return math.fsum(values) / len(values)


def sample_std(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof = 1); NaN for fewer than two values."""
    if len(values) < 2:
        return math.nan
    center = mean(values)
    return math.sqrt(math.fsum((v - center) ** 2 for v in values) / (len(values) - 1))


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with `df` (possibly fractional) degrees of freedom (scipy's)."""
    from scipy import stats as distributions

    return float(distributions.t.cdf(t, df))


def t_sf(t: float, df: float) -> float:
    """Survival function ``1 − CDF`` of Student's t (scipy's, exact in the far tail where ``1 − CDF`` is not)."""
    from scipy import stats as distributions

    return float(distributions.t.sf(t, df))


def t_quantile(p: float, df: float) -> float:
    """Inverse of `t_cdf`: the t with ``t_cdf(t, df) = p`` (scipy's).

    Raises:
        ValueError: For `p` outside (0, 1).
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"`p` must be between 0 and 1; got {p}.")
    from scipy import stats as distributions

    return float(distributions.t.ppf(p, df))


def normal_quantile(p: float) -> float:
    """Inverse CDF of the standard normal distribution (scipy's)."""
    from scipy import stats as distributions

    return float(distributions.norm.ppf(p))


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean; (nan, nan) for fewer than two values."""
    if len(values) < 2:
        return math.nan, math.nan
    center = mean(values)
    half = t_quantile(0.5 + confidence / 2.0, len(values) - 1) * sample_std(values) / math.sqrt(len(values))
    return center - half, center + half


def clipped(interval: tuple[float, float], low: float = 0.0, high: float = 1.0) -> tuple[float, float]:
    """An interval of a bounded quantity (an accuracy: 0 to 1) cut to its range; NaN stays NaN."""
    start, end = interval
    if math.isnan(start) or math.isnan(end):
        return start, end
    return min(max(start, low), high), max(min(end, high), low)


#: Fewer runs than this make an interval that says little: n = 2 has one degree of freedom (t₀.₉₇₅ = 12.7).
FEW_FOR_AN_INTERVAL = 3


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test of mean(a) − mean(b)."""

    difference: float
    """mean(a) − mean(b)."""
    low: float
    """Lower end of the confidence interval of the difference."""
    high: float
    """Upper end of the confidence interval of the difference."""
    t: float
    """The t statistic."""
    df: float
    """Welch–Satterthwaite degrees of freedom."""
    p_value: float
    """Two-sided p-value."""


def welch_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> WelchResult:
    """Welch's t-test and the confidence interval of the difference of means.

    Raises:
        ValueError: If either sample has fewer than two values.
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's test needs at least two values in each sample.")
    va, vb = sample_std(a) ** 2 / len(a), sample_std(b) ** 2 / len(b)
    difference = mean(a) - mean(b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        p = 1.0 if difference == 0 else 0.0
        return WelchResult(
            difference, difference, difference, math.copysign(math.inf, difference) if difference else 0.0, math.inf, p
        )
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = difference / se
    p = 2.0 * t_sf(abs(t), df)
    half = t_quantile(0.5 + confidence / 2.0, df) * se
    return WelchResult(difference, difference - half, difference + half, t, df, min(max(p, 0.0), 1.0))


def corrected_interval(
    values: Sequence[float], test_train_ratio: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Confidence interval of the mean of cross-validation results, with Nadeau and Bengio's corrected variance.

    The runs of K-fold cross-validation train on overlapping images, so their results are positively
    correlated and ``s²/n`` understates the variance of their mean; Nadeau and Bengio (Machine Learning 52,
    2003) replace it with ``(1/n + n_test/n_train) · s²`` (for K folds, ``n_test/n_train = 1/(K−1)``).

    Returns:
        ``(low, high)``; ``(nan, nan)`` for fewer than two values.
    """
    if len(values) < 2:
        return math.nan, math.nan
    center = mean(values)
    half = (
        t_quantile(0.5 + confidence / 2.0, len(values) - 1)
        * sample_std(values)
        * math.sqrt(1.0 / len(values) + test_train_ratio)
    )
    return center - half, center + half


def corrected_resampled_t_test(
    differences: Sequence[float], test_train_ratio: float, confidence: float = 0.95
) -> WelchResult:
    """Nadeau and Bengio's corrected resampled t-test of paired differences from (repeated) K-fold cross-validation.

    Two configurations trained on the same folds (and seeds) give paired results; their differences
    ``d_1 … d_n`` are correlated through the overlapping training sets, so the plain paired t-test is too
    confident. The corrected statistic is ``t = mean(d) / sqrt((1/n + n_test/n_train) · s_d²)`` with
    ``n − 1`` degrees of freedom (Nadeau & Bengio, Machine Learning 52, 2003; for repeated K-fold
    cross-validation with ``n = K·r`` and ``n_test/n_train = 1/(K−1)``, Bouckaert & Frank, PAKDD 2004).

    Args:
        differences: Paired differences a − b, one per (seed, fold).
        test_train_ratio: Validation images over training images of one run (``1/(K−1)`` for K folds).
        confidence: Level of the interval. Defaults to 0.95.

    Returns:
        The difference of means, its corrected interval, t, the degrees of freedom and the two-sided p-value.

    Raises:
        ValueError: For fewer than two differences.
    """
    n = len(differences)
    if n < 2:
        raise ValueError("The corrected resampled t-test needs at least two paired differences.")
    difference = mean(differences)
    se = sample_std(differences) * math.sqrt(1.0 / n + test_train_ratio)
    df = float(n - 1)
    if se == 0.0:
        p = 1.0 if difference == 0 else 0.0
        return WelchResult(
            difference, difference, difference, math.copysign(math.inf, difference) if difference else 0.0, df, p
        )
    t = difference / se
    p = 2.0 * t_sf(abs(t), df)
    half = t_quantile(0.5 + confidence / 2.0, df) * se
    return WelchResult(difference, difference - half, difference + half, t, df, min(max(p, 0.0), 1.0))


def repeats_for_power(difference: float, std: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Runs per configuration to detect `difference` with a two-sample test (normal approximation).

    Returns:
        ``ceil(2 (z_{1−α/2} + z_power)² σ² / δ²)``, or `None` if the difference is zero.
    """
    if difference == 0 or not math.isfinite(std):
        return None
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    return max(2, math.ceil(2 * z * z * std * std / (difference * difference)))


#: Dixon's Q at 95% confidence for n = 3…10 (Rorabacher, Anal. Chem. 63, 1991, table II). Tabulated data, not a
#: special function: scipy has no Dixon distribution (its critical values come from simulation).
DIXON_Q_95 = {3: 0.970, 4: 0.829, 5: 0.710, 6: 0.625, 7: 0.568, 8: 0.526, 9: 0.493, 10: 0.466}


@dataclass(frozen=True)
class OutlierTest:
    """Whether the largest value is an outlier among `n` values, and by which test."""

    outlier: bool | None
    """`None`: too few values to tell (fewer than 3)."""
    test: str
    statistic: float | None = None
    critical: float | None = None


def largest_is_outlier(values: Sequence[float], alpha: float = 0.05) -> OutlierTest:
    """Test the largest value: Dixon's Q for 3 to 10 values (tabulated at 5%), Grubbs' test above 10.

    Dixon's Q is the gap to the next value over the range; Grubbs' G is the distance from the mean in
    sample standard deviations, against the one-sided critical value from Student's t at alpha / n.
    """
    n = len(values)
    if n < 3:
        return OutlierTest(None, "too few runs to tell (n < 3)")
    ordered = sorted(values)
    if n <= 10:
        if alpha != 0.05:
            raise ValueError("Dixon's Q is tabulated at alpha = 0.05 only.")
        spread = ordered[-1] - ordered[0]
        q = (ordered[-1] - ordered[-2]) / spread if spread > 0 else 0.0
        return OutlierTest(q > DIXON_Q_95[n], "Dixon's Q", q, DIXON_Q_95[n])
    center, std = mean(values), sample_std(values)
    g = (ordered[-1] - center) / std if std > 0 else 0.0
    t = t_quantile(1 - alpha / n, n - 2)
    critical = (n - 1) / math.sqrt(n) * math.sqrt(t * t / (n - 2 + t * t))
    return OutlierTest(g > critical, "Grubbs", g, critical)
