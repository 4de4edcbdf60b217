"""Stratified train/validation splits that every class takes part in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kcnn.errors import DataError


@dataclass(frozen=True)
class Split:
    """Indices of the training and validation images."""

    train: np.ndarray
    """Indices of training images, sorted."""
    val: np.ndarray
    """Indices of validation images, sorted."""


def stratified_split(
    labels: np.ndarray, val_split: float, split_seed: int = 0, class_names: tuple[str, ...] | None = None
) -> Split:
    """Hold out `val_split` of every class for validation.

    Each class gives ``round(n · val_split)`` images, at least one, and keeps
    at least one for training. The split depends only on the labels,
    `val_split` and `split_seed`, never on a run's model seed.

    Args:
        labels: Class index of every image.
        val_split: Fraction held out, between 0 and 1.
        split_seed: Seed of the shuffle inside each class. Defaults to `0`.
        class_names: Names used in error messages.

    Returns:
        The split.

    Raises:
        DataError: If a class has fewer than two images.
    """
    rng = np.random.default_rng(split_seed)
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            name = class_names[label] if class_names else str(label)
            raise DataError(
                f"Class {name!r} has {len(members)} image(s); a train/validation split needs at least 2 per class. "
                "Add images to it or remove the class."
            )
        held = min(max(1, round(len(members) * val_split)), len(members) - 1)
        shuffled = rng.permutation(members)
        val.append(shuffled[:held])
        train.append(shuffled[held:])
    return Split(train=np.sort(np.concatenate(train)), val=np.sort(np.concatenate(val)))
