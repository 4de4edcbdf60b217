"""The HDF5 cache of decoded, resized folder datasets: decode once per folder content and settings.

A cache file is written under a temporary name, flushed, fsynced and renamed:
a killed process or a full disk leaves at worst a stray temporary file, which
is never read. A file is used only if it carries the ``complete`` mark.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

CACHE_VERSION = 1


def cache_dir() -> Path:
    """``$KCNN_CACHE``, else ``$XDG_CACHE_HOME/kcnn``, else ``~/.cache/kcnn``."""
    if os.environ.get("KCNN_CACHE"):
        return Path(os.environ["KCNN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kcnn"


@dataclass(frozen=True)
class CachedImages:
    """One decoded dataset, as stored in the cache."""

    images: np.ndarray
    labels: np.ndarray
    is_val: np.ndarray
    class_names: tuple[str, ...]
    files: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    """Bad files left out, with the reason."""
    color_mode: str
    root: str
    presplit: bool
    fingerprint: str = ""
    """The folder's content fingerprint (not stored: it is the cache file's key)."""
    racy_digests: tuple[tuple[str, str], ...] = ()
    """``(file, digest)`` of the files changed just before the entry was written: checked on every read."""


def cache_key(fingerprint: str, size: int, color_mode: str, policy: str) -> str:
    """The cache file name stem for one folder content and decoding settings."""
    text = f"{CACHE_VERSION}\0{fingerprint}\0{size}\0{color_mode}\0{policy}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cache_path(key: str) -> Path:
    """Where the cache file of `key` lives."""
    return cache_dir() / f"{key}.h5"


def read_cache(path: Path) -> CachedImages | None:
    """The cached dataset at `path`, or `None` if it is missing, incomplete or unreadable."""
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as handle:
            if not handle.attrs.get("complete", False):
                return None
            meta = json.loads(handle.attrs["meta"])
            return CachedImages(
                images=handle["images"][()],
                labels=handle["labels"][()],
                is_val=handle["is_val"][()].astype(bool),
                class_names=tuple(meta["class_names"]),
                files=tuple(meta["files"]),
                skipped=tuple((p, r) for p, r in meta["skipped"]),
                color_mode=meta["color_mode"],
                root=meta["root"],
                presplit=meta["presplit"],
                racy_digests=tuple((p, d) for p, d in meta.get("racy_digests", [])),
            )
    except (OSError, KeyError, ValueError):
        return None


def write_cache(path: Path, data: CachedImages) -> None:
    """Write `data` atomically to `path` (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
    try:
        with h5py.File(temporary, "w") as handle:
            handle.create_dataset("images", data=data.images)
            handle.create_dataset("labels", data=data.labels)
            handle.create_dataset("is_val", data=data.is_val.astype(np.uint8))
            meta = {
                "class_names": list(data.class_names),
                "files": list(data.files),
                "skipped": list(data.skipped),
                "color_mode": data.color_mode,
                "root": data.root,
                "presplit": data.presplit,
                "shape": list(data.images.shape),
                "racy_digests": list(data.racy_digests),
            }
            handle.attrs["meta"] = json.dumps(meta)
            handle.attrs["complete"] = True
            handle.flush()
        with open(temporary, "rb") as raw:
            os.fsync(raw.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def cache_entries(root: Path | None = None) -> list[tuple[Path, dict[str, object]]]:
    """Complete cache files (optionally only those of folder `root`) with their metadata."""
    entries: list[tuple[Path, dict[str, object]]] = []
    folder = cache_dir()
    if not folder.is_dir():
        return entries
    wanted = str(root.resolve()) if root is not None else None
    for path in sorted(folder.glob("*.h5")):
        try:
            with h5py.File(path, "r") as handle:
                if not handle.attrs.get("complete", False):
                    continue
                meta = json.loads(handle.attrs["meta"])
        except (OSError, KeyError, ValueError):
            continue
        if wanted is None or meta.get("root") == wanted:
            entries.append((path, meta))
    return entries
