"""`kcnn predict` throughput: 2,000 PNG images classified at 64 px by a trained run's model.

Usage: python bench/predict.py [IMAGES]
Trains one small run (built-in data, 64×64, 1 epoch), writes IMAGES PNGs of 96×96 (default 2,000), then
times `kcnn.api.predict` over the folder (decode, resize, batched forward pass) after a warm-up, median
of 3, on the CPU. Prints images per second.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2000
    with tempfile.TemporaryDirectory() as folder:
        os.environ["KCNN_CACHE"] = str(Path(folder) / "cache")
        from kcnn import api
        from kcnn.config import ExperimentConfig

        store = api.open_store(Path(folder) / "store")
        config = ExperimentConfig(input_size=64, epochs=1)
        api.train(config, store=store, progress=False, device="cpu")
        [run] = store.runs()
        images = Path(folder) / "images"
        images.mkdir()
        rng = np.random.default_rng(0)
        for index in range(count):
            Image.fromarray(rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8)).save(images / f"{index}.png")
        list(api.predict(run, [str(images)]))  # warm-up: model load, first batches
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            done = sum(1 for prediction in api.predict(run, [str(images)]) if prediction.error is None)
            timings.append(time.perf_counter() - start)
        assert done == count
        seconds = statistics.median(timings)
        print(f"kcnn predict: {count} PNGs 96×96 → 64×64, {os.cpu_count()} cores, CPU, median of 3:")
        print(f"  {seconds:.2f} s, {count / seconds:,.0f} images/s (model load included)")
        store.close()


if __name__ == "__main__":
    main()
