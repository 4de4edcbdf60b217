"""Datasets as numpy arrays: built-in generated images, resizing and splits."""

from __future__ import annotations

from kcnn.data.loading import (
    ImageSet,
    builtin_class_count,
    check_dataset,
    load_dataset,
    locate_dataset,
    resolve_color_mode,
)
from kcnn.data.splits import Split, stratified_split

__all__ = [
    "ImageSet",
    "Split",
    "builtin_class_count",
    "check_dataset",
    "load_dataset",
    "locate_dataset",
    "resolve_color_mode",
    "stratified_split",
]
