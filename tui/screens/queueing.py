"""`QueueingForm`: a form screen that queues runs in a background thread and closes once they are queued."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kcnn_tui.context import AppContext
from kcnn_tui.messages import StoreActionDone
from textual import work
from textual.screen import Screen

from kcnn.config import ExperimentConfig

if TYPE_CHECKING:
    from kcnn.api import SweepSpec


def queued_text(created: int, existing: int) -> str:
    """The notification after queueing: how many runs were added and how many were already there."""
    return f"queued {created} run(s)" + (f"; {existing} already in the store" if existing else "")


class QueueingForm(Screen[None]):
    """Base of the New experiment and Sweep screens: the store write never runs on the UI thread."""

    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context

    @work(thread=True, exclusive=True, group="form-queue", exit_on_error=False)
    def queue_runs(
        self, configs: Sequence[ExperimentConfig], repeats: int = 1, priority: int = 0, max_attempts: int = 3
    ) -> None:
        """Queue the runs in a background thread (datasets are checked and the store may be busy)."""
        from kcnn.api import open_store
        from kcnn.errors import KcnnError

        try:
            with open_store(self.context.store_path) as store:
                results = store.queue(configs, repeats=repeats, priority=priority, max_attempts=max_attempts)
        except KcnnError as error:
            self.post_message(StoreActionDone(str(error), "error"))
            return
        created = sum(r.created for r in results)
        self.post_message(StoreActionDone(queued_text(created, len(results) - created), close=True))

    @work(thread=True, exclusive=True, group="form-queue", exit_on_error=False)
    def queue_sweep(self, spec: SweepSpec) -> None:
        """Queue a sweep in a background thread through the one queueing path (`kcnn.api.queue_sweep`).

        The sweep is expanded once, there (folds and seeds included); invalid combinations are skipped, as
        the form showed them.
        """
        from kcnn.api import open_store, queue_sweep
        from kcnn.errors import KcnnError

        try:
            with open_store(self.context.store_path) as store:
                report = queue_sweep(store, spec, skip_invalid=True)
        except KcnnError as error:
            self.post_message(StoreActionDone(str(error), "error"))
            return
        self.post_message(StoreActionDone(queued_text(report.created, report.existing), close=True))

    def on_store_action_done(self, message: StoreActionDone) -> None:
        """Say what happened; close once queued, else let the form show its state again."""
        self.notify(message.text, severity=message.severity, markup=False)
        if message.close:
            self.dismiss(None)
        else:
            self.refresh_form()

    def refresh_form(self) -> None:
        """Re-check the form after a failed submit (subclasses re-validate)."""
