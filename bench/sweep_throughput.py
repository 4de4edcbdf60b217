"""A 12-run sweep trained by `kcnn worker --jobs 1` versus `--jobs 2`, two ways.

Usage: python bench/sweep_throughput.py [EPOCHS] [INPUT_SIZE] [REPEATS] [gpu | warm]
The sweep: `kcnn queue add --kernel 2 3 --dilation 1 2 --repeats 3` (12 runs) on the built-in data,
by default 5 epochs at 32×32 (the smallest runs, where fixed costs weigh most).

- warm workers: `kcnn worker --jobs N` is already running (every child has imported keras and torch
  and warmed up, as a long-lived worker's have); timed from `kcnn queue add` until the twelfth run
  is done.
- cold: `kcnn worker --once --jobs N` end to end, including process start-up and the keras/torch
  import in every child (about 6.5 s here), which more jobs cannot shorten.

Target: `--jobs 2` at least 1.5× faster than `--jobs 1` on this 2-core machine. Median of REPEATS
(default 3) interleaved repeats. With ``gpu`` (for bench/gpu.sh): `--gpus 0 --per-gpu 1` versus
`--per-gpu 4`, warm workers only; with ``warm``: the CPU comparison with warm workers only.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcnn.data import load_dataset
from kcnn.store import Store

SWEEP = ("--kernel", "2", "3", "--dilation", "1", "2", "--repeats", "3")


def kcnn(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "kcnn.cli", *args], check=True, capture_output=True)


def _queue(store: str, epochs: int, size: int, sweep: tuple[str, ...] = SWEEP) -> None:
    kcnn("queue", "add", *sweep, "--epochs", str(epochs), "--input-size", str(size), "--store", store)


def cold_seconds(slots: tuple[str, ...], epochs: int, size: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "store")
        _queue(store, epochs, size)
        start = time.perf_counter()
        kcnn("worker", "--once", *slots, "--store", store)
        return time.perf_counter() - start


def warm_seconds(
    slots: tuple[str, ...], epochs: int, size: int, sweep: tuple[str, ...] = SWEEP, runs: int = 12
) -> float:
    return warm_sweep(slots, epochs, size, sweep, runs)[0]


def warm_sweep(
    slots: tuple[str, ...], epochs: int, size: int, sweep: tuple[str, ...] = SWEEP, runs: int = 12
) -> tuple[float, str]:
    """Seconds from queueing the sweep until its `runs` runs are done on a warm worker, and the worker's log."""
    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "store")
        Store(Path(store)).close()
        command = [sys.executable, "-m", "kcnn.cli", "worker", *slots, "--poll", "0.2", "--store", store]
        log = Path(folder) / "worker.log"
        with open(log, "w") as output:
            worker = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(worker, log, children=_children(slots))
            start = time.perf_counter()
            _queue(store, epochs, size, sweep)
            with Store(Path(store)) as reader:
                while reader.count_by_state()["done"] < runs:
                    if worker.poll() is not None:
                        raise RuntimeError("the worker exited before the sweep was done")
                    time.sleep(0.05)
            seconds = time.perf_counter() - start
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=120)
        return seconds, log.read_text()


def _children(slots: tuple[str, ...]) -> int:
    count = slots[slots.index("--per-gpu") + 1] if "--per-gpu" in slots else slots[slots.index("--jobs") + 1]
    return int(count)


def _wait_until_ready(worker: subprocess.Popen[bytes], log: Path, children: int) -> None:
    """Wait until every child has imported keras and torch and warmed up, as a long-lived worker's have."""
    deadline = time.monotonic() + 120
    while log.read_text().count("ready, waiting for runs") < children:
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker's children did not get ready:\n{log.read_text()}")
        time.sleep(0.1)
    time.sleep(1.0)  # let the machine settle after the imports


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    gpu = len(sys.argv) > 4 and sys.argv[4] == "gpu"
    warm_only = len(sys.argv) > 4 and sys.argv[4] == "warm"
    if gpu:
        one_slot, more_slots = ("--gpus", "0", "--per-gpu", "1"), ("--gpus", "0", "--per-gpu", "4")
        modes = {"warm workers": warm_seconds}
    else:
        one_slot, more_slots = ("--jobs", "1"), ("--jobs", "2")
        modes = {"warm workers": warm_seconds, "cold --once": cold_seconds}
        if warm_only:
            del modes["cold --once"]
    load_dataset("builtin:shapes", size)  # the drawn images are cached on disk, as after a user's first run
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeats):
        for mode, measure in modes.items():
            for index, slots in enumerate((one_slot, more_slots)):
                times.setdefault((mode, index), []).append(measure(slots, epochs, size))
    print(f"12-run sweep ({epochs} epochs at {size}×{size}), median of {repeats} interleaved repeats:")
    for mode in modes:
        one, more = (statistics.median(times[(mode, index)]) for index in (0, 1))
        print(f"  {mode:<13} {' '.join(one_slot)} {one:6.1f} s   {' '.join(more_slots)} {more:6.1f} s   "
              f"speed-up {one / more:.2f}×" + ("" if gpu else " (target ≥ 1.5×)"))  # fmt: skip
        for index, slots in enumerate((one_slot, more_slots)):
            print(f"    each repeat, {' '.join(slots)}: " + ", ".join(f"{s:.1f}" for s in times[(mode, index)]))


if __name__ == "__main__":
    main()
