"""Load a folder dataset: scan, choose the colour mode, decode in parallel, report bad files, cache."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kcnn.data import decode
from kcnn.data.cache import CachedImages, cache_key, cache_path, read_cache, write_cache
from kcnn.data.digest import file_digests
from kcnn.data.folder_scan import FolderScan, scan_folder
from kcnn.data.problems import folder_problems, refusal
from kcnn.errors import DataError
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
            errors.append(decode.describe_error(path, error))
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

    Every problem of the folder (classes and unreadable files) is found before any is reported, so one
    refusal lists them all.

    Returns:
        The images, with the folder's content fingerprint (paths and a digest of every file's bytes).
        With `skip_bad`, `skipped` lists the unreadable files and the empty class folders left out.

    Raises:
        DataError: If the folder cannot be found or read.
        BadFilesError: If the folder has problems `skip_bad` does not allow to leave out; lists all of them.
    """
    scan = scan_folder(path)
    fingerprint = scan.fingerprint()
    # Keyed by the requested mode: with `auto`, the headers are read for the majority vote only when
    # the cache misses (the resolved mode is stored in the cache).
    cache_file = cache_path(cache_key(fingerprint, size, color_mode, policy))
    cached = read_cache(cache_file)
    if cached is not None and not _racy_files_unchanged(scan, cached, cache_file):
        cached = None
    if cached is None:
        racy = scan.racy_files()  # digested before decoding: an edit in between can only cost a rebuild
        racy_digests = tuple(zip(racy, file_digests([str(scan.root / r) for r in racy]), strict=True))
        mode = majority_mode(scan) if color_mode == "auto" else color_mode
        cached = dataclasses.replace(_build(scan, size, mode, policy), racy_digests=racy_digests)
        _write_cache_or_say_why(cache_file, cached)
    error = refusal(path, folder_problems(scan, cached.skipped), skip_bad)
    if error is not None:
        raise error
    return dataclasses.replace(_without_empty_classes(cached, path), fingerprint=fingerprint)


def _racy_files_unchanged(scan: FolderScan, cached: CachedImages, cache_file: Path) -> bool:
    """Whether the files that were racy when the cache entry was written still have the bytes it decoded.

    Once they match at a time when none of them is racy any more, no edit can keep their stamps again:
    a ``.verified`` marker beside the entry then spares every later load the digests (after
    ``unzip && kcnn train`` every file is racy, and digesting 2,000 of them costs more than the load).
    """
    if not cached.racy_digests:
        return True
    marker = cache_file.with_suffix(".verified")
    if marker.exists():
        return True
    files, digests = zip(*cached.racy_digests, strict=True)
    if list(digests) != file_digests([str(scan.root / relative) for relative in files]):
        return False
    if not set(files) & set(scan.racy_files()):
        with contextlib.suppress(OSError):  # a read-only cache folder only costs the digests next time
            marker.touch()
    return True


def _without_empty_classes(data: CachedImages, path: str) -> CachedImages:
    """`data` less the classes with no readable image (only ever reached with ``--skip-bad``), relabelled."""
    present = sorted(set(data.labels.tolist()))
    if len(present) == len(data.class_names):
        return data
    if len(present) < 2:
        raise DataError(
            f"{path} has {len(present)} class(es) with readable images once empty ones are left out; "
            "classification needs at least two."
        )
    relabel = np.full(len(data.class_names), -1, dtype=np.int64)
    relabel[present] = np.arange(len(present))
    left_out = tuple(
        (f"{name}/", "class folder without readable images: left out of the class list")
        for label, name in enumerate(data.class_names)
        if label not in present
    )
    return dataclasses.replace(
        data,
        labels=relabel[data.labels],
        class_names=tuple(data.class_names[label] for label in present),
        skipped=data.skipped + left_out,
    )


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
