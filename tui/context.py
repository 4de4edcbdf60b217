"""`AppContext`: what every screen needs from the app, handed down as a typed attribute.

Screens never reach up into the app (``self.app.store_path``): the app builds one context and passes it to
each screen it opens, and screens pass it on to the screens they open ("attributes down, messages up").
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AppContext:
    """The store the TUI shows, how often it refreshes, and how it starts workers."""

    store_path: Path
    """The store folder."""
    refresh_seconds: float
    """Seconds between refreshes of live screens."""
    start_worker: Callable[[Sequence[str]], subprocess.Popen[bytes]]
    """Starts ``kcnn worker ARGS`` on this store (the process outlives the TUI)."""
