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

from kcnn.api.views import safe

#: Predictions shown on the Run screen (the CLI's `kcnn model predict` streams any number).
PREDICTIONS_SHOWN = 200


def _predictions_table(predictions: list[Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"Predictions (first {PREDICTIONS_SHOWN} at most)", title_justify="left")
    for column in ("image", "class", "probability", "next"):
        table.add_column(column)
    for prediction in predictions:
        if prediction.error:
            table.add_row(safe(prediction.path), f"[red]unreadable: {safe(prediction.error)}[/red]", "", "")
            continue
        (name, probability), *rest = prediction.classes
        following = ", ".join(f"{safe(other)} {p:.1%}" for other, p in rest)
        table.add_row(safe(prediction.path), safe(name), f"{probability:.1%}", following)
    return table


class RunScreen(Screen[None]):
    """Everything about one run; refreshes while it trains."""

    BINDINGS = [
        Binding("e", "evaluate", "Evaluate per class"),
        Binding("t", "evaluate_test", "Test set"),
        Binding("p", "predict", "Predict images"),
        Binding("x", "export", "Export model"),
        Binding("escape", "back", "Back"),
    ]

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

    def action_evaluate_test(self) -> None:
        """Evaluate the best epoch's model (what the leaderboard ranks) on the run's test set (``--test-split``)."""
        self.query_one("#evaluation", Static).update("evaluating the best epoch's model on the test set…")
        self.evaluate("test", "best")

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def evaluate(self, split: str | None = None, model: str = "final") -> None:
        """Evaluate in a background thread: keras, the model and the images load here."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                run = store.get_run(self.run_id)
            self.post_message(RunEvaluated(api.evaluate(run, split=split, model=model)))
        except KcnnError as error:
            self.post_message(RunEvaluated(str(error)))

    def action_predict(self) -> None:
        """Ask for image files or folders, then classify them with the run's final model."""
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if text and text.strip():
                self.query_one("#evaluation", Static).update(f"classifying {safe(text.strip())}…")
                self.predict(text.split())

        self.app.push_screen(PromptScreen("Image files or folders to classify (space-separated):", ""), start)

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def predict(self, paths: list[str]) -> None:
        """Classify in a background thread; the first `PREDICTIONS_SHOWN` results are shown."""
        from itertools import islice

        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                run = store.get_run(self.run_id)
            predictions = list(islice(api.predict(run, paths, top=2), PREDICTIONS_SHOWN))
            self.post_message(RunEvaluated(predictions))
        except KcnnError as error:
            self.post_message(RunEvaluated(str(error)))

    def action_export(self) -> None:
        """Ask where to write the model, then export it (checked by loading it back)."""
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if text and text.strip():
                self.export(text.strip())

        default = f"run-{self.run_id}.keras"
        self.app.push_screen(
            PromptScreen("Write the final model to (.keras, or .onnx with kcnn[onnx]):", default), start
        )

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False)
    def export(self, output: str) -> None:
        """Export in a background thread and say how it went."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                run = store.get_run(self.run_id)
            fmt = "onnx" if output.lower().endswith(".onnx") else "keras"
            report = api.export_model(run, output, fmt=fmt)
            text = (
                f"wrote {report.path} ({report.format}); loaded back, it matches the model "
                f"(largest difference {report.max_difference:.1e})"
            )
            self.app.call_from_thread(self.notify, text, markup=False)
        except KcnnError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", markup=False)

    @on(RunEvaluated)
    def show_evaluation(self, message: RunEvaluated) -> None:
        from kcnn.api.views import class_table, confusion_table

        target = self.query_one("#evaluation", Static)
        if isinstance(message.evaluation, str):
            target.update(f"[red]cannot evaluate:[/red] {safe(message.evaluation)}")
        elif isinstance(message.evaluation, list):
            target.update(_predictions_table(message.evaluation))
        else:
            target.update(Group(class_table(message.evaluation), confusion_table(message.evaluation)))

    @on(RunLoaded)
    def show(self, message: RunLoaded) -> None:
        from kcnn.api.views import (
            config_table,
            epochs_table,
            events_table,
            kernel_footprint,
            plan_table,
            run_curves,
            run_summary_table,
        )

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
