"""kcnn-tui: time to the first screen, key-press latency and refresh cost on a 10,000-run store.

Usage: python bench/tui_startup.py [RUNS]
Measured twice: on a quiet store, and while 4 processes write to it as workers do (claim, heartbeats,
per-epoch writes, finish, in a loop with a no-op trainer).
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
            try:
                await app.workers.wait_for_complete()
            except Exception:  # a timer refresh replaced ours (exclusive workers): measure the next one
                pass
            t = time.perf_counter()
            await pilot.pause()
            refresh.append(time.perf_counter() - t)
        print(first, sorted(keys)[len(keys) // 2], max(refresh))

asyncio.run(main())
"""


WRITER = """
import sys, time
from kcnn.contract import EpochRecord
from kcnn.store import Store

store = Store(sys.argv[1])
while (claim := store.claim(f"bench-writer-{sys.argv[2]}")) is not None:
    for epoch in range(1, 16):
        store.heartbeat(claim)
        store.record_epoch(claim, EpochRecord(epoch, loss=1.0, accuracy=0.5, val_loss=1.0, val_accuracy=0.5,
                                              seconds=0.1, images_per_second=100.0))
        time.sleep(0.05)
    store.finish(claim)
"""


def measure(path: Path) -> tuple[float, float, float]:
    results = []
    for _ in range(3):
        command = [sys.executable, "-c", FIRST_SCREEN, str(path)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
        results.append([float(v) for v in out])
    first, key, refresh = (statistics.median(column) for column in zip(*results, strict=True))
    return first, key, refresh


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store"
        populate(path, runs)
        quiet = measure(path)
        from kcnn.config import ExperimentConfig
        from kcnn.store import Store

        with Store(path) as store:  # work for the writers: runs they claim and train, as workers do
            store.add_runs([ExperimentConfig(seed=10_000_000 + i, epochs=15) for i in range(400)])
        writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(i)]) for i in range(4)]
        try:
            busy = measure(path)
        finally:
            for writer in writers:
                writer.kill()
        print(f"kcnn-tui on a store of {runs:,} runs (median of 3 starts)   quiet    4 writers")
        print(f"  first screen with runs listed (target < 1.5 s)  {quiet[0]:6.2f} s  {busy[0]:6.2f} s")
        print(f"  key press, cursor down (target < 100 ms)        {quiet[1] * 1000:5.0f} ms {busy[1] * 1000:5.0f} ms")
        print(f"  queue refresh, UI-thread part                   {quiet[2] * 1000:5.0f} ms {busy[2] * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
