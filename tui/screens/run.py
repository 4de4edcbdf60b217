"""The Run screen: summary, config, shape plan, epochs, curves, events and error of one run."""

from __future__ import annotations

from typing import Any

from kcnn_tui.context import AppContext
from kcnn_tui.messages import RunEvaluated, RunLoaded, StoreFailed
from rich.console import Group
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from kcnn.reports.text import safe


class RunScreen(Screen[None]):
    """Everything about one run; refreshes while it trains."""

    BINDINGS = [Binding("e", "evaluate", "Evaluate per class"), Binding("escape", "back", "Back")]

    def __init__(self, context: AppContext, run_id: int) -> None:
        super().__init__()
        self.context = context
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("", id="evaluation")
            yield Static("loading…", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.timer = self.set_interval(max(self.context.refresh_seconds * 2, 1.0), self.load)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def load(self) -> None:
        """Read the run in a background thread."""
        from kcnn.api import open_store

        try:
            with open_store(self.context.store_path, create=False) as store:
                self.post_message(RunLoaded(store.get_run(self.run_id), store.epochs(self.run_id),
                                            store.events(self.run_id)))  # fmt: skip
        except Exception as error:
            self.post_message(StoreFailed(f"Cannot read run {self.run_id}: {error}"))

    def action_evaluate(self) -> None:
        """Evaluate the run's final model per class on its validation images (loads the model and data)."""
        self.query_one("#evaluation", Static).update("evaluating the final model on the validation images…")
        self.evaluate()

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def evaluate(self) -> None:
        """Evaluate in a background thread: keras, the model and the images load here."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                run = store.get_run(self.run_id)
            self.post_message(RunEvaluated(api.evaluate(run)))
        except KcnnError as error:
            self.post_message(RunEvaluated(str(error)))

    @on(RunEvaluated)
    def show_evaluation(self, message: RunEvaluated) -> None:
        from kcnn.reports.evaluation_tables import class_table, confusion_table

        target = self.query_one("#evaluation", Static)
        if isinstance(message.evaluation, str):
            target.update(f"[red]cannot evaluate:[/red] {safe(message.evaluation)}")
        else:
            target.update(Group(class_table(message.evaluation), confusion_table(message.evaluation)))

    @on(RunLoaded)
    def show(self, message: RunLoaded) -> None:
        from kcnn.reports.config_tables import config_table, kernel_footprint, plan_table
        from kcnn.reports.curves import run_curves
        from kcnn.reports.run_tables import epochs_table, events_table, run_summary_table

        run = message.run
        parts: list[Any] = [run_summary_table(run)]
        if run.error_message:
            parts.append(f"[red]error ({safe(run.error_kind)}):[/red] {safe(run.error_message, lines=True)}")
        config = run.experiment_config
        if config is None:
            parts.append(f"[red]damaged config:[/red] {safe(run.config_problem or '')}")
        else:
            from kcnn.api import dataset_classes

            classes = dataset_classes(config.dataset)
            parts += [config_table(config), plan_table(config.plan(classes)),
                      kernel_footprint(config.kernel_sizes[0], config.dilations[0])]  # fmt: skip
        if message.epochs:
            parts += [epochs_table(message.epochs), *run_curves(message.epochs)]
        parts.append(events_table(message.events))
        self.query_one("#detail", Static).update(Group(*parts))
        if run.state not in ("running", "queued"):
            self.timer.stop()  # a finished run no longer changes

    @on(StoreFailed)
    def failed(self, message: StoreFailed) -> None:
        self.notify(message.text, severity="error", markup=False)

    def action_back(self) -> None:
        self.dismiss(None)
