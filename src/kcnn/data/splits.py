"""Stratified splits that every class takes part in: the test set, the validation split, and K folds.

Every split depends only on the labels and the config's split fields (`val_split`, `split_seed`,
`test_split`, `folds`, `fold`), never on a run's model seed, so all seeds and all configurations of a
study are measured on the same images. Order of the cuts, per class:

1. the **test set** (`test_split` of each class), set aside before anything else;
2. of the rest, either the **validation split** (`val_split` of each class) or, with ``folds = K > 1``,
   the K **folds**: the class's images are shuffled and dealt round-robin, so fold sizes of a class
   differ by at most one; the run of fold *i* validates on fold *i* and trains on the other K − 1.

With no test set and no folds the split is the one kcnn has always made (old runs are reproduced).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kcnn.errors import DataError

if TYPE_CHECKING:
    from kcnn.config import ExperimentConfig
    from kcnn.data.loading import ImageSet

#: Salts that give the test set and the folds their own random streams from one `split_seed`.
_TEST_STREAM = 1
_FOLD_STREAM = 2


@dataclass(frozen=True)
class Split:
    """Indices of the training, validation and test images."""

    train: np.ndarray
    """Indices of training images, sorted."""
    val: np.ndarray
    """Indices of validation images, sorted."""
    test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices of test images, sorted (empty without a test set)."""


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
    held, kept = _hold_out(
        labels, val_split, np.random.default_rng(split_seed), class_names, "a train/validation split"
    )
    return Split(train=kept, val=held)


def hold_out_test(
    labels: np.ndarray, test_split: float, split_seed: int = 0, class_names: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Set `test_split` of every class aside: ``(test indices, the other indices)``, both sorted.

    Each class gives ``round(n · test_split)`` images, at least one, and keeps at least two (one to
    train on, one to validate on).

    Raises:
        DataError: If a class has fewer than three images.
    """
    rng = np.random.default_rng([split_seed, _TEST_STREAM])
    return _hold_out(labels, test_split, rng, class_names, "a test set beside training and validation", keep=2)


def fold_numbers(
    labels: np.ndarray, folds: int, split_seed: int = 0, class_names: tuple[str, ...] | None = None
) -> np.ndarray:
    """The fold (0 … `folds` − 1) of every image: each class shuffled and dealt round-robin.

    Raises:
        DataError: If a class has fewer images than folds (a fold would have none of it).
    """
    rng = np.random.default_rng([split_seed, _FOLD_STREAM])
    numbers = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < folds:
            name = class_names[label] if class_names else str(label)
            raise DataError(
                f"Class {name!r} has {len(members)} image(s) outside the test set; {folds}-fold cross-validation needs "
                f"at least {folds} per class. Use fewer folds (`--folds {max(2, len(members))}`) or add images."
            )
        numbers[rng.permutation(members)] = np.arange(len(members)) % folds
    return numbers


def split_for(
    labels: np.ndarray,
    *,
    val_split: float = 0.2,
    split_seed: int = 0,
    test_split: float = 0.0,
    folds: int = 1,
    fold: int = 0,
    class_names: tuple[str, ...] | None = None,
) -> Split:
    """The training, validation and test images of one run (see the module's docstring for the order of cuts).

    Raises:
        DataError: If a class has too few images for the split asked for.
    """
    if test_split > 0:
        test, rest = hold_out_test(labels, test_split, split_seed, class_names)
    else:
        test, rest = np.zeros(0, dtype=np.int64), np.arange(len(labels))
    if folds > 1:
        numbers = fold_numbers(labels[rest], folds, split_seed, class_names)
        return Split(train=rest[numbers != fold], val=rest[numbers == fold], test=test)
    inner = stratified_split(labels[rest], val_split, split_seed, class_names)  # without a test set: rest = all
    return Split(train=rest[inner.train], val=rest[inner.val], test=test)


def split_dataset(data: ImageSet, config: ExperimentConfig) -> Split:
    """The split of `data` that `config` asks for; a folder with ``train/`` and ``val/`` keeps its own.

    Raises:
        DataError: If a class has too few images, or a pre-split folder is asked for a test set or folds.
    """
    if data.val_mask is None:
        return split_for(
            data.labels,
            val_split=config.val_split,
            split_seed=config.split_seed,
            test_split=config.test_split,
            folds=config.folds,
            fold=config.fold,
            class_names=data.class_names,
        )
    asked = [f"--test-split {config.test_split:g}"] if config.test_split > 0 else []
    asked += [f"--folds {config.folds}"] if config.folds > 1 else []
    if asked:
        raise DataError(
            f"{config.dataset} is split into train/ and val/ folders, which fix the validation images; "
            f"{' and '.join(asked)} need(s) one folder of class sub-folders. Merge train/ and val/, or drop the option."
        )
    return Split(train=np.flatnonzero(~data.val_mask), val=np.flatnonzero(data.val_mask))


def _hold_out(
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    class_names: tuple[str, ...] | None,
    purpose: str,
    keep: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """``(held, kept)`` indices: `fraction` of every class (at least one), keeping at least `keep` of each."""
    held: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < keep + 1:
            name = class_names[label] if class_names else str(label)
            raise DataError(
                f"Class {name!r} has {len(members)} image(s); {purpose} needs at least {keep + 1} per class. "
                "Add images to it or remove the class."
            )
        count = min(max(1, round(len(members) * fraction)), len(members) - keep)
        shuffled = rng.permutation(members)
        held.append(shuffled[:count])
        kept.append(shuffled[count:])
    return np.sort(np.concatenate(held)), np.sort(np.concatenate(kept))
