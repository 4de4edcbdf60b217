"""GPU checks run by bench/gpu.sh: data placement, cudnn.benchmark, images/s and FLOP/s against peak.

Usage: python bench/_gpu_checks.py [--dry-run-on-cpu]   (exits 2 when torch sees no CUDA GPU)
``--dry-run-on-cpu`` runs every step briefly on the CPU (for kcnn's tests: the code paths, not figures).
1. Host-to-device traffic while training (torch profiler): the images go to the GPU once per run,
   so the bytes copied stay near the dataset's size, not the size times the epochs.
2. `torch.backends.cudnn.benchmark` is on while kcnn trains.
3. For a few input sizes and batch sizes, float32 and mixed_bfloat16: images/s, the loop that trained
   (torch or fit), and achieved training FLOP/s as a fraction of the GPU's peak.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path

import torch

from kcnn.config import ExperimentConfig
from kcnn.data import load_dataset
from kcnn.throughput import describe_throughput
from kcnn.training.train import train


def copied_bytes(config: ExperimentConfig, device: str) -> tuple[int, int, int, int]:
    """(host-to-device bytes, host-to-device copies, dataset bytes, arrays placed) of one training run.

    "Arrays placed" counts the training loop's own placements (`torch_loop.to_device`), which the CPU
    dry run can check too: four per run (training and validation images and labels), none per step.
    """
    from torch.profiler import ProfilerActivity, profile

    from kcnn.training import torch_loop

    placed: list[int] = []
    real_to_device = torch_loop.to_device

    def counting_to_device(array, target):  # type: ignore[no-untyped-def]
        placed.append(len(array))
        return real_to_device(array, target)

    torch_loop.to_device = counting_to_device

    data = load_dataset(config.dataset, config.input_size)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        train(config, device=device, dataset=data)
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace.json"
        prof.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text()).get("traceEvents", [])
    copies = [event for event in events if "HtoD" in str(event.get("name", ""))]
    total = sum(int(event.get("args", {}).get("bytes", 0)) for event in copies)
    torch_loop.to_device = real_to_device
    return total, len(copies), data.images.nbytes + data.labels.nbytes, len(placed)


def main(argv: list[str]) -> int:
    dry_run = "--dry-run-on-cpu" in argv
    if not dry_run and not torch.cuda.is_available():
        print("no CUDA GPU visible to torch: GPU checks skipped")
        return 2
    device = "cpu" if dry_run else "cuda:0"
    epochs = 1 if dry_run else 10
    print(f"device: {'CPU (dry run)' if dry_run else torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    config = ExperimentConfig(input_size=90, kernel_size=2, dilation=(2, 1), epochs=1 if dry_run else 4)
    total, count, dataset, placements = copied_bytes(config, device)
    steps = math.ceil(640 / config.batch_size) * config.epochs
    # The torch loop places each array once per run; `fit` (KCNN_TRAIN_LOOP=fit) moves batches itself.
    loop_ok = placements == 4 or os.environ.get("KCNN_TRAIN_LOOP", "").strip().lower() == "fit"
    placed_once = loop_ok and (dry_run or total < 1.5 * dataset + steps * 4096)
    verdict = "once per run: ok" if placed_once else "MORE THAN ONCE"
    print(f"1. host-to-device: {placements} arrays placed by the loop; {total / 1e6:.2f} MB in {count} copies "
          f"over {steps} steps, dataset {dataset / 1e6:.2f} MB ({verdict})")  # fmt: skip
    benchmark = torch.backends.cudnn.benchmark
    print(f"2. cudnn.benchmark after training: {benchmark}")
    print(f"3. throughput ({epochs} epochs, 640 training images of builtin:shapes):")
    settings = ((32, 32),) if dry_run else ((32, 32), (90, 32), (90, 128), (128, 128))
    for size, batch in settings:
        for precision in ("float32", "mixed_bfloat16"):
            run = ExperimentConfig(
                input_size=size, batch_size=batch, kernel_size=2, dilation=(2, 1), epochs=epochs, precision=precision
            )
            result = train(run, device=device)
            achieved = describe_throughput(result.flops_per_second, result.peak_flops, result.device_name)
            print(f"   {size:>3} px, batch {batch:>3}, {precision:<14} {result.loop:<5} loop: "
                  f"{result.images_per_second:>9,.0f} images/s, {achieved}, "
                  f"best val acc {result.best_val_accuracy:.1%}")  # fmt: skip
    return 0 if placed_once and (benchmark or dry_run) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
