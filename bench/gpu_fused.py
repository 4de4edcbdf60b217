"""The seed's whole design on one GPU: today's `--per-gpu 8` one run at a time against fused execution (issue 26).

Usage: python bench/gpu_fused.py [EPOCHS]         (exits 2 when torch sees no CUDA GPU; default 15 epochs)
       python bench/gpu_fused.py --cpu-check      (the code path on the CPU: a 12-run design, --jobs 1, tiny)

The design (`kcnn queue add`): batch size 16 32 × input size 32 64 90 128 × channels 16,32 32,64 × kernel
2 3 4 5 × dilation 1 2,1, 3 seeds, ``--test-split 0.2``: 128 configurations, 384 runs on ``builtin:shapes``.
Each mode runs on a warm worker (its children have imported keras and torch and warmed up; the start-up is
reported apart), timed from `kcnn queue add` until the last run is done, side by side in one call:

* ``--gpus 0 --per-gpu 8 --fuse 1``: today's packing, one run per child at a time;
* ``--gpus 0 --per-gpu 8``: the same children, each training the seeds of a configuration as one program
  (kcnn's default `--fuse`, sized by the GPU's free memory).

Printed per mode: sweep wall time, runs/hour, worker start-up, mean GPU utilisation and peak GPU memory
(``nvidia-smi``, sampled every 0.5 s), the share of the GPU's peak FLOP/s (training FLOPs of every run, from
its shape plan, over the wall time); then the ratio, and the largest difference in a run's best validation
and test accuracy between the two modes at equal seeds. The unfused pass trains the whole design, so its
leaderboard and effect tests are written to ``bench/seed_design_truth.json``: the brute-force answer a
budgeted study is scored against (issue 25); when that file is already there (computed on 2 CPU cores by
``bench/answer_quality.py truth seed``) it is kept and the GPU's goes to ``seed_design_truth_gpu.json``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from sweep_throughput import _wait_until_ready

from kcnn.data import load_dataset
from kcnn.store import Store

DESIGN = ("--batch-size", "16", "32", "--input-size", "32", "64", "90", "128", "--channels", "16,32", "32,64",
          "--kernel", "2", "3", "4", "5", "--dilation", "1", "2,1", "--repeats", "3",
          "--test-split", "0.2")  # fmt: skip
#: Where the GPU run keeps the design's brute-force answer (`ground_truth`): the data issue 25's quality bench
#: scores budgeted studies against.
TRUTH = Path(__file__).with_name("seed_design_truth.json")
CPU_DESIGN = ("--input-size", "16", "--channels", "4,8", "--kernel", "2", "3", "--dilation", "1", "2,1",
              "--repeats", "3", "--test-split", "0.2")  # fmt: skip


class GpuSampler(threading.Thread):
    """Samples the GPU's utilisation (%) and memory in use (MiB) with nvidia-smi while a sweep trains."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.utilisation: list[float] = []
        self.memory: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits", "-i", "0"]
        while not self.done.wait(0.5):
            try:
                used, memory = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.split(",")[:2]
                self.utilisation.append(float(used))
                self.memory.append(float(memory))
            except (OSError, ValueError, subprocess.SubprocessError):
                return


def ground_truth(store: Store) -> dict[str, object]:
    """The brute-force answer of a fully trained design (`answer_quality.truth_of`): issue 25's data."""
    from answer_quality import DESIGNS, truth_of

    return truth_of(store, DESIGNS["seed"][0])


def sweep(
    slots: tuple[str, ...], design: tuple[str, ...], epochs: int, gpu: bool, truth_path: Path | None = None
) -> dict[str, object]:
    """Train the design on a warm worker with `slots`; its timings and every run's accuracies.

    With `truth_path`, the trained design's leaderboard and effects are written there as JSON.
    """
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        Store(store).close()
        log = Path(folder) / "worker.log"
        command = [sys.executable, "-m", "kcnn.cli", "worker", *slots, "--poll", "0.2", "--store", str(store)]
        started = time.perf_counter()
        with open(log, "w") as output:
            worker = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        sampler = GpuSampler()
        try:
            _wait_until_ready(worker, log, children=int(slots[slots.index("--per-gpu" if gpu else "--jobs") + 1]))
            startup = time.perf_counter() - started
            add = [sys.executable, "-m", "kcnn.cli", "queue", "add", *design, "--epochs", str(epochs)]
            if gpu:
                sampler.start()
            start = time.perf_counter()
            subprocess.run([*add, "--store", str(store)], check=True, capture_output=True)
            with Store(store) as reader:
                total = sum(reader.count_by_state().values())
                while (counts := reader.count_by_state())["done"] + counts["failed"] < total:
                    if worker.poll() is not None:
                        raise RuntimeError(f"the worker exited before the sweep was done:\n{log.read_text()}")
                    time.sleep(0.05)
            seconds = time.perf_counter() - start
        finally:
            sampler.done.set()
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=120)
        with Store(store) as reader:
            runs = reader.runs()
            truth = ground_truth(reader) if truth_path is not None else None
        if truth is not None and truth_path is not None:
            truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
            print(f"  wrote the design's brute-force answer to {truth_path}", flush=True)
    flops = sum((run.flops_per_second or 0) * (run.train_seconds or 0) for run in runs)  # a fused run: its group's time
    peak = max((run.peak_flops or 0 for run in runs), default=0)
    return {
        "seconds": seconds,
        "startup": startup,
        "runs": len(runs),
        "failed": sum(run.state != "done" for run in runs),
        "fused": sum(run.train_loop == "fused" for run in runs),
        "utilisation": sum(sampler.utilisation) / len(sampler.utilisation) if sampler.utilisation else None,
        "memory": max(sampler.memory, default=None),
        "flop_share": flops / seconds / peak if peak else None,
        "accuracies": {(run.config_key, run.seed): (run.best_val_accuracy, run.best_test_accuracy) for run in runs},
    }


def main() -> None:
    cpu_check = sys.argv[1:] == ["--cpu-check"]
    if cpu_check:
        modes = [("--jobs", "1", "--fuse", "1"), ("--jobs", "1", "--fuse", "3")]
        design, epochs, size = CPU_DESIGN, 2, 16
    else:
        if not torch.cuda.is_available():
            print("bench/gpu_fused.py: torch sees no CUDA GPU here; run it on a machine with one.", file=sys.stderr)
            sys.exit(2)
        modes = [("--gpus", "0", "--per-gpu", "8", "--fuse", "1"), ("--gpus", "0", "--per-gpu", "8")]
        design, epochs, size = DESIGN, int(sys.argv[1]) if len(sys.argv) > 1 else 15, 0
    for side in (size,) if size else (32, 64, 90, 128):
        load_dataset("builtin:shapes", side)  # drawn and cached once, as after a user's first run
    where = "the CPU (code path only)" if cpu_check else "one GPU"
    print(f"the seed's design ({epochs} epochs), warm workers, {where}:", flush=True)
    results = []
    for index, slots in enumerate(modes):
        # The unfused pass is the brute-force answer; one already committed (the CPU's) is kept, the GPU's beside it.
        written = TRUTH if not TRUTH.exists() else TRUTH.with_name("seed_design_truth_gpu.json")
        truth = written if index == 0 and not cpu_check else None
        result = sweep(slots, design, epochs, gpu=not cpu_check, truth_path=truth)
        results.append(result)
        seconds = float(result["seconds"])  # type: ignore[arg-type]
        extra = ""
        if result["utilisation"] is not None:
            extra += f"   GPU {result['utilisation']:.0f}% busy, peak {result['memory']:,.0f} MiB"
        if result["flop_share"] is not None:
            extra += f"   {float(result['flop_share']):.2%} of peak FLOP/s"  # type: ignore[arg-type]
        print(f"  {' '.join(slots):<36} {seconds:7.1f} s   {int(result['runs']) / seconds * 3600:9,.0f} runs/hour   "  # type: ignore[call-overload]
              f"start-up {float(result['startup']):.1f} s   {result['fused']} of {result['runs']} fused   "  # type: ignore[arg-type]
              f"{result['failed']} not done{extra}", flush=True)  # fmt: skip
    before, after = results
    accuracy_gap = test_gap = 0.0
    for key, (best, test) in before["accuracies"].items():  # type: ignore[attr-defined]
        other_best, other_test = after["accuracies"].get(key, (None, None))  # type: ignore[attr-defined]
        if None not in (best, other_best):
            accuracy_gap = max(accuracy_gap, abs(best - other_best))
        if None not in (test, other_test):
            test_gap = max(test_gap, abs(test - other_test))
    ratio = float(before["seconds"]) / float(after["seconds"])  # type: ignore[arg-type]
    print(f"  fused ÷ unfused: {ratio:.2f}× the runs/hour" + ("" if cpu_check else " (target ≥ 10×)"))
    print(f"  largest difference at equal seeds: best val acc {accuracy_gap:.4f}, test acc {test_gap:.4f}")


if __name__ == "__main__":
    main()
