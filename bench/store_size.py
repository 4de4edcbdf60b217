"""Bytes a done run leaves on disk, before and after issue 24, over the seed's whole design (no training).

The design: 128 configurations (input 32, 64, 90, 128 px × channels 16,32 or 32,64 × kernel 2 or 3 × dilation
1, 2, 2,1 or 1,2 × batch 16 or 32) × 3 seeds = 384 runs on ``builtin:shapes``. File sizes depend on the
architecture only, so each model is built, not trained: "before" is a full ``.keras`` save with Adam's state
(what each of a done run's final and best files held), "after" the weights-only file a done run keeps now.

Then a real store holds the 384 done runs, each with a final and a best-epoch model of its measured size
(sparse files: the sizes are real, the disk is spared), and ``kcnn.api.prune`` runs on it as ``kcnn store prune
--keep-top 5`` would: once with the five largest configurations on top (the worst case) and once with a random
ranking, each with the default ``--keep final`` and with ``--keep final+best``. The bytes left are read from the
store's folder (`kcnn.store.retention.artifact_usage`, what ``kcnn store info`` shows).

Usage: python bench/store_size.py  (CPU, about two minutes).
"""

from __future__ import annotations

import itertools
import random
import tempfile
from pathlib import Path

import numpy as np

from kcnn.config import ExperimentConfig
from kcnn.training.backend import import_keras
from kcnn.training.model import build_model, save_for_inference

SEEDS = 3
CLASSES = 8


def design() -> list[ExperimentConfig]:
    """The seed's 128 configurations."""
    grid = itertools.product((32, 64, 90, 128), ((16, 32), (32, 64)), (2, 3), (1, 2, (2, 1), (1, 2)), (16, 32))
    return [
        ExperimentConfig(input_size=size, channels=channels, kernel_size=kernel, dilation=dilation, batch_size=batch)
        for size, channels, kernel, dilation, batch in grid
    ]


def sizes(config: ExperimentConfig, folder: Path) -> tuple[int, int, int]:
    """(weights bytes, full save with the optimizer's state, weights-only save) of one configuration's model."""
    keras = import_keras()
    model = build_model(config, (config.input_size, config.input_size, 3), CLASSES)
    images = np.zeros((2, config.input_size, config.input_size, 3), dtype="float32")
    model.train_on_batch(images, np.zeros(2))  # builds the optimizer's moments, as after any training step
    full, weights_only = folder / "full.keras", folder / "weights.keras"
    model.save(full)
    save_for_inference(model, weights_only)
    keras.backend.clear_session()
    return 4 * model.count_params(), full.stat().st_size, weights_only.stat().st_size


def pruned_bytes(measured: list[tuple[ExperimentConfig, int, int, int]], ranking: list[int], keep: str) -> int:
    """Bytes left after ``prune --keep-top 5 --keep KEEP`` on a store of the design's done runs.

    Args:
        measured: ``(config, weights, full save, weights-only save)`` per configuration.
        ranking: Indexes into `measured`, best first (the order of the leaderboard).
        keep: What the top configurations' runs keep.
    """
    from kcnn.api import prune
    from kcnn.contract import EpochRecord
    from kcnn.store import Store
    from kcnn.store.retention import artifact_usage

    accuracy = {index: 0.99 - place / 1000 for place, index in enumerate(ranking)}
    with tempfile.TemporaryDirectory() as scratch, Store(Path(scratch) / "store") as store:
        for index, (config, _, _, light) in enumerate(measured):
            for seed in range(SEEDS):
                [added] = store.add_runs([config.replace(seed=seed)])
                claim = store.claim("bench", run_id=added.run_id)
                store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=accuracy[index], seconds=1.0))
                folder = store.run_folder(added.run_id)
                folder.mkdir(parents=True)
                for name in ("model-a1.keras", "best-a1.keras"):  # best ≠ final: two files (the worst case)
                    with open(folder / name, "wb") as handle:
                        handle.truncate(light)
                store.finish(claim, model="model-a1.keras")
        before = sum(artifact_usage(store.artifacts, 0).by_kind.values())
        assert before == 2 * SEEDS * sum(light for *_, light in measured)
        prune(store, 5, keep=keep)
        return sum(artifact_usage(store.artifacts, 0).by_kind.values())


def main() -> None:
    """Measure every configuration and print the totals."""
    with tempfile.TemporaryDirectory() as scratch:
        measured = [(config, *sizes(config, Path(scratch))) for config in design()]
    before = sum(2 * full for _, _, full, _ in measured) * SEEDS  # final and best, each a full save
    after_linked = sum(light for _, _, _, light in measured) * SEEDS  # best = final: one file under two names
    after_apart = 2 * after_linked  # best ≠ final: two weights-only files
    ratio = max(light / weights for _, weights, _, light in measured)
    print(f"configurations {len(measured)}, runs {len(measured) * SEEDS}")
    print(f"weights-only file ÷ weights: at most {ratio:.3f}")
    print(f"before: {before / 1e9:.2f} GB ({before / len(measured) / SEEDS / 1e6:.1f} MB per run)")
    print(f"after: {after_linked / 1e9:.2f}–{after_apart / 1e9:.2f} GB (best = final … best ≠ final)")
    largest_first = sorted(range(len(measured)), key=lambda index: -measured[index][3])
    shuffled = random.Random(0).sample(range(len(measured)), len(measured))
    for name, ranking in (("the 5 largest on top", largest_first), ("a random ranking", shuffled)):
        for keep in ("final", "final+best"):
            left = pruned_bytes(measured, ranking, keep)
            share = f"{left / 1e6:.0f} MB = {left / before:.1%} of before"
            print(f"after prune --keep-top 5 --keep {keep}, {name}: {share}")


if __name__ == "__main__":
    main()
