"""Resolve a dataset name to uint8 image arrays at the size a config asks for."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image

from kcnn.data import builtin
from kcnn.errors import DataError

BUILTIN_PREFIX = "builtin:"
BUILTIN_DATASETS = ("shapes",)


@dataclass(frozen=True)
class ImageSet:
    """Images of one dataset at one size, with integer labels."""

    images: np.ndarray
    """uint8 array ``(N, size, size, channels)``; scaling to [0, 1] happens inside the model."""
    labels: np.ndarray
    """int64 array ``(N,)`` of class indices."""
    class_names: tuple[str, ...]
    """Class names, in label order."""

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


def check_dataset(spec: str) -> None:
    """Check that a dataset name can be resolved, without loading it.

    Raises:
        DataError: If the dataset is unknown.
    """
    name = spec[len(BUILTIN_PREFIX) :] if spec.startswith(BUILTIN_PREFIX) else spec
    if name not in BUILTIN_DATASETS:
        known = ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_DATASETS)
        raise DataError(
            f"Unknown dataset {spec!r}: built-in datasets are {known}. Image folders are not supported yet."
        )


def load_dataset(spec: str, input_size: int, color_mode: str = "rgb") -> ImageSet:
    """Load a dataset by name and resize it.

    Args:
        spec: ``builtin:NAME`` (``builtin:shapes``) or ``shapes``.
        input_size: Side of the square output images.
        color_mode: ``rgb`` or ``grayscale``. Defaults to ``rgb``.

    Returns:
        The images, labels and class names.

    Raises:
        DataError: If the dataset is unknown.
    """
    name = spec[len(BUILTIN_PREFIX) :] if spec.startswith(BUILTIN_PREFIX) else spec
    if name not in BUILTIN_DATASETS:
        known = ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_DATASETS)
        raise DataError(
            f"Unknown dataset {spec!r}: built-in datasets are {known}. Image folders are not supported yet."
        )
    images, labels = _resized_shapes(input_size, color_mode)
    return ImageSet(images=images, labels=labels, class_names=tuple(builtin.CLASSES))


@functools.lru_cache(maxsize=1)
def _rendered_shapes() -> tuple[np.ndarray, np.ndarray]:
    return builtin.generate_shapes(seed=0)


@functools.lru_cache(maxsize=8)
def _resized_shapes(input_size: int, color_mode: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _rendered_shapes()
    resized = resize_images(images, input_size, color_mode)
    resized.flags.writeable = False
    return resized, labels


def resize_images(images: np.ndarray, size: int, color_mode: str) -> np.ndarray:
    """Resize RGB uint8 images to ``size×size`` (antialiased bilinear) in a colour mode.

    Returns:
        uint8 ``(N, size, size, 1 or 3)``.
    """
    mode = "L" if color_mode == "grayscale" else "RGB"
    out = np.empty((len(images), size, size, 1 if mode == "L" else 3), dtype=np.uint8)
    for index, pixels in enumerate(images):
        image = Image.fromarray(pixels, "RGB").convert(mode)
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        out[index] = np.asarray(image).reshape(size, size, -1)
    return out
