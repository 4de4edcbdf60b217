"""Fused training on the CPU: 8 runs of one shape as one program against the same 8 one after another (issue 26).

Usage: python bench/fused_cpu.py [REPEATS]     (default 2; builtin:shapes, 3 epochs, 8 seeds)
At 32 px (channels 16,32) and 64 px (channels 32,64), `kcnn.training.train.train_group` with ``fuse=False`` then
``fuse=True``, interleaved, REPEATS times; the median of each. It decides `kcnn worker`'s default on a CPU: fusion
stays off unless it is measured faster.
"""

from __future__ import annotations

import statistics
import sys
import time

from kcnn.config import ExperimentConfig
from kcnn.data import load_dataset
from kcnn.training.train import train_group


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    print("8 runs of 3 epochs on builtin:shapes, this CPU, median of", repeats, flush=True)
    for size, channels in ((32, (16, 32)), (64, (32, 64))):
        base = ExperimentConfig(input_size=size, channels=channels, epochs=3)
        data = load_dataset(base.dataset, size)
        configs = [base.replace(seed=seed) for seed in range(8)]
        train_group(configs[:1], device="cpu", dataset=data)  # warm-up: the first run pays one-off costs
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for fuse in (False, True):
                start = time.perf_counter()
                outcomes = train_group(configs, device="cpu", dataset=data, fuse=fuse)
                times[fuse].append(time.perf_counter() - start)
                assert all(not isinstance(outcome, BaseException) for outcome in outcomes)
        alone, fused = statistics.median(times[False]), statistics.median(times[True])
        print(f"  {size} px: one after another {alone:.1f} s, fused {fused:.1f} s: fused takes {fused / alone:.2f}×",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
