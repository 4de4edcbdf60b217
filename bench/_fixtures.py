"""Shared helpers of the benchmarks: a large store of finished runs, and timing fresh `kcnn` processes."""

from __future__ import annotations

import statistics
import subprocess
import sys
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
    """Median wall time of `kcnn ARGV` in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kcnn.cli", *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
