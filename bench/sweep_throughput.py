"""A 12-run sweep trained by `kcnn worker --once --jobs 1` versus `--jobs 2`, wall time end to end.

Usage: python bench/sweep_throughput.py [EPOCHS] [INPUT_SIZE]
The sweep: `kcnn queue add --kernel 2 3 --dilation 1 2 --repeats 3` (12 runs) on the built-in data.
Target: `--jobs 2` at least 1.5× faster than `--jobs 1` on this 2-core machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def kcnn(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "kcnn.cli", *args], check=True, capture_output=True)


def sweep_seconds(jobs: int, epochs: int, size: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "store")
        kcnn("queue", "add", "--kernel", "2", "3", "--dilation", "1", "2", "--repeats", "3", "--epochs", str(epochs),
             "--input-size", str(size), "--store", store)  # fmt: skip
        start = time.perf_counter()
        kcnn("worker", "--once", "--jobs", str(jobs), "--store", store)
        return time.perf_counter() - start


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    one = sweep_seconds(1, epochs, size)
    two = sweep_seconds(2, epochs, size)
    print(f"12-run sweep ({epochs} epochs at {size}×{size}), `kcnn worker --once`, end to end:")
    print(f"  --jobs 1   {one:6.1f} s")
    print(f"  --jobs 2   {two:6.1f} s   speed-up {one / two:.2f}× (target ≥ 1.5×)")


if __name__ == "__main__":
    main()
