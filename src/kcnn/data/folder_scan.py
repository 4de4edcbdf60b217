"""Find the images of a folder dataset: ``PATH/<class>/<image>``, or ``PATH/train|val/<class>/<image>``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kcnn.errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
TRAIN_NAMES = ("train", "training")
VAL_NAMES = ("val", "valid", "validation")


@dataclass
class FolderScan:
    """The image files of a folder dataset, without decoding them."""

    root: Path
    class_names: tuple[str, ...]
    files: list[str] = field(default_factory=list)
    """Paths relative to `root`, sorted by class then name."""
    labels: list[int] = field(default_factory=list)
    is_val: list[bool] = field(default_factory=list)
    """For the pre-split layout: whether each file is a validation image."""
    presplit: bool = False
    hidden: int = 0
    """Hidden files and folders ignored."""
    non_images: list[str] = field(default_factory=list)
    """Files ignored because their extension is not an image format."""
    stamps: list[str] = field(default_factory=list)
    """Size and modification time of each file, read while scanning."""

    def fingerprint(self) -> str:
        """A hash of every file's path, size and modification time: any add, remove or edit changes it."""
        digest = hashlib.sha256(str(self.root.resolve()).encode())
        for relative, stamp in zip(self.files, self.stamps, strict=True):
            digest.update(f"{relative}\0{stamp}\n".encode())
        return digest.hexdigest()

    def counts(self) -> dict[str, int]:
        """Files per class."""
        result = dict.fromkeys(self.class_names, 0)
        for label in self.labels:
            result[self.class_names[label]] += 1
        return result


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_folder(path: str | os.PathLike[str]) -> FolderScan:
    """List a folder dataset's classes and image files.

    Class order is sorted by name, as Keras' ``image_dataset_from_directory`` does. Extensions match
    case-insensitively; hidden files and non-image files are ignored and counted.

    Raises:
        DataError: If the path is missing or a file, or the classes are unusable (none, one, or empty).
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"`--data {path}`: no such folder. Give a folder with one sub-folder per class.")
    if not root.is_dir():
        raise DataError(f"`--data {path}` is a file; give a folder with one sub-folder per class.")
    subfolders = {p.name.lower(): p for p in _visible_dirs(root)}
    train = next((subfolders[n] for n in TRAIN_NAMES if n in subfolders), None)
    val = next((subfolders[n] for n in VAL_NAMES if n in subfolders), None)
    if train is not None and val is not None:
        return _scan_presplit(root, train, val)
    scan = FolderScan(root=root, class_names=tuple(p.name for p in _visible_dirs(root)))
    for label, name in enumerate(scan.class_names):
        _collect(scan, root / name, label, is_val=False)
    _check_classes(scan, path)
    return scan


def _scan_presplit(root: Path, train: Path, val: Path) -> FolderScan:
    names = sorted({p.name for p in _visible_dirs(train)} | {p.name for p in _visible_dirs(val)})
    scan = FolderScan(root=root, class_names=tuple(names), presplit=True)
    for label, name in enumerate(names):
        for folder, is_val in ((train / name, False), (val / name, True)):
            if folder.is_dir():
                _collect(scan, folder, label, is_val)
    _check_classes(scan, root)
    for label, name in enumerate(names):
        subset = [v for v, other in zip(scan.is_val, scan.labels, strict=True) if other == label]
        if not any(subset):
            raise DataError(f"Class {name!r} has no validation images in {val}; add some, or merge train and val.")
        if all(subset):
            raise DataError(f"Class {name!r} has no training images in {train}; add some.")
    return scan


def _collect(scan: FolderScan, folder: Path, label: int, is_val: bool) -> None:
    """Add every image under `folder` (depth first, sorted; plain strings and scandir: fast on big folders).

    Iterative (a stack of open folders), so any depth of nesting works, in the order a recursive walk
    gives; a folder reached twice (a symbolic-link loop, or two links to one folder) is read once and the
    repeat counted as ignored. Files whose metadata cannot be read (a dangling link) are kept: decoding
    reports them as unreadable, with the reason.
    """
    prefix = len(str(scan.root)) + 1
    seen: set[tuple[int, int]] = set()
    stack = [_entries(folder, seen)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        name = entry.name
        if name.startswith("."):
            scan.hidden += 1
        elif _is_folder(entry):
            entries = _entries(Path(entry.path), seen)
            if entries is _NOTHING:
                scan.hidden += 1  # a repeat through a link, or unreadable: ignored
            stack.append(entries)
        elif "." + name.rpartition(".")[2].lower() not in IMAGE_EXTENSIONS:
            scan.non_images.append(entry.path[prefix:])
        else:
            try:
                stat = entry.stat()
                stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
            except OSError:
                stamp = "unreadable"
            scan.files.append(entry.path[prefix:])
            scan.stamps.append(stamp)
            scan.labels.append(label)
            scan.is_val.append(is_val)


_NOTHING: Iterator[os.DirEntry[str]] = iter(())


def _entries(folder: Path, seen: set[tuple[int, int]]) -> Iterator[os.DirEntry[str]]:
    """The sorted entries of `folder`, or nothing if it was seen before or cannot be read."""
    try:
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen:
            return _NOTHING
        seen.add((info.st_dev, info.st_ino))
        with os.scandir(folder) as iterator:
            return iter(sorted(iterator, key=lambda entry: entry.name))
    except OSError:
        return _NOTHING


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a looping symbolic link
        return False


def _check_classes(scan: FolderScan, path: object) -> None:
    if not scan.class_names:
        raise DataError(f"`--data {path}` has no class sub-folders; put each class's images in its own folder.")
    if len(scan.class_names) == 1:
        raise DataError(
            f"`--data {path}` has one class ({scan.class_names[0]!r}); classification needs at least two class folders."
        )
    empty = [name for name, count in scan.counts().items() if count == 0]
    if empty:
        raise DataError(
            f"Class folder(s) {', '.join(map(repr, empty))} in {path} contain no images; add images or remove them."
        )
