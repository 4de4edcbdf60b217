"""Small modal dialogs: a one-line prompt, a yes-or-no question, and the quit question about running workers."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PromptScreen(ModalScreen[str | None]):
    """Ask for one value; Enter accepts, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, default: str = "") -> None:
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question)
            yield Input(self.default, id="answer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes-or-no question before something that cannot be undone; anything but ``y`` says no."""

    BINDINGS = [
        Binding("y", "yes", "Yes"),
        Binding("n,escape,enter", "no", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"{escape(self.question)}\n\n[b]y[/b]: yes · [b]n[/b] / Enter / Escape: no", markup=True)

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class QuitScreen(ModalScreen[bool]):
    """Workers started here still train: keep them (default) or stop them?"""

    BINDINGS = [
        Binding("k,enter", "keep", "Keep them training"),
        Binding("s", "stop", "Stop them"),
        Binding("escape", "keep", "Keep", show=False),
    ]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(
                f"{self.count} worker(s) started from here are still training.\n\n"
                "[b]k[/b] / Enter: quit and keep them training (default)\n"
                "[b]s[/b]: stop them (running runs go back to the queue at their last checkpoint), then quit"
            )

    def action_keep(self) -> None:
        self.dismiss(False)

    def action_stop(self) -> None:
        self.dismiss(True)
