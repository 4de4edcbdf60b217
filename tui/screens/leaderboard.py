"""The Leaderboard screen: configurations ranked by mean accuracy over seeds, and effect tables."""

from __future__ import annotations

import math
from typing import Any

from kcnn_tui.context import AppContext
from kcnn_tui.messages import LeaderboardLoaded, StoreFailed
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

EFFECT_KEYS = ("kernel_size", "dilation", "input_size", "channels", "batch_size", "learning_rate", None)


class LeaderboardScreen(Screen[None]):
    """Grouped leaderboard, refreshed as runs finish."""

    BINDINGS = [
        Binding("m", "metric", "Best/final"),
        Binding("b", "effects", "Effect by…"),
        Binding("g", "plot", "Plot runs"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.metric = "best"
        self.effect_key: str | None = "kernel_size"
        self.plot = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        table: DataTable[Any] = DataTable(id="board", cursor_type="row", zebra_stripes=True)
        yield table
        with VerticalScroll(id="effects"):
            yield Static(id="effect-tests")
            yield Static(id="effect-table")
            yield Static(id="plot")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(max(self.context.refresh_seconds * 3, 2.0), self.load)

    @work(thread=True, exclusive=True, group="leaderboard", exit_on_error=False)
    def load(self) -> None:
        """Read finished runs and compute the statistics in a background thread."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                summaries, excluded = api.leaderboard(store, self.metric), api.excluded(store)
                cells = api.effects(store, [self.effect_key], self.metric) if self.effect_key else []
                try:
                    tests: Any = api.effect_tests(store, self.metric) if len(summaries) > 1 else None
                except KcnnError as error:  # scipy missing, or nothing varies yet
                    tests = str(error)
                plot = None
                if self.plot and summaries:
                    plot = api.figure(store, "runs", self.effect_key or "kernel_size", metric=self.metric)
            self.post_message(LeaderboardLoaded(summaries, excluded, cells, tests, plot))
        except Exception as error:
            self.post_message(StoreFailed(f"Cannot compute the leaderboard: {error}"))

    @on(LeaderboardLoaded)
    def show(self, message: LeaderboardLoaded) -> None:
        from kcnn.api.views import SHORT, effects_table, varying_fields
        from kcnn.config import format_value

        summaries = message.summaries
        fields = varying_fields(summaries) if len(summaries) > 1 else []
        table = self.query_one("#board", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "config", *(SHORT.get(f, f) for f in fields), "n", "mean ± std", "95% CI", "best",
                          "s/epoch")  # fmt: skip
        for rank, summary in enumerate(summaries, start=1):
            std = "" if math.isnan(summary.std) else f" ± {summary.std:.1%}"
            table.add_row(
                str(rank),
                summary.config_key[:8],
                *(format_value(f, summary.config.get(f)) for f in fields),
                str(summary.n) if summary.n > 1 else "1 (unreplicated)",
                f"{summary.mean:.1%}{std}",
                summary.interval_text,
                f"{summary.best:.1%}" + (" ! outlier?" if summary.likely_outlier else ""),
                "" if summary.mean_epoch_seconds is None else f"{summary.mean_epoch_seconds:.2f}",
                key=summary.config_key,
            )
        self.query_one("#summary", Static).update(
            f"{len(summaries)} configuration(s) · {self.metric} validation accuracy, mean over seeds · "
            f"{message.excluded.text}"
        )
        from kcnn.api.views import effect_tests_table

        tests = self.query_one("#effect-tests", Static)
        if message.tests is None or isinstance(message.tests, str):
            tests.update(message.tests or "")
        else:
            tests.update(effect_tests_table(message.tests))
        self.query_one("#plot", Static).update(message.plot if message.plot is not None else "")
        effect = self.query_one("#effect-table", Static)
        if message.effects and self.effect_key:
            effect.update(effects_table(message.effects, [self.effect_key], self.metric, message.excluded))
        else:
            effect.update("")

    @on(StoreFailed)
    def failed(self, message: StoreFailed) -> None:
        self.notify(message.text, severity="error", markup=False)

    def action_metric(self) -> None:
        self.metric = "final" if self.metric == "best" else "best"
        self.load()

    def action_effects(self) -> None:
        index = EFFECT_KEYS.index(self.effect_key)
        self.effect_key = EFFECT_KEYS[(index + 1) % len(EFFECT_KEYS)]
        self.notify(f"effect table: {self.effect_key or 'hidden'}")
        self.load()

    def action_plot(self) -> None:
        self.plot = not self.plot
        self.notify("plot: every run against " + (self.effect_key or "kernel_size") if self.plot else "plot hidden")
        self.load()

    def action_back(self) -> None:
        self.dismiss(None)
