"""The memory estimate of `kcnn.queue.memory` against the peak resident memory of real `kcnn train` runs.

Usage: python bench/memory_estimate.py  (CPU; about a minute). Prints, per configuration of the built-in
dataset, the estimate, the measured peak (the child's maximum resident set) and their ratio.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile

from kcnn.config import ExperimentConfig
from kcnn.queue.memory import dataset_images, estimate_memory

SIZES = [(64, 32), (128, 32), (256, 32), (384, 16), (512, 8)]


def main() -> None:
    """Train one epoch of each configuration in its own process and compare."""
    print("input  batch  estimate GiB  peak GiB  estimate/peak")
    with tempfile.TemporaryDirectory() as folder:
        for size, batch in SIZES:  # in growing order: RUSAGE_CHILDREN keeps the largest child's peak
            config = ExperimentConfig(input_size=size, batch_size=batch, epochs=1)
            estimate = estimate_memory(config, dataset_images(config.dataset)).total
            command = [sys.executable, "-m", "kcnn.cli", "train", "--input-size", str(size), "--batch-size",
                       str(batch), "--epochs", "1", "--device", "cpu", "--store", f"{folder}/s{size}"]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            print(f"{size:5d}  {batch:5d}  {estimate / 2**30:12.2f}  {peak / 2**30:8.2f}  {estimate / peak:13.2f}")


if __name__ == "__main__":
    main()
