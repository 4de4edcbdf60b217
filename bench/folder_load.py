"""First load (decode + resize) versus cached load of an image folder.

Usage: python bench/folder_load.py [IMAGES] [REPEATS]
Builds IMAGES JPEGs of 256×256 in 10 classes (default 2,000), then measures, side by side in one run:
the first load with an empty cache (decode and resize to 90×90 on every core, then write the HDF5 cache),
the same decode in one process, and the cached load. Targets: cached ≥ 50× faster than the first load,
and under 0.2 s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_folder(root: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    for index in range(count):
        folder = root / f"class{index % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        noise = rng.integers(0, 40, size=(64, 64, 3), dtype=np.uint8)
        image = Image.fromarray(base + noise).resize((256, 256), Image.Resampling.BICUBIC)
        image.save(folder / f"{index}.jpg", quality=90)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as folder:
        root, cache = Path(folder) / "images", Path(folder) / "cache"
        make_folder(root, count)
        os.environ["KCNN_CACHE"] = str(cache)
        import kcnn.data.folder_load as imagefolder
        from kcnn.data.folder_load import load_folder

        first, single, cached = [], [], []
        for _ in range(repeats):
            shutil.rmtree(cache, ignore_errors=True)
            start = time.perf_counter()
            load_folder(str(root), 90, "rgb")
            first.append(time.perf_counter() - start)

            shutil.rmtree(cache, ignore_errors=True)
            threshold = imagefolder.PARALLEL_THRESHOLD
            imagefolder.PARALLEL_THRESHOLD = 10**9  # force one process
            start = time.perf_counter()
            load_folder(str(root), 90, "rgb")
            single.append(time.perf_counter() - start)
            imagefolder.PARALLEL_THRESHOLD = threshold

            start = time.perf_counter()
            data = load_folder(str(root), 90, "rgb")
            cached.append(time.perf_counter() - start)
        assert data.images.shape == (count, 90, 90, 3)
        f, s, c = statistics.median(first), statistics.median(single), statistics.median(cached)
        print(f"{count} JPEGs 256×256 → 90×90 RGB, median of {repeats}, {os.cpu_count()} cores:")
        print(f"  first load, all cores (decode + resize + write cache)  {f:.3f} s")
        print(f"  first load, one process                                {s:.3f} s  ({s / f:.2f}× the parallel time)")
        print(f"  cached load                                            {c:.3f} s  (target < 0.2 s)")
        print(f"  cached speed-up over the first load                   {f / c:.0f}×  (target ≥ 50×)")


if __name__ == "__main__":
    main()
