"""The Sweep builder: several values per hyperparameter, or a TOML sweep file; counts before queueing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kcnn_tui.context import AppContext
from kcnn_tui.screens.experiment import FORM_FIELDS, default_text, parse_field
from kcnn_tui.screens.queueing import QueueingForm
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, Static

from kcnn.errors import ConfigError

GRID_FIELDS = tuple(name for name in FORM_FIELDS if name != "seed")


class SweepScreen(QueueingForm):
    """Build a grid: space-separated values per field; a comma joins per-layer values."""

    BINDINGS = [Binding("ctrl+s", "submit", "Queue"), Binding("escape", "back", "Back")]

    def __init__(self, context: AppContext) -> None:
        super().__init__(context)
        self.sweep_file: tuple[str, Any] | None = None
        """The TOML path last read and what it gave (a `SweepSpec` or the `ConfigError`): read once per path."""

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

    def spec(self) -> Any:
        """The sweep the form (or the TOML file) describes."""
        from kcnn.api import SweepSpec

        path = self.query_one("#g-TOML_file", Input).value.strip()
        if path:
            return self.file_spec(path)
        grid: dict[str, list[Any]] = {}
        for name in GRID_FIELDS:
            tokens = self.query_one(f"#g-{name}", Input).value.split()
            if not tokens:
                raise ConfigError(f"`{name}` needs at least one value.")
            grid[name] = list(dict.fromkeys(parse_field(name, token) for token in tokens))
        number = {
            key: self.query_one(f"#g-{key}", Input).value.strip()
            for key in ("repeats", "first_seed", "random", "priority")
        }
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

        if self.sweep_file is None or self.sweep_file[0] != path:
            try:
                self.sweep_file = (path, load_sweep(Path(path).expanduser()))
            except ConfigError as error:
                self.sweep_file = (path, error)
        spec = self.sweep_file[1]
        if isinstance(spec, ConfigError):
            raise spec
        return spec

    def evaluate(self) -> Any:
        """Expand the sweep; show how many runs it makes and which combinations are invalid."""
        from kcnn.api import expand_sweep as expand

        reason, count, submit = (self.query_one("#reason", Static), self.query_one("#count", Static),
                                 self.query_one("#submit", Button))  # fmt: skip
        try:
            spec = self.spec()
            expansion = expand(spec)
        except ConfigError as error:
            reason.update(f"✗ {error}")
            count.update("")
            submit.disabled = True
            return None
        valid_points = expansion.grid_points - len(expansion.invalid)
        lines = [f"[b]{len(expansion.configs)} run(s)[/b]: {valid_points} configuration(s) × {spec.repeats} seed(s)"]
        if expansion.invalid:
            lines.append(f"[red]{len(expansion.invalid)} invalid combination(s), not queued:[/red]")
            lines += [f"  • {item.reason}" for item in expansion.invalid[:8]]
            if len(expansion.invalid) > 8:
                lines.append(f"  … {len(expansion.invalid) - 8} more")
        reason.update("")
        count.update("\n".join(lines))
        submit.disabled = not expansion.configs
        return spec, expansion

    @on(Input.Changed)
    def changed(self) -> None:
        self.evaluate()

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        evaluated = self.evaluate()
        if evaluated is None or not evaluated[1].configs:
            self.notify("Nothing valid to queue yet.", severity="warning")
            return
        spec, expansion = evaluated
        self.query_one("#submit", Button).disabled = True
        self.queue_runs(expansion.configs, priority=spec.priority, max_attempts=spec.max_attempts)

    def refresh_form(self) -> None:
        self.evaluate()

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
