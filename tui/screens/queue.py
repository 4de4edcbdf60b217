"""The Queue screen (start screen): a live table of runs, refreshed from the store off the UI thread."""

from __future__ import annotations

from typing import Any

from kcnn_tui.context import AppContext
from kcnn_tui.messages import RunsLoaded, StoreActionDone, StoreFailed
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from kcnn.api.views import STATE_STYLES
from kcnn.config import format_value

FILTERS = (None, "queued", "running", "done", "failed", "cancelled", "pruned")
#: Fixed widths: the layout does not jump as values change, and is the same at every refresh.
COLUMNS = {"id": 5, "state": 18, "input": 5, "k": 3, "d": 3, "channels": 9, "seed": 5, "progress": 14,
           "val acc": 7, "best": 6, "elapsed": 7, "eta": 6}  # fmt: skip


def _bar(done: int, total: int, width: int = 8) -> Text:
    filled = round(width * done / total) if total else 0
    return Text("█" * filled, style="green") + Text("░" * (width - filled), style="dim") + Text(f" {done}/{total}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(seconds, 0)
    if seconds >= 60:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"  # a short run is not "0s"


def run_cells(run: Any, now: float) -> list[Any]:
    """The table cells of one run."""
    damaged = run.config_problem is not None
    config = {} if damaged else run.config_dict
    elapsed = eta = None
    if run.state == "running" and run.started:
        elapsed = now - run.started
        if run.epochs_done:
            eta = elapsed / run.epochs_done * (run.epochs_total - run.epochs_done)
    elif run.train_seconds is not None:
        elapsed = run.train_seconds
    note = "damaged config" if damaged else run.error_kind or ""
    shown = run.state + (f" ({note})" if note and (run.state == "failed" or damaged) else "")
    if run.study_id is not None:
        shown += f" · study {run.study_id}"  # a study's run: `t` lists the studies
    state = Text(shown, STATE_STYLES.get(run.state, ""))
    return [
        str(run.id),
        state,
        str(config.get("input_size", "")),
        format_value("kernel_size", config.get("kernel_size")),
        format_value("dilation", config.get("dilation")),
        format_value("channels", config.get("channels", ())),
        str(run.seed),
        _bar(run.epochs_done, run.epochs_total),
        "" if run.final_val_accuracy is None else f"{run.final_val_accuracy:.1%}",
        "" if run.best_val_accuracy is None else f"{run.best_val_accuracy:.1%}",
        _duration(elapsed),
        _duration(eta),
    ]


class QueueScreen(Screen[None]):
    """Every run in the store, newest first."""

    BINDINGS = [
        Binding("n", "new_experiment", "New"),
        Binding("s", "sweep", "Sweep"),
        Binding("enter", "open_run", "Open", show=False),
        Binding("o", "open_run", "Open"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "retry", "Retry"),
        Binding("p", "prioritize", "Prioritize"),
        Binding("l", "leaderboard", "Leaderboard"),
        Binding("w", "workers", "Workers"),
        Binding("t", "studies", "Studies"),
        Binding("i", "store", "Store"),
        Binding("f", "filter", "Filter"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.state_filter: str | None = None
        self.limit = 200
        self.shown: dict[str, tuple[str, ...]] = {}
        self.column_keys: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="summary")
        table: DataTable[Any] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        self.column_keys = [table.add_column(name, width=width) for name, width in COLUMNS.items()]
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_runs()
        self.set_interval(self.context.refresh_seconds, self.refresh_runs)

    def on_screen_resume(self) -> None:
        self.refresh_runs()

    @work(thread=True, exclusive=True, group="queue-refresh", exit_on_error=False)
    def refresh_runs(self) -> None:
        """Read the run list in a background thread."""
        from kcnn.api import live_workers, open_store

        path = self.context.store_path
        try:
            with open_store(path, create=False) as store:
                states = [self.state_filter] if self.state_filter else None
                runs, counts, now = store.list_runs(states, self.limit), store.count_by_state(), store.now()
            self.post_message(RunsLoaded(runs, counts, len(live_workers(path)), now))
        except Exception as error:
            self.post_message(StoreFailed(f"Cannot read the store: {error}"))

    @on(RunsLoaded)
    def show_runs(self, message: RunsLoaded) -> None:
        """Update the table: only the cells that changed, or every row when runs were added or removed."""
        table = self.query_one("#runs", DataTable)
        rows = {str(run.id): run_cells(run, message.now) for run in message.runs}
        plain = {key: tuple(str(cell) for cell in cells) for key, cells in rows.items()}
        if list(plain) != list(self.shown):
            selected = self.selected_run()
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells, key=key)
            if selected is not None and str(selected) in table.rows:
                table.move_cursor(row=table.get_row_index(str(selected)))
        else:
            for key, texts in plain.items():
                for column, (old, new) in enumerate(zip(self.shown[key], texts, strict=True)):
                    if old != new:
                        table.update_cell(key, self.column_keys[column], rows[key][column])
        self.shown = plain
        parts = [f"{message.counts.get(state, 0)} {state}" for state in ("queued", "running", "done", "failed")]
        shown = f" · showing {self.state_filter}" if self.state_filter else ""
        total = sum(message.counts.values())
        more = f" · newest {len(rows)} of {total}" if len(rows) < total and not self.state_filter else ""
        self.query_one("#summary", Static).update(
            " · ".join(parts) + f" · workers alive: {message.workers}{shown}{more}"
        )

    @on(StoreFailed)
    def show_failure(self, message: StoreFailed) -> None:
        self.notify(message.text, severity="error", markup=False)

    def selected_run(self) -> int | None:
        """The id of the run under the cursor."""
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    @work(thread=True, group="queue-write", exit_on_error=False)
    def _store_action(self, action: str, run_id: int, priority: int | None = None) -> None:
        """Cancel, retry or prioritize a run in a background thread (a write may wait for the store's lock)."""
        from kcnn.api import open_store
        from kcnn.errors import KcnnError

        try:
            with open_store(self.context.store_path, create=False) as store:
                if action == "cancel":
                    store.cancel([run_id])
                elif action == "retry":
                    store.retry([run_id])
                else:
                    store.prioritize(run_id, priority or 0)
        except KcnnError as error:
            self.post_message(StoreActionDone(str(error), "warning"))
            return
        self.post_message(StoreActionDone(f"run {run_id}: {action}" + (f" {priority}" if priority is not None else "")))

    @on(StoreActionDone)
    def action_done(self, message: StoreActionDone) -> None:
        self.notify(message.text, severity=message.severity, markup=False)
        self.refresh_runs()

    def action_cancel(self) -> None:
        if (run_id := self.selected_run()) is not None:
            self._store_action("cancel", run_id)

    def action_retry(self) -> None:
        if (run_id := self.selected_run()) is not None:
            self._store_action("retry", run_id)

    def action_prioritize(self) -> None:
        run_id = self.selected_run()
        if run_id is None:
            return
        from kcnn_tui.screens.confirm import PromptScreen

        def apply(text: str | None) -> None:
            if text is None:
                return
            try:
                priority = int(text)
            except ValueError:
                self.notify(f"A priority is a whole number; got {text!r}.", severity="warning")
                return
            self._store_action("prioritize", run_id, priority)

        self.app.push_screen(PromptScreen(f"Priority of run {run_id} (higher runs first):", "10"), apply)

    def action_filter(self) -> None:
        index = FILTERS.index(self.state_filter)
        self.state_filter = FILTERS[(index + 1) % len(FILTERS)]
        self.notify(f"showing {self.state_filter or 'all'} runs")
        self.refresh_runs()

    def action_open_run(self) -> None:
        if (run_id := self.selected_run()) is not None:
            from kcnn_tui.screens.run import RunScreen

            self.app.push_screen(RunScreen(self.context, run_id))

    def action_new_experiment(self) -> None:
        from kcnn_tui.screens.experiment import ExperimentScreen

        self.app.push_screen(ExperimentScreen(self.context))

    def action_sweep(self) -> None:
        from kcnn_tui.screens.sweep import SweepScreen

        self.app.push_screen(SweepScreen(self.context))

    def action_leaderboard(self) -> None:
        from kcnn_tui.screens.leaderboard import LeaderboardScreen

        self.app.push_screen(LeaderboardScreen(self.context))

    def action_studies(self) -> None:
        from kcnn_tui.screens.studies import StudiesScreen

        self.app.push_screen(StudiesScreen(self.context))

    def action_store(self) -> None:
        from kcnn_tui.screens.store import StoreScreen

        self.app.push_screen(StoreScreen(self.context))

    def action_workers(self) -> None:
        from kcnn_tui.screens.workers import WorkersScreen

        self.app.push_screen(WorkersScreen(self.context))
