"""What kcnn sees in an image folder (`kcnn data info`): classes, counts, sizes, modes, every problem, cache."""

from __future__ import annotations

from collections import Counter
from typing import Any, TypedDict

from kcnn.data.cache import cache_entries
from kcnn.data.decode import probe
from kcnn.data.folder_load import majority_mode
from kcnn.data.folder_scan import scan_folder
from kcnn.data.problems import folder_problems


class ClassCounts(TypedDict):
    """A class folder's images: for training, for validation (presplit folders), and unreadable."""

    train: int
    val: int
    unreadable: int


class ProblemEntry(TypedDict):
    """One problem of a folder: where, what, and whether ``--skip-bad`` leaves it out."""

    where: str
    what: str
    skip_bad_skips: bool


class CacheEntry(TypedDict):
    """One decode-cache file of the folder: its array shape, colour mode and the files it skipped."""

    file: str
    shape: list[int]
    color_mode: str
    skipped: int


class FolderReport(TypedDict):
    """What kcnn sees in an image folder (JSON-ready)."""

    path: str
    layout: str
    presplit: bool
    classes: dict[str, ClassCounts]
    images: int
    sizes: dict[str, int]
    modes: dict[str, int]
    default_color_mode: str
    hidden_ignored: int
    repeated_folders_ignored: int
    unreadable_folders_ignored: int
    non_images_ignored: list[str]
    loose_images_ignored: int
    unreadable: list[tuple[str, str]]
    problems: list[ProblemEntry]
    cache_entries: list[CacheEntry]


def folder_report(path: str) -> FolderReport:
    """Scan and probe every file of a folder dataset; a JSON-ready report that never refuses a listable folder.

    Raises:
        DataError: If the folder is missing or cannot be listed.
    """
    scan = scan_folder(path)
    probes = [probe(str(scan.root / relative)) for relative in scan.files]
    bad = [(relative, p.error) for relative, p in zip(scan.files, probes, strict=True) if p.error]
    good = [p for p in probes if not p.error]
    sizes = Counter(f"{p.width}×{p.height}" for p in good)
    modes = Counter(p.mode for p in good)
    entries = cache_entries(scan.root)
    per_class = {name: ClassCounts(train=0, val=0, unreadable=0) for name in scan.class_names}
    unreadable = {relative for relative, _ in bad}
    for relative, label, is_val in zip(scan.files, scan.labels, scan.is_val, strict=True):
        counts = per_class[scan.class_names[label]]
        if is_val:
            counts["val"] += 1
        else:
            counts["train"] += 1
        counts["unreadable"] += relative in unreadable
    problems = folder_problems(scan, bad)
    return {
        "path": str(scan.root),
        "layout": "train/val folders" if scan.presplit else "one folder per class",
        "presplit": scan.presplit,
        "classes": per_class,
        "images": len(scan.files),
        "sizes": dict(sizes.most_common()),
        "modes": dict(modes.most_common()),
        "default_color_mode": majority_mode(scan),
        "hidden_ignored": scan.hidden,
        "repeated_folders_ignored": scan.repeated_folders,
        "unreadable_folders_ignored": scan.unreadable_folders,
        "non_images_ignored": scan.non_images,
        "loose_images_ignored": scan.loose_images,
        "unreadable": bad,
        "problems": [ProblemEntry(where=p.where, what=p.what, skip_bad_skips=p.skippable) for p in problems],
        "cache_entries": [_cache_entry(path, meta) for path, meta in entries],
    }  # fmt: skip


def _cache_entry(path: Any, meta: dict[str, Any]) -> CacheEntry:
    skipped = meta.get("skipped", [])
    return CacheEntry(file=str(path), shape=list(meta["shape"]), color_mode=str(meta["color_mode"]),
                      skipped=len(skipped) if isinstance(skipped, list) else 0)  # fmt: skip
