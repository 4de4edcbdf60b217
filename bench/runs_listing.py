"""`kcnn runs` on a store of 10,000 finished runs, end to end (a fresh process each time).

Usage: python bench/runs_listing.py [RUNS] [REPEATS]
Prints the median wall time of `kcnn runs`, `kcnn runs --state done` and `kcnn --help` (target: runs under 0.5 s).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _fixtures import populate, timed


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
