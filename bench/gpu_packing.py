"""Runs per hour on one GPU as more runs share it: `kcnn worker --gpus 0 --per-gpu 1, 2, 4, 8`.

Usage: python bench/gpu_packing.py [EPOCHS] [INPUT_SIZE]      (exits 2 when torch sees no CUDA GPU)
       python bench/gpu_packing.py --cpu-check                 (the code path on the CPU: --jobs 1 and 2, tiny)
A 24-run sweep (`--kernel 2 3 --dilation 1 2 --repeats 6`, default 10 epochs at 90×90) on warm workers
(every child has imported keras and torch and warmed up), timed from `kcnn queue add` until the 24th run is
done (`bench/sweep_throughput.warm_seconds`), once per packing.
"""

from __future__ import annotations

import sys

import torch
from sweep_throughput import warm_seconds

from kcnn.data import load_dataset

SWEEP = ("--kernel", "2", "3", "--dilation", "1", "2", "--repeats", "6")


def main() -> None:
    if sys.argv[1:] == ["--cpu-check"]:
        packings, epochs, size = [("--jobs", "1"), ("--jobs", "2")], 1, 16
    else:
        if not torch.cuda.is_available():
            print("bench/gpu_packing.py: torch sees no CUDA GPU here; run it on a machine with one.", file=sys.stderr)
            sys.exit(2)
        epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
        size = int(sys.argv[2]) if len(sys.argv) > 2 else 90
        packings = [("--gpus", "0", "--per-gpu", str(n)) for n in (1, 2, 4, 8)]
    load_dataset("builtin:shapes", size)
    where = "the CPU (code path only)" if sys.argv[1:] == ["--cpu-check"] else "one GPU"
    print(f"24-run sweep ({epochs} epochs at {size}×{size}), warm workers, {where}:", flush=True)
    base = None
    for slots in packings:
        seconds = warm_seconds(slots, epochs, size, SWEEP, runs=24)
        base = base or seconds
        print(f"  {' '.join(slots):<22} {seconds:6.1f} s   {24 / seconds * 3600:8,.0f} runs/hour   "
              f"{base / seconds:.2f}× the first", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
