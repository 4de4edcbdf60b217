"""Side by side: the CLI's read paths on 10,000 runs, an older kcnn against this one, interleaved, fresh processes.

Usage: python bench/redesign_ab.py OLD_SRC [REPEATS]
  OLD_SRC: the `src` folder of another checkout (e.g. `git worktree add /tmp/old 268837b`, then /tmp/old/src).
Prints the median wall time of each command under each code and the ratio new/old (issue 22: the run contract
and the facade must not make reading the store slower).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fixtures import populate

NEW_SRC = str(Path(__file__).resolve().parents[1] / "src")
COMMANDS = (("--help",), ("runs", "--json"), ("leaderboard", "--json"))  # spellings both versions accept


def main() -> None:
    if len(sys.argv) < 2 or not Path(sys.argv[1]).is_dir():
        print("bench/redesign_ab.py: skipped (give the src folder of an older checkout to compare with)")
        return
    old_src, repeats = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store"
        populate(path, 10_000)
        print(f"10,000 done runs, median of {repeats} interleaved fresh processes:")
        for command in COMMANDS:
            store = [] if command == ("--help",) else ["--store", str(path)]
            times: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(repeats):
                for label, src in (("old", old_src), ("new", NEW_SRC)):
                    env = {**os.environ, "PYTHONPATH": src}
                    start = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "kcnn.cli", *command, *store], env=env, check=True,
                                   capture_output=True)  # fmt: skip
                    times[label].append(time.perf_counter() - start)
            old, new = (statistics.median(times[label]) for label in ("old", "new"))
            print(f"  kcnn {' '.join(command):<20} old {old:.3f} s   new {new:.3f} s   new/old {new / old:.2f}")


if __name__ == "__main__":
    main()
