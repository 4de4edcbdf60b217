"""Class predictions and accuracy of a trained model: the one implementation every recorded and reported number uses.

Training records a run's test accuracy with it, and ``kcnn model evaluate`` recomputes accuracies with it, so
the two agree exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The smallest prediction batch (prediction holds no gradients: larger batches are cheaper per image).
MIN_PREDICT_BATCH = 64


def predicted_labels(model: Any, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The most likely class of every image (uint8 pixels; the model scales them).

    Args:
        model: A Keras classifier.
        images: ``(N, size, size, channels)`` uint8 images.
        batch_size: The run's batch size (predictions use at least `MIN_PREDICT_BATCH`).
    """
    if not len(images):
        return np.zeros(0, dtype=np.int64)
    probabilities = model.predict(images.astype("float32"), batch_size=max(batch_size, MIN_PREDICT_BATCH), verbose=0)
    return np.asarray(probabilities).argmax(axis=1)


def accuracy(model: Any, images: np.ndarray, labels: np.ndarray, batch_size: int) -> float | None:
    """Share of `images` whose predicted class is their label; `None` for no images."""
    if not len(images):
        return None
    return float(np.mean(predicted_labels(model, images, batch_size) == labels))
