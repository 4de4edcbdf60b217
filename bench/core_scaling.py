"""How much faster two 1-core processes train the sweep's runs than one process with every core.

Usage: python bench/core_scaling.py [EPOCHS] [REPEATS] [SIZE ...]
The sweep of bench/sweep_throughput.py (kernel 2 and 3 × dilation 1 and 2, built-in data), trained by
`kcnn.training.train.train` in processes that have already imported keras and torch, loaded the images and
warmed up, saving `.keras` checkpoints as a worker does (`--checkpoint-every`, default 10 s, and
after the last epoch):

- one process using every core (what `--jobs 1` runs), training the four configs one after another;
- two processes with one core's threads each (what `--jobs 2` runs), started together, training the
  same four configs each.

Run-phase speed-up = runs per second of the two processes ÷ runs per second of the one: what
`--jobs 2` gains over `--jobs 1` with no queue, store, start-up or end-of-sweep tail. Median of REPEATS
(default 3) interleaved repeats, per input size (default 32 and 64), EPOCHS (default 5) per run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIGS = [(kernel, dilation) for kernel in (2, 3) for dilation in (1, 2)]


def child(threads: int, size: int, epochs: int) -> None:
    """Import, load, warm up, wait for a line on stdin, then train the four configs and print the seconds."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)
    from kcnn.config import ExperimentConfig
    from kcnn.data import load_dataset
    from kcnn.queue.runner import CHECKPOINT_SECONDS, checkpoint_due
    from kcnn.queue.warmup import warm_up
    from kcnn.training.train import TrainingHooks, train

    data = load_dataset("builtin:shapes", size)
    warm_up("cpu")
    print("ready", flush=True)
    sys.stdin.readline()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "checkpoint.keras"
        last_saved = [0.0]

        def save_as_a_worker_does(record: Any, model: Any) -> None:
            if checkpoint_due(record.epoch, epochs, time.monotonic() - last_saved[0], CHECKPOINT_SECONDS):
                model.save(checkpoint)
                last_saved[0] = time.monotonic()

        start = time.perf_counter()
        for seed, (kernel, dilation) in enumerate(CONFIGS):
            config = ExperimentConfig(input_size=size, kernel_size=kernel, dilation=dilation, epochs=epochs, seed=seed)
            last_saved[0] = time.monotonic()
            train(config, device="cpu", dataset=data, hooks=TrainingHooks(after_epoch=save_as_a_worker_does))
        print(time.perf_counter() - start, flush=True)


def together(threads: list[int], size: int, epochs: int) -> float:
    """Seconds until the last of these processes (one per entry, with that many threads) is done."""
    command = [sys.executable, __file__, "--child", str(size), str(epochs)]
    processes = [
        subprocess.Popen([*command, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for count in threads
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    seconds = [float(process.communicate()[0]) for process in processes]
    return max(seconds)


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    sizes = [int(size) for size in sys.argv[3:]] or [32, 64]
    cores = len(os.sched_getaffinity(0))
    print(f"{len(CONFIGS)} runs per process, {epochs} epochs each, {cores} cores, median of {repeats} interleaved:")
    for size in sizes:
        one, two = [], []
        for repeat in range(repeats):
            order = [(one, [cores]), (two, [cores // 2, cores - cores // 2])]
            for times, threads in order if repeat % 2 == 0 else reversed(order):
                times.append(together(threads, size, epochs))
        one_rate = len(CONFIGS) / statistics.median(one)
        two_rate = 2 * len(CONFIGS) / statistics.median(two)
        print(f"  {size:>3}×{size:<3} one process × {cores} threads: {statistics.median(one):6.2f} s for 4 runs   "
              f"two × {cores // 2}: {statistics.median(two):6.2f} s for 8 runs   "
              f"run-phase speed-up: {two_rate / one_rate:.2f}×")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[4]), int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
