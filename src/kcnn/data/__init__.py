"""Datasets as numpy arrays: built-in generated images, resizing, splits, test sets and folds."""

from __future__ import annotations

from kcnn.data.loading import (
    ImageSet,
    builtin_class_count,
    check_dataset,
    load_dataset,
    locate_dataset,
    resolve_color_mode,
)
from kcnn.data.splits import Split, fold_numbers, hold_out_test, split_dataset, split_for, stratified_split

__all__ = [
    "ImageSet",
    "Split",
    "builtin_class_count",
    "check_dataset",
    "fold_numbers",
    "hold_out_test",
    "load_dataset",
    "locate_dataset",
    "resolve_color_mode",
    "split_dataset",
    "split_for",
    "stratified_split",
]
