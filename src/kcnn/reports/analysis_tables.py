"""Rich tables of the analyses: leaderboard, effect tables, A/B comparison. Returned, never printed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from kcnn import stats
from kcnn.config import format_value, sort_key
from kcnn.reports.comparison import WELCH, Comparison
from kcnn.reports.grouping import ConfigSummary, EffectCell, Excluded, varying_fields
from kcnn.reports.text import safe

if TYPE_CHECKING:
    from kcnn.reports.effects import EffectAnalysis

SHORT = {"kernel_size": "k", "dilation": "d", "input_size": "input", "channels": "ch", "batch_size": "batch",
         "learning_rate": "lr", "stride": "s", "pool_size": "pool", "dense_units": "dense"}  # fmt: skip


#: Narrow terminals: leaderboard columns hidden first, and those never hidden (the rank, key and result).
LEADERBOARD_HIDE_FIRST = ("s/epoch", "best (run)", "95% CI")
LEADERBOARD_KEEP = ("#", "config", "n", "mean ± std")


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.2%}" if math.isnan(std) else f"{mean:.2%} ± {std:.2%}"


def leaderboard_table(summaries: Sequence[ConfigSummary], metric: str, excluded: Excluded, total: int) -> Table:
    """Configurations ranked by mean validation accuracy over their seeds (and folds).

    A ``test`` column appears when runs kept a test set: the winner was chosen on validation accuracy, so
    its test accuracy beside it shows how optimistic that choice is.
    """
    fields = varying_fields(summaries) if len(summaries) > 1 else []
    with_test = any(summary.test_values for summary in summaries)
    cross_validated = any(summary.fold_count > 1 for summary in summaries)
    notes = [
        f"{len(summaries)} of {total} configuration(s)",
        excluded.text,
        "(1) unreplicated: a single run",
        "! best run an outlier among its config's runs (Dixon's Q to 10 runs, Grubbs above; 5%)",
    ]
    if any(summary.n == 2 for summary in summaries):
        notes.append("95% CI (n=2): from two runs, one degree of freedom (t = 12.7); it says little until n ≥ 3")
    if cross_validated:
        notes.append("K-fold configurations: n counts folds × seeds, 95% CI with Nadeau-Bengio's corrected variance")
    winner_test = summaries[0].test_mean if summaries else None
    if winner_test is not None:
        winner = summaries[0]
        notes.append(
            f"winner {winner.config_key[:8]}: {winner.mean:.2%} validation, {winner_test:.2%} test "
            f"({winner_test - winner.mean:+.2%}: the optimism of choosing on validation images)"
        )
    table = Table(
        title=f"Leaderboard: {metric} validation accuracy, mean over seeds" + (" and folds" if cross_validated else ""),
        title_justify="left",
        caption=" · ".join(notes),
        caption_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("config")
    for name in fields:
        table.add_column(SHORT.get(name, name), justify="right")
    columns = ["n", "mean ± std", "95% CI", *(["test"] if with_test else []), "best (run)", "s/epoch"]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=column != "95% CI")
    for rank, summary in enumerate(summaries, start=1):
        interval = summary.interval_text
        best = f"{summary.best:.2%} ({summary.best_run})" + (" [bold red]![/]" if summary.likely_outlier else "")
        n = f"{summary.n}" if summary.n > 1 else "[yellow]1 (1)[/]"
        if summary.fold_count > 1:
            n += f" ({summary.fold_count}-fold)"
        seconds = summary.mean_epoch_seconds
        test = [] if not with_test else ["" if summary.test_mean is None else f"{summary.test_mean:.2%}"]
        table.add_row(
            str(rank),
            summary.config_key[:8],
            *(safe(format_value(name, summary.config.get(name))) for name in fields),
            n,
            _mean_std(summary.mean, summary.std),
            interval,
            *test,
            best,
            "" if seconds is None else f"{seconds:.2f}",
            style="bold" if rank == 1 else None,
        )
    return table


def effects_table(cells: Sequence[EffectCell], by: Sequence[str], metric: str, excluded: Excluded) -> Table:
    """Mean ± std per value of one hyperparameter, or a matrix for two."""
    caption = f"{metric} validation accuracy over every finished run · {excluded.text}"
    if len(by) == 1:
        table = Table(title=f"Effect of {by[0]}", title_justify="left", caption=caption, caption_justify="left")
        for column in (by[0], "n", "mean ± std", "best"):
            table.add_column(column, justify="right")
        top = max((stats.mean(c.values) for c in cells), default=None)
        for cell in cells:
            center = stats.mean(cell.values)
            table.add_row(
                safe(format_value(by[0], cell.key[0])),
                str(cell.n),
                _mean_std(center, stats.sample_std(cell.values)),
                f"{max(cell.values):.2%}",
                style="bold green" if center == top else None,
            )
        return table
    rows = sorted({c.key[0] for c in cells}, key=sort_key)
    columns = sorted({c.key[1] for c in cells}, key=sort_key)
    lookup = {c.key: c for c in cells}
    table = Table(
        title=f"Effect of {by[0]} × {by[1]}",
        title_justify="left",
        caption=caption + " · cells: mean ± std (n)",
        caption_justify="left",
    )
    table.add_column(f"{by[0]} \\ {by[1]}", style="bold")
    for column_value in columns:
        table.add_column(safe(format_value(by[1], column_value)), justify="right")
    for row in rows:
        cells_text: list[Text | str] = []
        for column_value in columns:
            found = lookup.get((row, column_value))
            if found is None:
                cells_text.append(Text("–", style="dim"))
            else:
                cells_text.append(f"{_mean_std(stats.mean(found.values), stats.sample_std(found.values))} ({found.n})")
        table.add_row(safe(format_value(by[0], row)), *cells_text)
    return table


def comparison_table(comparison: Comparison, metric: str) -> Table:
    """Two configurations side by side, with the difference and the verdict."""
    a, b = comparison.a, comparison.b
    fields = varying_fields([a, b])
    table = Table(
        title=f"A/B: {metric} validation accuracy",
        title_justify="left",
        caption=comparison.verdict,
        caption_justify="left",
    )
    table.add_column("")
    table.add_column(f"A {a.config_key[:8]}", justify="right")
    table.add_column(f"B {b.config_key[:8]}", justify="right")
    for name in fields:
        table.add_row(name, safe(format_value(name, a.config.get(name))), safe(format_value(name, b.config.get(name))))
    table.add_row("n", str(a.n), str(b.n))
    table.add_row("mean ± std", _mean_std(a.mean, a.std), _mean_std(b.mean, b.std))
    table.add_row("best", f"{a.best:.2%}", f"{b.best:.2%}")
    if a.test_mean is not None or b.test_mean is not None:
        table.add_row("test set", *("" if s.test_mean is None else f"{s.test_mean:.2%}" for s in (a, b)))
    test = comparison.test
    if test is not None:
        table.add_row("A − B", f"{test.difference:+.2%}", f"95% CI {test.low:+.2%} … {test.high:+.2%}")
        name = "Welch t-test" if comparison.method == WELCH else "corrected t-test (folds)"
        table.add_row(name, f"t = {test.t:.2f}, df = {test.df:.1f}", f"p = {test.p_value:.3g}")
    return table


def effect_tests_table(analysis: EffectAnalysis) -> Table:
    """Every varying hyperparameter, most important first: ω², F against seed noise, p, verdict."""
    noise = (
        f"seed noise: σ = {analysis.noise_std:.2%} from {analysis.noise_df} repeat degree(s) of freedom"
        if analysis.noise_std is not None
        else "seed noise unknown: no configuration has repeats"
    )
    table = Table(
        title=f"Which hyperparameters matter: {analysis.metric} validation accuracy, {analysis.runs} runs of "
        f"{analysis.configurations} configurations",
        title_justify="left",
        caption=f"{noise} · Type II sums of squares (each term given every other main effect) · F against the "
        "seed-noise floor (within-configuration variance) · ω²: share of the variance, corrected for noise",
        caption_justify="left",
    )
    for column in ("hyperparameter", "ω²", "F", "df", "p", "verdict"):
        table.add_column(column, justify="left" if column in ("hyperparameter", "verdict") else "right")
    for term in analysis.terms:
        table.add_row(
            safe(term.name),
            "" if term.omega_squared is None else f"{term.omega_squared:.0%}",
            "" if term.f is None else f"{term.f:.2f}",
            f"{term.df}, {analysis.noise_df}",
            "" if term.p is None else ("< 0.001" if term.p < 0.001 else f"{term.p:.3f}"),
            f"[green]{safe(term.verdict)}[/]" if term.real else safe(term.verdict),
        )
    return table


def effect_line(analysis: EffectAnalysis) -> str:
    """One line per tested term, for under an effect table (``kcnn compare --by``)."""
    return "\n".join(f"F-test · {term.name}: {term.verdict}" for term in analysis.terms)
