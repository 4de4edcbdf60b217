"""The Studies screen: races and Optuna studies with their progress and verdicts; start a race, stop a study."""

from __future__ import annotations

from typing import Any

from kcnn_tui.context import AppContext
from kcnn_tui.messages import StoreActionDone, StoreFailed, StudiesLoaded
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static


class StudiesScreen(Screen[None]):
    """Every study; the selected one's runs and verdict below."""

    BINDINGS = [
        Binding("r", "race", "Race top N"),
        Binding("o", "optimize", "Optuna study"),
        Binding("a", "answer", "Answer in a budget"),
        Binding("x", "stop", "Stop selected"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.selected: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        table: DataTable[Any] = DataTable(id="studies", cursor_type="row")
        table.add_columns("id", "kind", "state", "done", "pending", "pruned", "best so far", "budget used")
        yield table
        with VerticalScroll():
            yield Static("no studies yet: `r` races the leaderboard's top configurations", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(self.context.refresh_seconds, self.load)

    @work(thread=True, exclusive=True, group="studies", exit_on_error=False)
    def load(self) -> None:
        """Read the studies (and the selected one's runs) in a background thread."""
        from kcnn.api import open_store, study_summary

        try:
            with open_store(self.context.store_path, create=False) as store:
                summaries = [study_summary(store, study.id) for study in store.studies()]
                chosen = self.selected if self.selected is not None else (summaries[-1].study.id if summaries else None)
                runs = store.study_runs(chosen) if chosen is not None else []
            self.post_message(StudiesLoaded(summaries, runs))
        except Exception as error:
            self.post_message(StoreFailed(f"Cannot read the studies: {error}"))

    @on(StudiesLoaded)
    def show(self, message: StudiesLoaded) -> None:
        from kcnn.api.views import study_table

        table = self.query_one("#studies", DataTable)
        table.clear()
        for summary in message.summaries:
            study = summary.study
            best = "" if summary.best_key is None else f"{summary.best_key[:8]} {summary.best_mean:.1%}"
            table.add_row(str(study.id), study.kind, study.state, str(summary.counts.get("done", 0)),
                          str(summary.pending), str(summary.counts.get("pruned", 0)), best, summary.budget,
                          key=str(study.id))  # fmt: skip
        if self.selected is not None and str(self.selected) in table.rows:
            table.move_cursor(row=table.get_row_index(str(self.selected)))
        by_id = {summary.study.id: summary for summary in message.summaries}
        chosen = self.selected if self.selected in by_id else (message.summaries[-1].study.id if by_id else None)
        if chosen is not None:
            self.query_one("#detail", Static).update(study_table(by_id[chosen], message.runs))

    @on(DataTable.RowHighlighted)
    def choose(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and int(key) != self.selected:
            self.selected = int(key)
            self.load()

    def action_race(self) -> None:
        """Ask how many of the leaderboard's configurations to race, then start the race."""
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if text and text.strip():
                self.start_race(text.strip())

        self.app.push_screen(PromptScreen("Race the leaderboard's top N configurations; N =", "3"), start)

    @work(thread=True, group="studies-write", exit_on_error=False)
    def start_race(self, text: str) -> None:
        """Start a race in a background thread (a write may wait for the store's lock)."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            top = int(text)
        except ValueError:
            self.post_message(StoreActionDone(f"N must be a whole number, such as 3; got {text!r}", "warning"))
            return
        try:
            with api.open_store(self.context.store_path, create=False) as store:
                study_id = api.race(store, top=top)
        except KcnnError as error:
            self.post_message(StoreActionDone(str(error), "warning"))
            return
        except Exception as error:  # an internal failure: said, never a silent worker
            self.post_message(StoreActionDone(f"The race could not start: {type(error).__name__}: {error}", "error"))
            return
        self.selected = study_id
        self.post_message(StoreActionDone(f"race {study_id} started: workers run and advance it"))

    def action_optimize(self) -> None:
        """Ask for a SPACE.toml (and a number of trials), then start an Optuna study over it."""
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if text and text.strip():
                self.start_optimize(text.strip())

        prompt = "Optuna study: SPACE.toml and trials (e.g. examples/space.toml 20; needs kcnn[optuna])"
        self.app.push_screen(PromptScreen(prompt, "examples/space.toml 20"), start)

    @work(thread=True, group="studies-write", exit_on_error=False)
    def start_optimize(self, text: str) -> None:
        """Start an Optuna study in a background thread."""
        from kcnn import api
        from kcnn.errors import KcnnError

        path, _, trials = text.rpartition(" ") if text.rsplit(" ", 1)[-1].isdigit() else (text, "", "20")
        try:
            with api.open_store(self.context.store_path, create=False) as store:
                study_id = api.optimize(store, path.strip(), trials=int(trials))
        except KcnnError as error:
            self.post_message(StoreActionDone(str(error), "warning"))
            return
        except Exception as error:  # an internal failure: said, never a silent worker
            message = f"The Optuna study could not start: {type(error).__name__}: {error}"
            self.post_message(StoreActionDone(message, "error"))
            return
        self.selected = study_id
        self.post_message(StoreActionDone(f"Optuna study {study_id} started: workers run and advance it"))

    def action_answer(self) -> None:
        """Ask for a SWEEP.toml and a budget, then start a budgeted study over its grid."""
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if text and text.strip():
                self.start_answer(text.strip())

        prompt = "Budgeted study: SWEEP.toml, budget and worker slots (e.g. examples/dilation_sweep.toml 5m 2)"
        self.app.push_screen(PromptScreen(prompt, "examples/dilation_sweep.toml 5m 1"), start)

    @work(thread=True, group="studies-write", exit_on_error=False)
    def start_answer(self, text: str) -> None:
        """Start a budgeted study in a background thread."""
        from argparse import ArgumentTypeError

        from kcnn import api
        from kcnn.api.arguments import seconds
        from kcnn.errors import KcnnError

        parts = text.split()
        workers = parts.pop() if len(parts) > 2 and parts[-1].isdigit() else "1"
        try:
            path, budget = " ".join(parts[:-1]), seconds("budget", example="5m")(parts[-1])
        except (IndexError, ValueError, ArgumentTypeError) as error:
            self.post_message(StoreActionDone(f"Give a sweep file and a budget, such as 5m: {error}", "warning"))
            return
        try:
            with api.open_store(self.context.store_path, create=False) as store:
                study_id = api.answer(store, path, budget_seconds=budget, workers=int(workers))
                tight = api.answer_budget_line(store, study_id)
        except KcnnError as error:
            self.post_message(StoreActionDone(str(error), "warning"))
            return
        except Exception as error:  # an internal failure: said, never a silent worker
            message = f"The budgeted study could not start: {type(error).__name__}: {error}"
            self.post_message(StoreActionDone(message, "error"))
            return
        self.selected = study_id
        said = f"study {study_id} started: workers run it; its answer comes within {budget:.0f} s"
        self.post_message(StoreActionDone(said + (f" — note: {tight}" if tight else "")))

    def action_stop(self) -> None:
        if self.selected is not None:
            self.stop(self.selected)

    @work(thread=True, group="studies-write", exit_on_error=False)
    def stop(self, study_id: int) -> None:
        """Stop a study in a background thread."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                cancelled = api.stop_study(store, study_id)
        except KcnnError as error:
            self.post_message(StoreActionDone(str(error), "warning"))
            return
        self.post_message(StoreActionDone(f"study {study_id} stopped; {cancelled} queued run(s) cancelled"))

    @on(StoreActionDone)
    def done(self, message: StoreActionDone) -> None:
        self.notify(message.text, severity=message.severity, markup=False)
        self.load()

    @on(StoreFailed)
    def failed(self, message: StoreFailed) -> None:
        self.notify(message.text, severity="error", markup=False)

    def action_back(self) -> None:
        self.app.pop_screen()
