"""What training on Ray costs against local worker children: the same 12-run sweep, two slots each.

Usage: python bench/ray_overhead.py [EPOCHS] [INPUT_SIZE] [REPEATS]      (defaults: 3 epochs, 32×32, 3 repeats)
`kcnn worker --ray --jobs 2` (a local Ray instance, two 1-CPU actor slots) against `kcnn worker --jobs 2` (two
children, one thread each). Both are warm when the sweep is queued (every slot imported keras and warmed up);
each is timed from `kcnn queue add` until the 12th run is done, alternating, REPEATS times; the ratio of
medians is the figure (target ≤ 1.15×). Ray's start-up (starting the instance and its actors) is measured
apart and reported separately. Ray binds to the machine's address unless loopback is all there is, so the
script re-runs itself inside a loopback-only network namespace (``unshare --net``, root) when it is not in one.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys

from sweep_throughput import warm_sweep

from kcnn.data import load_dataset

SWEEP = ("--kernel", "2", "3", "--dilation", "1", "2", "3", "--repeats", "2")  # 6 configs × 2 seeds
RUNS = 12


def timed_sweep(slots: tuple[str, ...], epochs: int, size: int) -> tuple[float, float | None]:
    """Seconds from queueing the sweep until all 12 runs are done on warm slots; and Ray's start-up, if any."""
    seconds, log = warm_sweep(slots, epochs, size, SWEEP, runs=RUNS)
    startup = re.search(r"Ray start-up: ([\d.]+) s", log)
    return seconds, float(startup.group(1)) if startup else None


def in_loopback_namespace() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def main() -> None:
    if not in_loopback_namespace():
        if not shutil.which("unshare") or subprocess.run(["unshare", "--net", "true"]).returncode != 0:
            print("bench/ray_overhead.py: needs a loopback-only network namespace (unshare --net, as root); skipped")
            return
        inner = 'ip link set lo up && exec "$@"'
        command = ["unshare", "--net", "sh", "-c", inner, "sh", sys.executable, *sys.argv]
        sys.exit(subprocess.run(command, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}).returncode)
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    load_dataset("builtin:shapes", size)
    print(f"12-run sweep ({epochs} epochs at {size}×{size}), 2 warm slots each, {repeats} repeats:", flush=True)
    local, ray, startups = [], [], []
    for _ in range(repeats):
        seconds, _ = timed_sweep(("--jobs", "2"), epochs, size)
        local.append(seconds)
        seconds, startup = timed_sweep(("--ray", "--jobs", "2"), epochs, size)
        ray.append(seconds)
        startups.append(startup or 0.0)
        print(f"  kcnn worker --jobs 2: {local[-1]:6.1f} s   kcnn worker --ray --jobs 2: {ray[-1]:6.1f} s "
              f"(Ray start-up {startups[-1]:.1f} s, not counted)", flush=True)  # fmt: skip
    ratio = statistics.median(ray) / statistics.median(local)
    print(f"median: local {statistics.median(local):.1f} s, Ray {statistics.median(ray):.1f} s -> {ratio:.2f}× "
          f"(target ≤ 1.15×); Ray start-up median {statistics.median(startups):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
