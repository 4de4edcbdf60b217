"""Load a folder dataset: scan, choose the colour mode, decode in parallel, report bad files, cache."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kcnn.data import decode
from kcnn.data.cache import CachedImages, cache_key, cache_path, read_cache, write_cache
from kcnn.data.folder_scan import FolderScan, scan_folder
from kcnn.errors import BadFilesError, DataError
from kcnn.files import remove_stale_temporaries

#: Below this many files, decoding in one process beats starting a pool.
PARALLEL_THRESHOLD = 256


def majority_mode(scan: FolderScan) -> str:
    """``grayscale`` if most files have no colour channels (read from headers only), else ``rgb``."""
    modes: Counter[str] = Counter()
    for relative in scan.files:
        try:
            with decode.open_image(str(scan.root / relative)) as image:
                grayscale = decode.Probe(image.width, image.height, image.mode).is_grayscale
        except Exception:
            continue
        modes["grayscale" if grayscale else "rgb"] += 1
    return "grayscale" if modes["grayscale"] > modes["rgb"] else "rgb"


def _decode_chunk(paths: list[str], size: int, color_mode: str, policy: str) -> tuple[np.ndarray, list[str | None]]:
    channels = 1 if color_mode == "grayscale" else 3
    out = np.zeros((len(paths), size, size, channels), dtype=np.uint8)
    errors: list[str | None] = []
    for index, path in enumerate(paths):
        try:
            out[index] = decode.load_pixels(path, size, color_mode, policy)
            errors.append(None)
        except Exception as error:
            errors.append(decode._reason(path, error))
    return out, errors


def _decode_all(paths: list[str], size: int, color_mode: str, policy: str) -> tuple[np.ndarray, list[str | None]]:
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_THRESHOLD or workers < 2:
        return _decode_chunk(paths, size, color_mode, policy)
    chunk = -(-len(paths) // (workers * 4))
    parts = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
    # Threads, not processes: Pillow releases the GIL while it decodes and resizes, and a thread pool
    # needs no `if __name__ == "__main__"` guard in the user's script.
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda part: _decode_chunk(part, size, color_mode, policy), parts))
    return np.concatenate([r[0] for r in results]), [e for r in results for e in r[1]]


def load_folder(path: str, size: int, color_mode: str = "auto", policy: str = "stretch",
                skip_bad: bool = False) -> CachedImages:  # fmt: skip
    """Decode a folder dataset at `size`, from the cache when its content and settings are unchanged.

    Returns:
        The images, with the folder's content fingerprint (paths, sizes and modification times).

    Raises:
        DataError: For an unusable folder.
        BadFilesError: If files cannot be decoded and `skip_bad` is False.
    """
    scan = scan_folder(path)
    fingerprint = scan.fingerprint()
    # Keyed by the requested mode: with `auto`, the headers are read for the majority vote only when
    # the cache misses (the resolved mode is stored in the cache).
    cache_file = cache_path(cache_key(fingerprint, size, color_mode, policy))
    cached = read_cache(cache_file)
    if cached is None:
        mode = majority_mode(scan) if color_mode == "auto" else color_mode
        cached = _build(scan, size, mode, policy)
        _write_cache_or_say_why(cache_file, cached)
    if cached.skipped and not skip_bad:
        raise BadFilesError(
            f"{len(cached.skipped)} file(s) in {path} cannot be read (listed above); fix or remove them, or pass "
            "--skip-bad to train without them.",
            cached.skipped,
        )
    return dataclasses.replace(cached, fingerprint=fingerprint)


def _write_cache_or_say_why(cache_file: Path, cached: CachedImages) -> None:
    """Cache the decoded images; a cache folder that is a file, unwritable or full costs speed, not the run."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(cache_file.parent)  # a killed writer's half-written file (can be 100 MB)
        write_cache(cache_file, cached)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        print(
            f"kcnn: cannot write the decode cache in {cache_file.parent} ({reason}); continuing without it "
            "(set KCNN_CACHE to a writable folder to decode once).",
            file=sys.stderr,
            flush=True,
        )


def _build(scan: FolderScan, size: int, mode: str, policy: str) -> CachedImages:
    full_paths = [str(scan.root / relative) for relative in scan.files]
    images, errors = _decode_all(full_paths, size, mode, policy)
    keep = np.array([error is None for error in errors], dtype=bool)
    skipped = tuple((relative, error) for relative, error in zip(scan.files, errors, strict=True) if error)
    labels = np.asarray(scan.labels, dtype=np.int64)[keep]
    left = Counter(labels.tolist())
    emptied = [name for label, name in enumerate(scan.class_names) if not left.get(label)]
    if emptied:
        raise DataError(f"Every image of class(es) {', '.join(map(repr, emptied))} is unreadable; fix the files.")
    return CachedImages(
        images=images[keep],
        labels=labels,
        is_val=np.asarray(scan.is_val, dtype=bool)[keep],
        class_names=scan.class_names,
        files=tuple(f for f, k in zip(scan.files, keep, strict=True) if k),
        skipped=skipped,
        color_mode=mode,
        root=str(Path(scan.root).resolve()),
        presplit=scan.presplit,
    )
