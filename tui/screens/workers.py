"""The Workers screen: start and stop workers (local, or a Ray head), with their slots and runs.

Workers outlive the TUI.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from kcnn_tui.context import AppContext
from kcnn_tui.messages import StoreFailed, WorkersLoaded
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from kcnn.api.views import training_text


class WorkersScreen(Screen[None]):
    """Live worker supervisors on this store."""

    BINDINGS = [
        Binding("a", "start_cpu", "Start CPU worker"),
        Binding("g", "start_gpu", "Start GPU worker"),
        Binding("r", "start_ray", "Start Ray worker"),
        Binding("x", "stop", "Stop selected"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        table: DataTable[Any] = DataTable(id="workers", cursor_type="row")
        table.add_columns("pid", "slots", "mode", "up", "training")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(self.context.refresh_seconds, self.load)

    @work(thread=True, exclusive=True, group="workers", exit_on_error=False)
    def load(self) -> None:
        """Read the registry and the running runs in a background thread."""
        from kcnn.api import live_workers, open_store

        try:
            with open_store(self.context.store_path, create=False) as store:
                running = store.runs("running")
            self.post_message(WorkersLoaded(live_workers(self.context.store_path), running))
        except Exception as error:
            self.post_message(StoreFailed(f"Cannot read the workers: {error}"))

    @on(WorkersLoaded)
    def show(self, message: WorkersLoaded) -> None:
        table = self.query_one("#workers", DataTable)
        table.clear()
        for worker in message.workers:
            up = time.time() - worker.started
            table.add_row(
                str(worker.pid),
                ", ".join(worker.slots),
                "until queue empty" if worker.once else "waits",
                f"{up / 60:.0f} min" if up >= 60 else f"{up:.0f} s",
                training_text(worker.held_runs(message.running)),
                key=str(worker.pid),
            )
        self.query_one("#summary", Static).update(
            f"{len(message.workers)} worker(s) alive · {len(message.running)} run(s) training · "
            "a: start CPU worker · g: start GPU worker · r: start a Ray worker · x: stop the selected one"
        )

    @on(StoreFailed)
    def failed(self, message: StoreFailed) -> None:
        self.notify(message.text, severity="error", markup=False)

    def _start(self, arguments: list[str]) -> None:
        process = self.context.start_worker(arguments)
        self.notify(f"started worker pid {process.pid}: kcnn worker {' '.join(arguments)}")
        self.load()

    def action_start_cpu(self) -> None:
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if text is None:
                return
            if not text.strip().isdigit() or int(text) < 1:
                self.notify(f"Jobs is a whole number of at least 1; got {text!r}.", severity="warning")
                return
            self._start(["--jobs", text.strip()])

        self.app.push_screen(PromptScreen("CPU jobs (child processes; cores are split among them):", "2"), start)

    def action_start_gpu(self) -> None:
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if not text:
                return
            text, _, fuse = text.partition("fuse")
            gpus, _, per_gpu = text.partition("x")
            self._start(["--gpus", gpus.strip(), "--per-gpu", per_gpu.strip() or "1", "--fuse", fuse.strip() or "1"])

        question = "GPUs, runs per GPU and runs trained as one program, e.g. `0,1 x 2 fuse 8`:"
        self.app.push_screen(PromptScreen(question, "0 x 1 fuse 8"), start)

    def action_start_ray(self) -> None:
        from kcnn_tui.screens.confirm import PromptScreen

        def start(text: str | None) -> None:
            if not text:
                return
            arguments = ray_worker_arguments(text)
            if isinstance(arguments, str):
                self.notify(arguments, severity="warning", markup=False)
                return
            self._start(arguments)

        prompt = "Ray cluster (auto, HOST:PORT or local) and slots, e.g. `auto --per-gpu 4` or `local --jobs 2`:"
        self.app.push_screen(PromptScreen(prompt, "auto"), start)

    def action_stop(self) -> None:
        table = self.query_one("#workers", DataTable)
        if not table.row_count:
            return
        pid = int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or 0)
        from kcnn.api import stop_worker

        if not stop_worker(self.context.store_path, pid):  # checks it is that worker, not a reused PID
            self.notify(f"worker {pid} has already exited")
            self.load()
            return
        self.notify(f"stopping worker {pid}: its runs go back to the queue at their last checkpoint")

    def action_back(self) -> None:
        self.dismiss(None)


RAY_OPTIONS = ("--per-gpu", "--jobs", "--cpus-per-run")


def ray_worker_arguments(text: str) -> list[str] | str:
    """``kcnn worker`` arguments for the Ray prompt's text, or the one line that says what is wrong with it."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        return f"Cannot read {text!r}: {error}."
    if not words or words[0].startswith("-"):
        return f"Start with the cluster: auto, HOST:PORT or local (then {', '.join(RAY_OPTIONS)}); got {text!r}."
    options = words[1:]
    if len(options) % 2 or any(name not in RAY_OPTIONS for name in options[::2]):
        return f"After the cluster, only {', '.join(RAY_OPTIONS)}, each with a number; got {' '.join(options)!r}."
    return ["--ray", words[0], *options]
