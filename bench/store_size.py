"""Bytes a done run leaves on disk, before and after issue 24, over the seed's whole design (no training).

The design: 128 configurations (input 32, 64, 90, 128 px × channels 16,32 or 32,64 × kernel 2 or 3 × dilation
1, 2, 2,1 or 1,2 × batch 16 or 32) × 3 seeds = 384 runs on ``builtin:shapes``. File sizes depend on the
architecture only, so each model is built, not trained: "before" is a full ``.keras`` save with Adam's state
(what each of a done run's final and best files held), "after" the weights-only file a done run keeps now.

Usage: python bench/store_size.py  (CPU, about a minute). Prints bytes per run and the whole design's total
before, after, and after ``kcnn store prune --keep-top 5`` (the five largest configurations kept: the worst case).
"""

from __future__ import annotations

import itertools
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


def main() -> None:
    """Measure every configuration and print the totals."""
    with tempfile.TemporaryDirectory() as scratch:
        measured = [(config, *sizes(config, Path(scratch))) for config in design()]
    before = sum(2 * full for _, _, full, _ in measured) * SEEDS  # final and best, each a full save
    after_linked = sum(light for _, _, _, light in measured) * SEEDS  # best = final: one file under two names
    after_apart = 2 * after_linked  # best ≠ final: two weights-only files
    largest = sorted(measured, key=lambda row: -row[3])[:5]
    pruned = sum(2 * light for _, _, _, light in largest) * SEEDS
    ratio = max(light / weights for _, weights, _, light in measured)
    print(f"configurations {len(measured)}, runs {len(measured) * SEEDS}")
    print(f"weights-only file ÷ weights: at most {ratio:.3f}")
    print(f"before: {before / 1e9:.2f} GB ({before / len(measured) / SEEDS / 1e6:.1f} MB per run)")
    print(f"after: {after_linked / 1e9:.2f}–{after_apart / 1e9:.2f} GB (best = final … best ≠ final)")
    print(f"after prune --keep-top 5 (worst case): {pruned / 1e6:.0f} MB = {pruned / before:.1%} of before")


if __name__ == "__main__":
    main()
