"""The New experiment screen: a form for every hyperparameter with a live shape panel."""

from __future__ import annotations

from typing import Any

from kcnn_tui.screens.queueing import QueueingForm
from rich.console import Group
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from kcnn.config import FIELDS, ExperimentConfig, format_value, parse_value
from kcnn.errors import ConfigError

CHOICES = {field.name: field.choices for field in FIELDS if field.choices}
#: The form's fields, in the config's order (``skip_bad`` is a folder-loading switch, left to the CLI).
FORM_FIELDS = tuple(field.name for field in FIELDS if field.kind is not bool)


def default_text(name: str) -> str:
    """A field's default as the form shows it (the config's one formatter)."""
    return format_value(name, getattr(ExperimentConfig(), name))


def parse_field(name: str, text: str) -> Any:
    """Turn a form field's text into a config value (the config's one parser).

    Raises:
        ConfigError: If the text is not a number where one is needed.
    """
    return parse_value(name, text)


class ExperimentScreen(QueueingForm):
    """Queue one configuration (with repeats), seeing its shapes as you type."""

    BINDINGS = [Binding("ctrl+s", "submit", "Queue"), Binding("escape", "back", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with VerticalScroll(id="form-pane", classes="form"):
                for name in FORM_FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(name)
                        if name in CHOICES:
                            options = [(choice, choice) for choice in CHOICES[name]]
                            yield Select(
                                options, value=default_text(name), allow_blank=False, id=f"f-{name}", compact=True
                            )
                        else:
                            yield Input(default_text(name), id=f"f-{name}", compact=True)
                for name, value in (("repeats", "3"), ("priority", "0")):
                    with Horizontal(classes="form-row"):
                        yield Label(name)
                        yield Input(value, id=f"f-{name}", compact=True)
            with VerticalScroll(id="shape-pane"):
                yield Static(id="reason")
                yield Static(id="shape")
        with Horizontal(id="buttons"):
            yield Button("Queue (ctrl+s)", id="submit", variant="primary")
            yield Button("Back (esc)", id="back")
        yield Footer()

    def on_mount(self) -> None:
        self.validate()

    def values(self) -> dict[str, Any]:
        """Every config field from the form (raises `ConfigError` for a malformed number)."""
        values = {}
        for name in FORM_FIELDS:
            widget = self.query_one(f"#f-{name}")
            text = str(widget.value) if isinstance(widget, Select) else widget.value  # type: ignore[attr-defined]
            values[name] = parse_field(name, text)
        return values

    def counts(self) -> tuple[int, int]:
        """Repeats and priority."""
        repeats = int(self.query_one("#f-repeats", Input).value.strip() or "1")
        priority = int(self.query_one("#f-priority", Input).value.strip() or "0")
        if repeats < 1:
            raise ConfigError(f"`repeats` must be at least 1; got {repeats}.")
        return repeats, priority

    def validate(self) -> ExperimentConfig | None:
        """Rebuild the config; show its shape plan, or the reason it is invalid (and disable submit)."""
        from kcnn.api.views import kernel_footprint, plan_table

        reason = self.query_one("#reason", Static)
        shape = self.query_one("#shape", Static)
        submit = self.query_one("#submit", Button)
        try:
            config = ExperimentConfig(**self.values())
            repeats, _ = self.counts()
        except (ConfigError, ValueError) as error:
            text = str(error) if isinstance(error, ConfigError) else "`repeats` and `priority` are whole numbers."
            reason.update(f"✗ {text}")
            submit.disabled = True
            return None
        from kcnn.api import dataset_classes

        plan = config.plan(dataset_classes(config.dataset))
        reason.update("")
        shape.update(
            Group(
                plan_table(plan),
                kernel_footprint(config.kernel_sizes[0], config.dilations[0]),
                f"{repeats} run(s): seeds {config.seed}…{config.seed + repeats - 1}",
            )
        )
        submit.disabled = False
        return config

    @on(Input.Changed)
    @on(Select.Changed)
    def changed(self) -> None:
        self.validate()

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        config = self.validate()
        if config is None:
            self.notify("Fix the configuration first (the reason is in red).", severity="warning")
            return
        repeats, priority = self.counts()
        self.query_one("#submit", Button).disabled = True
        self.queue_runs([config], repeats=repeats, priority=priority)

    def refresh_form(self) -> None:
        self.validate()

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
