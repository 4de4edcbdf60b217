"""kcnn-tui: time to the first screen, and main-thread time of one queue refresh, on a 10,000-run store.

Usage: python bench/tui_startup.py [RUNS]
Targets: first screen (runs listed) under 1.5 s; a key press answered in under 100 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _fixtures import populate

FIRST_SCREEN = """
import asyncio, sys, time
start = time.perf_counter()
from kcnn_tui.app import make_app
from kcnn_tui.screens.queue import QueueScreen
from textual.widgets import DataTable

async def main():
    app = make_app(sys.argv[1])
    async with app.run_test(size=(120, 36)) as pilot:
        while not (isinstance(app.screen, QueueScreen) and app.screen.query_one("#runs", DataTable).row_count):
            await pilot.pause(0.01)
        first = time.perf_counter() - start
        table = app.screen.query_one("#runs", DataTable)
        keys = []
        for _ in range(10):
            t = time.perf_counter()
            await pilot.press("down")
            keys.append(time.perf_counter() - t)
        refresh = []
        for _ in range(5):
            app.screen.refresh_runs()
            await app.workers.wait_for_complete()
            t = time.perf_counter()
            await pilot.pause()
            refresh.append(time.perf_counter() - t)
        print(first, sorted(keys)[len(keys) // 2], max(refresh))

asyncio.run(main())
"""


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store"
        populate(path, runs)
        results = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", FIRST_SCREEN, str(path)], capture_output=True, text=True, check=True
            ).stdout.split()
            results.append([float(v) for v in out])
        first, key, refresh = (statistics.median(column) for column in zip(*results, strict=True))
        print(f"kcnn-tui on a store of {runs:,} runs (median of 3 starts):")
        print(f"  first screen with runs listed   {first:.2f} s (target < 1.5 s)")
        print(f"  key press (cursor down)          {key * 1000:.0f} ms (target < 100 ms)")
        print(f"  queue refresh, UI-thread part    {refresh * 1000:.0f} ms (200 newest rows, changed cells only)")


if __name__ == "__main__":
    main()
