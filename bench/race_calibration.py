"""How often a race declares a winner, and how many runs it spends, when the truth is known.

Usage: python bench/race_calibration.py [RACES]
No training: each run's accuracy is drawn from a normal distribution around its configuration's mean,
and scripted workers advance the race exactly as `kcnn worker` does (advance studies, claim, record the
epoch, finish). Two configurations, `--max-repeats 10`, alpha 0.05, RACES (default 100) races per row:
equal means (a winner is a false one) and 3-point gaps (the right winner), with seed noise σ = 2 points.
A fixed 10-repeat design would spend 20 runs.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
from pathlib import Path

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord
from kcnn.queue.race import RaceSettings, start_race
from kcnn.queue.studies import advance_studies
from kcnn.store import Store

A = ExperimentConfig(input_size=16, channels=(4,), kernel_size=2, epochs=1)
B = A.replace(kernel_size=3)


def one_race(folder: Path, means: tuple[float, float], sd: float, seed: int) -> tuple[str | None, int]:
    """(the winner's key or None, runs spent including the two the race started from)."""
    rng = random.Random(seed)
    truth = {A.config_key: means[0], B.config_key: means[1]}
    with Store(folder / str(seed)) as store:
        for config in (A, B):
            [added] = store.add_runs([config])
            _finish(store, store.claim("w", run_id=added.run_id), rng.gauss(truth[config.config_key], sd))
        study_id = start_race(store, RaceSettings(tuple(truth), max_repeats=10))
        while True:
            advance_studies(store, "bench")
            claim = store.claim("w")
            if claim is None:
                break
            _finish(store, claim, rng.gauss(truth[claim.config.config_key], sd))
        study = store.get_study(study_id)
        return study.progress.get("winner"), len(store.study_runs(study_id)) + 2


def _finish(store: Store, claim, accuracy: float) -> None:  # type: ignore[no-untyped-def]
    store.record_epoch(claim, EpochRecord(**{"epoch": 1, "val_accuracy": min(1.0, max(0.0, accuracy)), "seconds": 0.1}))
    store.finish(claim)


def main() -> None:
    races = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        for label, means in (("equal means", (0.70, 0.70)), ("3-point gap", (0.73, 0.70))):
            folder = Path(tmp) / label.replace(" ", "-")
            folder.mkdir()
            results = [one_race(folder, means, 0.02, 1000 * (means[0] > means[1]) + seed) for seed in range(races)]
            winners = sum(winner == A.config_key for winner, _ in results)
            wrong = sum(winner == B.config_key for winner, _ in results)
            spent = statistics.mean(runs for _, runs in results)
            what = "false winners" if means[0] == means[1] else "right winner"
            count = winners + wrong if means[0] == means[1] else winners
            print(f"{label}, σ = 2 points: {what} {count} of {races} ({wrong} for the worse one), "
                  f"{spent:.1f} runs on average (a fixed 10-repeat design: 20)")  # fmt: skip


if __name__ == "__main__":
    main()
