"""kcnn-tui: queue, watch and compare experiments from one terminal screen.

The app never trains: it writes to the store (queue, cancel, retry, priority) and starts worker
processes, which outlive it. Every store read runs in a background thread.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kcnn_tui.context import AppContext
from textual.app import App
from textual.binding import Binding

from kcnn.api import default_store_path


class KcnnApp(App[None]):
    """The kcnn terminal UI."""

    CSS_PATH = "app.tcss"
    TITLE = "kcnn"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_app", "Quit"),
    ]

    def __init__(self, store_path: Path, refresh_seconds: float = 1.0) -> None:
        super().__init__()
        self.store_path = store_path
        self.refresh_seconds = refresh_seconds
        self.started_workers: list[subprocess.Popen[bytes]] = []
        self.sub_title = str(store_path)
        self.context = AppContext(store_path, refresh_seconds, self.start_worker)

    def on_mount(self) -> None:
        """Show the queue."""
        from kcnn_tui.screens.queue import QueueScreen

        self.push_screen(QueueScreen(self.context))

    def action_help(self) -> None:
        """Show the keys."""
        from kcnn_tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def start_worker(self, arguments: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start `kcnn worker ARGS` on this store, in its own session so that it outlives the TUI."""
        log = open(self.store_path / "worker.log", "ab")  # noqa: SIM115 - owned by the child process
        process = subprocess.Popen(
            [sys.executable, "-m", "kcnn.cli", "worker", "--store", str(self.store_path), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started_workers.append(process)
        return process

    def running_started_workers(self) -> list[subprocess.Popen[bytes]]:
        """Workers this TUI started that are still running."""
        return [process for process in self.started_workers if process.poll() is None]

    def action_quit_app(self) -> None:
        """Quit; if this TUI started workers that still run, ask whether to stop them (default: keep)."""
        if not self.running_started_workers():
            self.exit()
            return
        from kcnn_tui.screens.confirm import QuitScreen

        def done(stop: bool | None) -> None:
            if stop:
                for process in self.running_started_workers():
                    process.send_signal(signal.SIGTERM)
            self.exit()

        self.push_screen(QuitScreen(len(self.running_started_workers())), done)


def make_app(store_path: Path | None = None, refresh_seconds: float = 1.0) -> KcnnApp:
    """Build the app (for `main` and for tests)."""
    from kcnn.api import open_store

    path = Path(store_path) if store_path is not None else default_store_path()
    from kcnn.errors import StoreError

    # Open an existing store as the CLI's reads do (a read-only one shows; each write says why it is refused),
    # else create it, or fail with a clear message before the screen opens.
    try:
        open_store(path, create=False).close()
    except StoreError:
        open_store(path).close()
    return KcnnApp(path, refresh_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `kcnn-tui`."""
    from kcnn.api.arguments import seconds

    parser = argparse.ArgumentParser(
        prog="kcnn-tui", description="Queue, watch and compare kcnn experiments.", allow_abbrev=False
    )
    parser.add_argument("--store", type=Path, default=None, help="store folder (default: $KCNN_STORE or ./kcnn-runs)")
    parser.add_argument(
        "--refresh", type=seconds("--refresh", example="1"), default=1.0, help="seconds between refreshes (default: 1)"
    )
    args = parser.parse_args(argv)
    from kcnn.errors import KcnnError

    try:
        app = make_app(args.store, args.refresh)
    except KcnnError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
