"""`kcnn queue add` of 10⁴ and 10⁵ runs: wall time and peak memory, each in a fresh process.

Usage: python bench/queue_add.py
Shapes: 8 configurations × 1,250 seeds (10⁴ runs), 8 × 12,500 (10⁵), and 10⁵ distinct configurations
(4 kernels × 5 dilations × 4 widths × 1,250 batch sizes, one seed). Targets (issue 13): 10⁵ runs under
10 s; peak memory flat (the same for 10⁴ and 10⁵ runs). Before the streaming add: 10⁵ runs (8 × 12,500)
took 4 min 38 s and 685 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = """
import json, resource, sys, time
from kcnn.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"code": code, "seconds": seconds, "peak_mb": peak}))
"""

EIGHT = ["--kernel", "2", "3", "4", "5", "--dilation", "1", "2"]
SHAPES = {
    "10⁴ runs: 8 configs × 1,250 seeds": [*EIGHT, "--repeats", "1250"],
    "10⁵ runs: 8 configs × 12,500 seeds": [*EIGHT, "--repeats", "12500"],
    "10⁵ runs: 10⁵ distinct configs": ["--kernel", "2", "3", "4", "5", "--dilation", "1", "2", "3", "4", "5",
                                        "--channels", "8", "16", "32", "64",
                                        "--batch-size", *map(str, range(1, 1251))],
}  # fmt: skip


def main() -> None:
    print("kcnn queue add (fresh store and process each; wall time of the command, peak resident memory):")
    for label, flags in SHAPES.items():
        with tempfile.TemporaryDirectory() as folder:
            argv = ["queue", "add", "--store", str(Path(folder) / "store"), *flags, "--max-runs", "100000"]
            done = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            assert figures["code"] == 0, done.stderr
            print(f"  {label:38} {figures['seconds']:6.2f} s  {figures['peak_mb']:6.0f} MB")


if __name__ == "__main__":
    main()
