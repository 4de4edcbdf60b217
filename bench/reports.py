"""Reports over a store of 10,000 finished runs, end to end (a fresh process each time).

Usage: python bench/reports.py [RUNS] [REPEATS]  (target: each under 1 s)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _fixtures import populate, timed

COMMANDS = (
    ["leaderboard"],
    ["leaderboard", "--json"],
    ["compare", "--by", "kernel_size,dilation"],
    ["compare"],
    ["export", "--format", "csv"],
    ["export", "--format", "csv", "--epochs"],
    ["export", "--format", "json", "--epochs"],
)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store"
        populate(path, runs)
        print(f"store of {runs:,} done runs ({runs * 15:,} epoch rows), median of {repeats} fresh processes:")
        for argv in COMMANDS:
            seconds = timed([*argv, "--store", str(path)], repeats)
            print(f"  kcnn {' '.join(argv):<40} {seconds:.3f} s (target < 1 s)")


if __name__ == "__main__":
    main()
