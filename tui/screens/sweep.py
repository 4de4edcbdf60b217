"""The Sweep builder: several values per hyperparameter, or a TOML sweep file; counts before queueing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kcnn_tui.context import AppContext
from kcnn_tui.messages import SweepCounted
from kcnn_tui.screens.experiment import FORM_FIELDS, default_text, parse_field
from kcnn_tui.screens.queueing import QueueingForm
from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, Static

from kcnn.errors import ConfigError

GRID_FIELDS = tuple(name for name in FORM_FIELDS if name != "seed")
NUMBER_FIELDS = ("repeats", "first_seed", "random", "priority")


class SweepScreen(QueueingForm):
    """Build a grid: space-separated values per field; a comma joins per-layer values."""

    BINDINGS = [Binding("ctrl+s", "submit", "Queue"), Binding("escape", "back", "Back")]

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.sweep_file: tuple[str, Any] | None = None
        """The TOML path last read and what it gave (a `SweepSpec` or the `ConfigError`): read once per path."""
        self.counted: SweepCounted | None = None
        """The latest count of the form's values: what a submit queues."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with VerticalScroll(id="form-pane", classes="form"):
                for name in GRID_FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(name)
                        yield Input(default_text(name), id=f"g-{name}", compact=True)
                for name, value in (
                    ("repeats", "3"),
                    ("first seed", "0"),
                    ("random", ""),
                    ("priority", "0"),
                    ("TOML file", ""),
                ):
                    with Horizontal(classes="form-row"):
                        yield Label(name)
                        yield Input(value, id=f"g-{name.replace(' ', '_')}", compact=True)
            with VerticalScroll(id="shape-pane"):
                yield Static(id="reason")
                yield Static(id="count")
        with Horizontal(id="buttons"):
            yield Button("Queue (ctrl+s)", id="submit", variant="primary")
            yield Button("Back (esc)", id="back")
        yield Footer()

    def on_mount(self) -> None:
        self.evaluate()

    def form_values(self) -> dict[str, str]:
        """Every input's text, read on the UI thread (the thread that counts never touches widgets)."""
        return {name: self.query_one(f"#g-{name}", Input).value for name in (*GRID_FIELDS, *NUMBER_FIELDS, "TOML_file")}

    def spec(self, values: dict[str, str]) -> Any:
        """The sweep the form's values (or the TOML file they name) describe.

        Raises:
            ConfigError: If a value is malformed, or the TOML file cannot be read or is not a sweep file.
        """
        from kcnn.api import SweepSpec

        path = values["TOML_file"].strip()
        if path:
            return self.file_spec(path)
        grid: dict[str, list[Any]] = {}
        for name in GRID_FIELDS:
            tokens = values[name].split()
            if not tokens:
                raise ConfigError(f"`{name}` needs at least one value.")
            grid[name] = list(dict.fromkeys(parse_field(name, token) for token in tokens))
        number = {key: values[key].strip() for key in NUMBER_FIELDS}
        try:
            grid["seed"] = [int(number["first_seed"] or "0")]
            return SweepSpec(grid=grid, repeats=int(number["repeats"] or "1"),
                             random=int(number["random"]) if number["random"] else None,
                             priority=int(number["priority"] or "0"))  # fmt: skip
        except ValueError:
            raise ConfigError("`repeats`, `first seed`, `random` and `priority` are whole numbers.") from None

    def file_spec(self, path: str) -> Any:
        """The sweep of a TOML file, read when its path changes (not on every keystroke elsewhere).

        Raises:
            ConfigError: If the file cannot be read or is not a valid sweep file.
        """
        from kcnn.api import load_sweep

        cached = self.sweep_file
        if cached is None or cached[0] != path:
            try:
                cached = (path, load_sweep(Path(path).expanduser()))
            except ConfigError as error:
                cached = (path, error)
            self.sweep_file = cached
        if isinstance(cached[1], ConfigError):
            raise cached[1]
        return cached[1]

    def evaluate(self) -> None:
        """Count what the form makes, in a background thread; the answer comes back as `SweepCounted`."""
        self.query_one("#submit", Button).disabled = True
        self.count_sweep(self.form_values())

    @work(thread=True, exclusive=True, group="sweep-count", exit_on_error=False)
    def count_sweep(self, values: dict[str, str]) -> None:
        """Expand the sweep as a dry run of the one queueing path (`kcnn.api.queue_sweep` with no store).

        Runs off the UI thread: a TOML file is read and a folder dataset scanned here, and a sweep of 10⁵
        runs takes seconds to count. A newer keystroke cancels this count (exclusive worker).
        """
        from kcnn.api import queue_sweep
        from kcnn.errors import KcnnError

        try:
            spec = self.spec(values)
            report = queue_sweep(None, spec, skip_invalid=True)
        except KcnnError as error:
            self.post_message(SweepCounted(None, None, str(error)))
            return
        self.post_message(SweepCounted(spec, report))

    def on_sweep_counted(self, message: SweepCounted) -> None:
        """Show how many runs the sweep makes and which combinations are invalid."""
        reason, count, submit = (self.query_one("#reason", Static), self.query_one("#count", Static),
                                 self.query_one("#submit", Button))  # fmt: skip
        self.counted = message
        if message.report is None:
            reason.update(f"✗ {escape(message.error)}")
            count.update("")
            submit.disabled = True
            return
        report = message.report
        folds = report.runs // (report.points * report.seeds) if report.points and report.seeds else 1
        lines = [f"[b]{report.runs} run(s)[/b]: {report.points} configuration(s) × {report.seeds} seed(s)"
                 + (f" × {folds} folds" if folds > 1 else "")]  # fmt: skip
        if report.invalid:
            lines.append(f"[red]{len(report.invalid)} invalid combination(s), not queued:[/red]")
            lines += [f"  • {escape(item.reason)}" for item in report.invalid[:8]]
            if len(report.invalid) > 8:
                lines.append(f"  … {len(report.invalid) - 8} more")
        reason.update("")
        count.update("\n".join(lines))
        submit.disabled = not report.runs

    @on(Input.Changed)
    def changed(self) -> None:
        self.evaluate()

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        counted = self.counted
        if counted is None or counted.report is None or not counted.report.runs:
            self.notify("Nothing valid to queue yet.", severity="warning")
            return
        self.query_one("#submit", Button).disabled = True
        self.queue_sweep(counted.spec)

    def refresh_form(self) -> None:
        self.evaluate()

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
