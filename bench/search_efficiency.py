"""Does an Optuna study with pruning find the grid's best configuration for a fraction of the grid's epochs?

Usage: python bench/search_efficiency.py [SEEDS] [TRIALS]
A 24-configuration space on the built-in data (32×32, 6 epochs): kernel 2 3 4 × dilation 1 2 ×
channels 8,16 16,32 × learning rate 0.001 0.003. For each of SEEDS (default 3) comparison seeds:

- the full grid, 2 seeds per configuration (`kcnn queue add … --repeats 2`, `kcnn worker --once --jobs 2`):
  48 runs; each configuration's *grid mean* is the mean of its two runs' best validation accuracy;
- `kcnn optimize` on the same space: TPE + median pruning, TRIALS (default 12) trials of one seed each,
  2 trials in flight, on the same worker.

Reported per comparison: epochs each method trained, and the grid mean of the configuration each picks
(the grid: its best grid mean; the study: its best trial's configuration). Target: the study's pick within
1 point of the grid's best with at most 40% of the grid's epochs (median over the comparison seeds).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcnn.store import Store

GRID = ("--kernel", "2", "3", "4", "--dilation", "1", "2", "--channels", "8,16", "16,32",
        "--learning-rate", "0.001", "0.003")  # fmt: skip
FIXED = ("--input-size", "32", "--epochs", "6")
SPACE = """
kernel_size = [2, 3, 4]
dilation = [1, 2]
channels = [[8, 16], [16, 32]]
learning_rate = [0.001, 0.003]

[fixed]
input_size = 32
epochs = 6
"""


def kcnn(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "kcnn.cli", *args], capture_output=True, text=True, check=True)
    return done.stdout


def grid(folder: Path, seed: int) -> tuple[int, dict[str, float], float]:
    """(epochs trained, grid mean per config key, seconds) of the full grid with two seeds."""
    store = str(folder / "grid")
    start = time.perf_counter()
    kcnn("queue", "add", *GRID, *FIXED, "--repeats", "2", "--seed", str(seed), "--store", store)
    kcnn("worker", "--once", "--jobs", "2", "--store", store)
    seconds = time.perf_counter() - start
    with Store(Path(store)) as opened:
        runs = opened.runs()
    values: dict[str, list[float]] = {}
    for run in runs:
        values.setdefault(run.config_key, []).append(run.best_val_accuracy or 0.0)
    return sum(run.epochs_done for run in runs), {k: statistics.mean(v) for k, v in values.items()}, seconds


def study(folder: Path, seed: int, trials: int) -> tuple[int, str, float]:
    """(epochs trained, the best trial's config key, seconds) of a TPE + median-pruning study."""
    store = str(folder / "study")
    space = folder / "space.toml"
    space.write_text(SPACE)  # the study's runs start at --seed, as the grid's do
    start = time.perf_counter()
    kcnn("optimize", str(space), "--trials", str(trials), "--sampler", "tpe", "--pruner", "median",
         "--parallel", "2", "--seed", str(seed), "--store", store)  # fmt: skip
    kcnn("worker", "--once", "--jobs", "2", "--store", store)
    seconds = time.perf_counter() - start
    with Store(Path(store)) as opened:
        [record] = opened.studies()
        runs = opened.study_runs(record.id)
    complete = {n: t for n, t in record.progress["trials"].items() if t["state"] == "complete"}
    best = max(complete.values(), key=lambda trial: trial["value"])
    return sum(run.epochs_done for run in runs), best["key"], seconds


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    rows = []
    for index in range(seeds):
        seed = 100 * index
        with tempfile.TemporaryDirectory() as tmp:
            grid_epochs, means, grid_seconds = grid(Path(tmp), seed)
            study_epochs, picked, study_seconds = study(Path(tmp), seed, trials)
        best = max(means.values())
        row = {"seed": seed, "grid_epochs": grid_epochs, "study_epochs": study_epochs,
               "epoch_share": study_epochs / grid_epochs, "grid_best": best, "study_pick": means[picked],
               "gap_points": 100 * (best - means[picked]), "grid_seconds": grid_seconds,
               "study_seconds": study_seconds}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    share = statistics.median(r["epoch_share"] for r in rows)
    gap = statistics.median(r["gap_points"] for r in rows)
    print(f"median over {seeds} comparison seed(s): the study trained {share:.0%} of the grid's epochs and picked a "
          f"configuration {gap:.2f} point(s) below the grid's best (target: ≤ 40% and ≤ 1 point)")  # fmt: skip


if __name__ == "__main__":
    main()
