"""Find the images of a folder dataset: ``PATH/<class>/<image>``, or ``PATH/train|val/<class>/<image>``."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kcnn.errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
TRAIN_NAMES = ("train", "training")
VAL_NAMES = ("val", "valid", "validation")
#: Files whose status changed this close before a scan are "racy": a further edit in the same clock tick
#: could keep every stamp. Two seconds covers coarse kernel clocks and a network file server's skew.
RACY_WINDOW_NS = 2_000_000_000


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
    repeated_folders: int = 0
    """Folders reached again through a symbolic link (a loop, or two links to one folder): read once."""
    unreadable_folders: int = 0
    """Folders that could not be listed (no permission): ignored."""
    non_images: list[str] = field(default_factory=list)
    """Files ignored because their extension is not an image format."""
    subsets: tuple[str, str] = ("", "")
    """For the pre-split layout: the names of its training and validation folders."""
    loose_images: int = 0
    """Image files directly in the folder, outside any class folder (never used)."""
    stamps: list[str] = field(default_factory=list)
    """Size, modification time, change time and inode of each file, read while scanning."""
    changed_ns: list[int] = field(default_factory=list)
    """Each file's status-change time (ctime) in nanoseconds; -1 when it cannot be read."""
    started_ns: int = field(default_factory=time.time_ns)
    """When the scan started (before any file's status was read)."""

    def fingerprint(self) -> str:
        """A hash of the folder and every file's path, size, times and inode: any add, remove or edit changes it.

        The change time is what makes an edit that keeps the size and restores the modification time
        count: the kernel sets it on every write and every time change, and nobody can set it back. The
        one blind spot, a second edit within the same clock tick as a scanned one, is what
        `racy_files` finds.
        """
        digest = hashlib.sha256(str(self.root.resolve()).encode())
        for relative, stamp in zip(self.files, self.stamps, strict=True):
            digest.update(f"{relative}\0{stamp}\n".encode())
        return digest.hexdigest()

    def racy_files(self, window_ns: int = RACY_WINDOW_NS) -> list[str]:
        """Files changed so shortly before the scan that a further edit could keep every stamp (as in git).

        Their contents are digested when a cache entry is written and checked whenever it is read.
        """
        since = self.started_ns - window_ns
        return [relative for relative, changed in zip(self.files, self.changed_ns, strict=True) if changed >= since]

    def counts(self) -> dict[str, int]:
        """Files per class."""
        result = dict.fromkeys(self.class_names, 0)
        for label in self.labels:
            result[self.class_names[label]] += 1
        return result


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _loose_images(folder: Path) -> int:
    """Image files directly in `folder` (a common mistake: images not yet sorted into class folders)."""
    return sum(
        1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir() and p.name[:1] != "."
    )


def scan_folder(path: str | os.PathLike[str]) -> FolderScan:
    """List a folder dataset's classes and image files, whatever is wrong with them.

    Class order is sorted by name, as Keras' ``image_dataset_from_directory`` does. Extensions match
    case-insensitively; hidden files and non-image files are ignored and counted. Problems with the
    classes (none, one, empty) are not raised here: `kcnn.data.problems.folder_problems` lists them all.

    Raises:
        DataError: If the path is missing, not a folder, or cannot be listed.
    """
    root = Path(path).expanduser()
    try:
        info = root.stat()
    except OSError as error:
        if not os.path.lexists(root):
            raise DataError(f"`--data {path}`: no such folder. Give a folder with one sub-folder per class.") from None
        raise DataError(f"`--data {path}` cannot be read ({error.strerror}); check the path.") from None
    if not stat.S_ISDIR(info.st_mode):
        raise DataError(f"`--data {path}` is a file; give a folder with one sub-folder per class.")
    try:
        folders = _visible_dirs(root)
        loose = _loose_images(root)
    except OSError as error:
        raise DataError(f"`--data {path}` cannot be listed ({error.strerror}); check its permissions.") from None
    subfolders = {p.name.lower(): p for p in folders}
    train = next((subfolders[n] for n in TRAIN_NAMES if n in subfolders), None)
    val = next((subfolders[n] for n in VAL_NAMES if n in subfolders), None)
    if train is not None and val is not None:
        scan = _scan_presplit(root, train, val)
    else:
        scan = FolderScan(root=root, class_names=tuple(p.name for p in folders))
        for label, name in enumerate(scan.class_names):
            _collect(scan, root / name, label, is_val=False)
    scan.loose_images = loose
    return scan


def _scan_presplit(root: Path, train: Path, val: Path) -> FolderScan:
    names = sorted({p.name for p in _visible_dirs(train)} | {p.name for p in _visible_dirs(val)})
    scan = FolderScan(root=root, class_names=tuple(names), presplit=True, subsets=(train.name, val.name))
    for label, name in enumerate(names):
        for folder, is_val in ((train / name, False), (val / name, True)):
            if folder.is_dir():
                _collect(scan, folder, label, is_val)
    return scan


def _collect(scan: FolderScan, folder: Path, label: int, is_val: bool) -> None:
    """Add every image under `folder` (depth first, sorted; plain strings and scandir: fast on big folders).

    Iterative (a stack of open folders), so any depth of nesting works, in the order a recursive walk
    gives; a folder reached twice (a symbolic-link loop, or two links to one folder) is read once and the
    repeat counted (`FolderScan.repeated_folders`). Files whose metadata cannot be read (a dangling link) are
    kept: decoding reports them as unreadable, with the reason.
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
            if entries is _SEEN:
                scan.repeated_folders += 1
            elif entries is _NOTHING:
                scan.unreadable_folders += 1
            stack.append(entries)
        elif "." + name.rpartition(".")[2].lower() not in IMAGE_EXTENSIONS:
            scan.non_images.append(entry.path[prefix:])
        else:
            try:
                info = entry.stat()
                stamp, changed = f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}", info.st_ctime_ns
            except OSError:
                stamp, changed = "unreadable", -1
            scan.files.append(entry.path[prefix:])
            scan.stamps.append(stamp)
            scan.changed_ns.append(changed)
            scan.labels.append(label)
            scan.is_val.append(is_val)


_NOTHING: Iterator[os.DirEntry[str]] = iter(())
_SEEN: Iterator[os.DirEntry[str]] = iter(())


def _entries(folder: Path, seen: set[tuple[int, int]]) -> Iterator[os.DirEntry[str]]:
    """The sorted entries of `folder`; `_SEEN` if it was read before, `_NOTHING` if it cannot be read."""
    try:
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen:
            return _SEEN
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
