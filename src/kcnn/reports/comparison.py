"""Is configuration A really better than B? Welch's test and a verdict in words that names the better one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kcnn.errors import KcnnError
from kcnn.reports import stats
from kcnn.reports.grouping import ConfigSummary


@dataclass(frozen=True)
class Comparison:
    """Is configuration A really better than B?"""

    a: ConfigSummary
    b: ConfigSummary
    test: stats.WelchResult | None
    verdict: str

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
    """Welch's test of a − b, and a plain-words verdict."""
    if a.n < 2 or b.n < 2:
        verdict = (
            f"Cannot tell: {a.config_key[:8]} has {a.n} run(s) and {b.config_key[:8]} has {b.n}; "
            "queue at least 2 seeds of each (`--repeats 3` or more) to compare."
        )
        return Comparison(a, b, None, verdict)
    test = stats.welch_test(a.values, b.values)
    pooled = math.sqrt((a.std**2 + b.std**2) / 2)
    if test.p_value < 0.05:
        # Name the better configuration, whichever order they were given in, with a positive gap.
        better, worse = (a, b) if test.difference > 0 else (b, a)
        gap, low, high = abs(test.difference), min(abs(test.low), abs(test.high)), max(abs(test.low), abs(test.high))
        verdict = (
            f"{better.config_key[:8]} is better than {worse.config_key[:8]} by {gap:.2%} (95% CI {low:.2%} to "
            f"{high:.2%}, p = {test.p_value:.3g}): a real difference at the 5% level."
        )
    else:
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
