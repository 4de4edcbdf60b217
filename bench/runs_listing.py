"""`kcnn runs` on a store of 10,000 finished runs, end to end (a fresh process each time).

Usage: python bench/runs_listing.py [RUNS] [REPEATS]
Prints the median wall time of `kcnn runs`, `kcnn runs --state done` and `kcnn --help` (target: runs under 0.5 s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcnn.config import ExperimentConfig
from kcnn.store import Store


def populate(path: Path, runs: int) -> None:
    configs = [ExperimentConfig(kernel_size=2 + seed % 3, dilation=1 + seed % 2, seed=seed) for seed in range(runs)]
    with Store(path) as store:
        store.add_runs(configs)
        with store._write() as conn:  # bench-only shortcut: mark every run done with 15 epochs
            conn.execute(
                "UPDATE runs SET state = 'done', epochs_done = epochs_total, "
                "best_val_accuracy = 0.6 + (id % 17) / 100, final_val_accuracy = 0.6, train_seconds = 20.0, "
                "started = created, finished = created + 20"
            )
            conn.executemany(
                "INSERT INTO epochs (run_id, epoch, attempt, loss, accuracy, val_loss, val_accuracy, seconds, "
                "images_per_second) VALUES (?, ?, 1, 1.0, 0.5, 1.0, 0.5, 1.3, 500.0)",
                [(run_id, epoch) for run_id in range(1, runs + 1) for epoch in range(1, 16)],
            )


def timed(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kcnn.cli", *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store"
        populate(path, runs)
        store = ["--store", str(path)]
        print(f"store of {runs:,} done runs ({runs * 15:,} epoch rows), median of {repeats} fresh processes:")
        print(f"  kcnn --help                  {timed(['--help'], repeats):.3f} s")
        print(f"  kcnn runs                    {timed(['runs', *store], repeats):.3f} s (target < 0.5 s)")
        print(f"  kcnn runs --state done       {timed(['runs', '--state', 'done', *store], repeats):.3f} s")
        print(f"  kcnn runs --json (all runs)  {timed(['runs', '--json', *store], repeats):.3f} s")


if __name__ == "__main__":
    main()
