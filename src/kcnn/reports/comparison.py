"""Is configuration A really better than B? A test and a verdict in words that names the better one.

Configurations validated on one split are compared with Welch's test over their seeds. Configurations
validated by K-fold cross-validation are compared pairwise, fold by fold and seed by seed, with Nadeau
and Bengio's corrected resampled t-test (`stats.corrected_resampled_t_test`): fold results share
training images, and a Welch test would be too confident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kcnn import stats
from kcnn.errors import KcnnError
from kcnn.reports.grouping import ConfigSummary

WELCH = "Welch's t-test"
CORRECTED = "Nadeau-Bengio corrected resampled t-test"


@dataclass(frozen=True)
class Comparison:
    """Is configuration A really better than B?"""

    a: ConfigSummary
    b: ConfigSummary
    test: stats.WelchResult | None
    verdict: str
    method: str = WELCH
    """Which test: `WELCH` or `CORRECTED` (cross-validated configurations)."""

    def to_dict(self) -> dict[str, Any]:
        """Every number, for scripts."""
        test = self.test
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "difference": self.a.mean - self.b.mean,
            "ci95_low": test.low if test else None,
            "ci95_high": test.high if test else None,
            "t": test.t if test else None,
            "df": test.df if test else None,
            "p_value": test.p_value if test else None,
            "test": self.method if test else None,
            "verdict": self.verdict,
        }


def find_summary(summaries: Sequence[ConfigSummary], key: str) -> ConfigSummary:
    """The summary whose config key starts with `key`.

    Raises:
        KcnnError: If none or several match.
    """
    matches = [s for s in summaries if s.config_key.startswith(key)]
    if len(matches) != 1:
        what = "no configuration" if not matches else f"{len(matches)} configurations"
        raise KcnnError(
            f"{what.capitalize()} with finished runs has a key starting with {key!r}; "
            "`kcnn leaderboard` lists the keys."
        )
    return matches[0]


def compare(a: ConfigSummary, b: ConfigSummary) -> Comparison:
    """Test a − b (Welch, or the corrected resampled t-test for cross-validated configurations) and say it in words."""
    if a.fold_count != b.fold_count:
        verdict = (
            f"Cannot compare: {a.config_key[:8]} was validated {_scheme(a)} and {b.config_key[:8]} {_scheme(b)}; "
            "their accuracies are measured on different images. Compare configurations validated the same way."
        )
        return Comparison(a, b, None, verdict)
    if a.fold_count > 1:
        return _compare_folds(a, b)
    if a.n < 2 or b.n < 2:
        verdict = (
            f"Cannot tell: {a.config_key[:8]} has {a.n} run(s) and {b.config_key[:8]} has {b.n}; "
            "queue at least 2 seeds of each (`--repeats 3` or more) to compare."
        )
        return Comparison(a, b, None, verdict)
    test = stats.welch_test(a.values, b.values)
    pooled = math.sqrt((a.std**2 + b.std**2) / 2)
    if test.p_value < 0.05:
        return Comparison(a, b, test, _better(a, b, test))
    needed = stats.repeats_for_power(test.difference, pooled)
    more = (
        f" About {needed} runs per configuration would detect a difference of {abs(test.difference):.2%} "
        "80% of the time."
        if needed
        else ""
    )
    verdict = (
        f"Not distinguishable yet: difference {test.difference:+.2%} (95% CI {test.low:+.2%} to "
        f"{test.high:+.2%}, p = {test.p_value:.3g}) with {a.n} and {b.n} runs. More repeats are needed.{more}"
    )
    return Comparison(a, b, test, verdict)


def _compare_folds(a: ConfigSummary, b: ConfigSummary) -> Comparison:
    """The corrected resampled t-test over the (seed, fold) pairs both configurations trained."""
    first, second = a.by_repeat(), b.by_repeat()
    pairs = sorted(set(first) & set(second))
    if len(pairs) < 2:
        verdict = (
            f"Cannot tell: {a.config_key[:8]} and {b.config_key[:8]} share {len(pairs)} (seed, fold) pair(s); the "
            "corrected test pairs runs on the same fold and seed. Queue both with the same `--seed` and `--folds`."
        )
        return Comparison(a, b, None, verdict, CORRECTED)
    test = stats.corrected_resampled_t_test([first[p] - second[p] for p in pairs], 1 / (a.fold_count - 1))
    how = f" ({CORRECTED} over {len(pairs)} paired folds)"
    if test.p_value < 0.05:
        return Comparison(a, b, test, _better(a, b, test) + how, CORRECTED)
    verdict = (
        f"Not distinguishable yet: difference {test.difference:+.2%} (95% CI {test.low:+.2%} to {test.high:+.2%}, "
        f"p = {test.p_value:.3g}){how}. More repeats of the folds (`--repeats`) are needed."
    )
    return Comparison(a, b, test, verdict, CORRECTED)


def _better(a: ConfigSummary, b: ConfigSummary, test: stats.WelchResult) -> str:
    """The verdict naming the better configuration, whichever order they were given in, with a positive gap."""
    better, worse = (a, b) if test.difference > 0 else (b, a)
    gap, low, high = abs(test.difference), min(abs(test.low), abs(test.high)), max(abs(test.low), abs(test.high))
    return (
        f"{better.config_key[:8]} is better than {worse.config_key[:8]} by {gap:.2%} (95% CI {low:.2%} to "
        f"{high:.2%}, p = {test.p_value:.3g}): a real difference at the 5% level."
    )


def _scheme(summary: ConfigSummary) -> str:
    return f"by {summary.fold_count}-fold cross-validation" if summary.fold_count > 1 else "on one split"
