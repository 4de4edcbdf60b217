"""The Store screen: what the store holds (bytes by kind, the largest runs), and pruning it.

What `kcnn store info` and `kcnn store prune` do: the figures are read off the UI thread, and a prune always
shows its dry run first and asks before removing anything.
"""

from __future__ import annotations

from kcnn_tui.context import AppContext
from kcnn_tui.messages import PrunePlanned, StoreFailed, StoreInfoLoaded
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from kcnn.api.views import store_info_table


class StoreScreen(Screen[None]):
    """The store at a glance; ``p`` prunes it to its top configurations (dry run first)."""

    BINDINGS = [
        Binding("p", "prune", "Prune"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static("loading…", id="store-info")
            yield Static(
                "p: keep the model files of the top N configurations only (their final models; a dry run is "
                "shown first). Every number stays: reports are unchanged.",
                id="store-help",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="store-info", exit_on_error=False)
    def load(self) -> None:
        """Walk the store's folder in a background thread."""
        from kcnn.api import store_info

        try:
            self.post_message(StoreInfoLoaded(store_info(self.context.store_path)))
        except Exception as error:
            self.post_message(StoreFailed(f"Cannot read the store: {error}"))

    @on(StoreInfoLoaded)
    def show(self, message: StoreInfoLoaded) -> None:
        self.query_one("#store-info", Static).update(store_info_table(message.info))

    def action_prune(self) -> None:
        """Ask how many configurations keep their models, then show what pruning would free."""
        from kcnn_tui.screens.confirm import PromptScreen

        def plan(text: str | None) -> None:
            if text is None:
                return
            if not text.strip().isdigit():
                self.notify(f"Keep the top N configurations: N is a whole number; got {text!r}.", severity="warning")
                return
            self.plan_prune(int(text))

        self.app.push_screen(PromptScreen("Keep the model files of the top N configurations; N:", "5"), plan)

    @work(thread=True, exclusive=True, group="store-prune", exit_on_error=False)
    def plan_prune(self, keep_top: int) -> None:
        """The dry run, in a background thread."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                self.post_message(PrunePlanned(api.prune(store, keep_top, dry_run=True)))
        except KcnnError as error:
            self.post_message(StoreFailed(str(error)))

    @on(PrunePlanned)
    def confirm_prune(self, message: PrunePlanned) -> None:
        from kcnn_tui.screens.confirm import ConfirmScreen

        plan = message.report
        if not plan.removal.runs and not plan.trimmed.runs:
            self.notify(f"Nothing to prune: {plan.text}", markup=False)
            return

        def decided(yes: bool | None) -> None:
            if yes:
                self.prune(plan.keep_top)

        self.app.push_screen(ConfirmScreen(f"Prune the store? It {plan.text}."), decided)

    @work(thread=True, exclusive=True, group="store-prune", exit_on_error=False)
    def prune(self, keep_top: int) -> None:
        """Remove the files, in a background thread, then say what was freed and show the new figures."""
        from kcnn import api
        from kcnn.errors import KcnnError

        try:
            with api.open_store(self.context.store_path, create=False) as store:
                report = api.prune(store, keep_top)
            self.app.call_from_thread(self.notify, report.text, markup=False)
        except KcnnError as error:
            self.post_message(StoreFailed(str(error)))
        self.load()

    @on(StoreFailed)
    def failed(self, message: StoreFailed) -> None:
        self.notify(message.text, severity="error", markup=False)

    def action_back(self) -> None:
        self.dismiss(None)
