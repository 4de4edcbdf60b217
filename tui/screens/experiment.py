"""The New experiment screen: a form for every hyperparameter with a live shape panel."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from kcnn.config import ACTIVATIONS, COLOR_MODES, OPTIMIZERS, PADDINGS, RESIZE_POLICIES, ExperimentConfig
from kcnn.errors import ConfigError

PER_LAYER = ("channels", "kernel_size", "dilation", "stride")
CHOICES = {"padding": PADDINGS, "activation": ACTIVATIONS, "optimizer": OPTIMIZERS, "color_mode": COLOR_MODES,
           "resize": RESIZE_POLICIES}  # fmt: skip
FIELDS = ("input_size", "batch_size", "channels", "kernel_size", "dilation", "stride", "padding", "pool_size",
          "dense_units", "activation", "epochs", "learning_rate", "optimizer", "val_split", "split_seed", "dataset",
          "color_mode", "resize", "seed")  # fmt: skip
FLOATS = ("learning_rate", "val_split")


def default_text(name: str) -> str:
    """A field's default as the form shows it."""
    value = getattr(ExperimentConfig(), name)
    if isinstance(value, tuple):
        return str(value[0]) if name != "channels" and len(set(value)) == 1 else " ".join(map(str, value))
    return str(value)


def parse_field(name: str, text: str) -> Any:
    """Turn a form field's text into a config value.

    Raises:
        ConfigError: If the text is not a number where one is needed.
    """
    text = text.strip()
    if name in CHOICES or name == "dataset":
        return text
    try:
        if name in PER_LAYER:
            values = tuple(int(part) for part in text.replace(",", " ").split())
            if not values:
                raise ValueError
            return values if name == "channels" or len(values) > 1 else values[0]
        return float(text) if name in FLOATS else int(text)
    except ValueError:
        kind = "a number" if name in FLOATS else "whole numbers" if name in PER_LAYER else "a whole number"
        raise ConfigError(f"`{name}` must be {kind}; got {text!r}.") from None


class ExperimentScreen(Screen[None]):
    """Queue one configuration (with repeats), seeing its shapes as you type."""

    BINDINGS = [Binding("ctrl+s", "submit", "Queue"), Binding("escape", "back", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with VerticalScroll(id="form-pane", classes="form"):
                for name in FIELDS:
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
        for name in FIELDS:
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
        from kcnn.reports.config_tables import kernel_footprint, plan_table

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
        from kcnn.data import builtin_class_count

        plan = config.plan(builtin_class_count(config.dataset))
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
        from kcnn.data import check_dataset
        from kcnn.errors import KcnnError
        from kcnn.store import Store

        repeats, priority = self.counts()
        try:
            check_dataset(config.dataset)
            with Store(self.app.store_path) as store:  # type: ignore[attr-defined]
                results = store.add_runs([config.replace(seed=config.seed + i) for i in range(repeats)], priority)
        except KcnnError as error:
            self.notify(str(error), severity="error")
            return
        created = sum(r.created for r in results)
        existing = len(results) - created
        self.notify(f"queued {created} run(s)" + (f"; {existing} already in the store" if existing else ""))
        self.dismiss(None)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
