"""Warm a worker child while it waits for work, so that its first run starts as fast as the next ones.

A fresh process pays once for what the first run touches: kcnn's training
modules, Keras' model building and saving code, the first kernel calls of each
kind and, on a GPU, the CUDA context and cuDNN. An idle child pays it before
any run is queued instead of inside the first run of a sweep.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from kcnn.config import ExperimentConfig
from kcnn.data import ImageSet
from kcnn.files import scratch_folder

WARM_UP_CONFIG = ExperimentConfig(input_size=16, channels=(4, 8), kernel_size=2, dense_units=8, epochs=1, batch_size=8)
"""A model with every layer kind of kcnn's CNNs, small enough to train in a fraction of a second."""


def warm_up_images(count: int = 32, size: int = WARM_UP_CONFIG.input_size, classes: int = 2) -> ImageSet:
    """Random images and labels to train the warm-up model on (no file is read)."""
    generator = np.random.default_rng(0)
    images = generator.integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)
    labels = np.arange(count, dtype=np.int64) % classes
    return ImageSet(images=images, labels=labels, class_names=tuple(f"class {i}" for i in range(classes)))


def warm_up(device: str = "auto") -> float:
    """Train the warm-up model for one epoch on `device`, save it and load it back, in a temporary folder.

    Nothing is written to a store and nothing is left on disk. Runs are unaffected:
    each run seeds itself and gives its layers their own dtype policy.

    Args:
        device: Where the worker's runs train.

    Returns:
        Seconds it took.
    """
    from kcnn.training.backend import import_keras
    from kcnn.training.train import TrainingHooks, train

    start = time.perf_counter()
    keras = import_keras()
    with scratch_folder("kcnn-warm-up-") as folder:
        checkpoint = Path(folder) / "warm-up.keras"

        def save_and_load(record: Any, model: Any) -> None:
            model.save(checkpoint)
            keras.saving.load_model(checkpoint)

        train(WARM_UP_CONFIG, device=device, dataset=warm_up_images(), hooks=TrainingHooks(after_epoch=save_and_load))
    return time.perf_counter() - start
