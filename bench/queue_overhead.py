"""Queue overhead per run with a no-op trainer: claim, heartbeats, per-epoch writes, finish.

Usage: python bench/queue_overhead.py [RUNS] [EPOCHS]
Prints the median and 95th-percentile milliseconds per run (target: under 20 ms).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunSummary
from kcnn.store import Store


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    heartbeats = 3
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "store") as store:
        store.add_runs([ExperimentConfig(seed=seed, epochs=epochs) for seed in range(runs)])
        timings = []
        while True:
            start = time.perf_counter()
            claim = store.claim("bench", lease_seconds=60)
            if claim is None:
                break
            for _ in range(heartbeats):
                store.heartbeat(claim)
            for epoch in range(1, epochs + 1):
                record = {
                    "epoch": epoch,
                    "loss": 1.0,
                    "accuracy": 0.5,
                    "val_loss": 1.0,
                    "val_accuracy": 0.5,
                    "seconds": 1.0,
                    "images_per_second": 500.0,
                }
                store.record_epoch(claim, EpochRecord(**record), checkpoint=f"checkpoint-e{epoch}-a1.keras")
            store.finish(
                claim, RunSummary({"params": 1, "flops_per_image": 1, "device": "cpu"}), model="model-a1.keras"
            )
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"queue overhead per run ({runs} runs, {epochs} epoch writes + {heartbeats} heartbeats each): "
        f"median {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms (target < 20 ms)"
    )


if __name__ == "__main__":
    main()
