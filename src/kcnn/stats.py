"""Small-sample statistics without scipy: means, standard deviations, Student t, Welch's and corrected t-tests.

The t distribution's CDF comes from the regularized incomplete beta function
(continued fraction, as in Numerical Recipes §6.4); quantiles invert it by
bisection. Accurate to ~1e-10, far beyond what accuracies of a few hundred
validation images need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPSILON = 1e-15
_TINY = 1e-300


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


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        result *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        result *= delta
        if abs(delta - 1.0) < _EPSILON:
            break
    return result


def regularized_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with `df` (possibly fractional) degrees of freedom."""
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Inverse of `t_cdf`: the t with ``t_cdf(t, df) = p``."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"`p` must be between 0 and 1; got {p}.")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean; (nan, nan) for fewer than two values."""
    if len(values) < 2:
        return math.nan, math.nan
    center = mean(values)
    half = t_quantile(0.5 + confidence / 2.0, len(values) - 1) * sample_std(values) / math.sqrt(len(values))
    return center - half, center + half


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
    p = 2.0 * (1.0 - t_cdf(abs(t), df))
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
    p = 2.0 * (1.0 - t_cdf(abs(t), df))
    half = t_quantile(0.5 + confidence / 2.0, df) * se
    return WelchResult(difference, difference - half, difference + half, t, df, min(max(p, 0.0), 1.0))


def repeats_for_power(difference: float, std: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Runs per configuration to detect `difference` with a two-sample test (normal approximation).

    Returns:
        ``ceil(2 (z_{1−α/2} + z_power)² σ² / δ²)``, or `None` if the difference is zero.
    """
    if difference == 0 or not math.isfinite(std):
        return None
    z = _normal_quantile(1 - alpha / 2) + _normal_quantile(power)
    return max(2, math.ceil(2 * z * z * std * std / (difference * difference)))


def _normal_quantile(p: float) -> float:
    low, high = -10.0, 10.0
    for _ in range(100):
        middle = (low + high) / 2
        if 0.5 * math.erfc(-middle / math.sqrt(2)) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


#: Dixon's Q at 95% confidence for n = 3…10 (Rorabacher, Anal. Chem. 63, 1991, table II).
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
