"""Resolve a dataset name (``builtin:NAME`` or a folder path) to uint8 image arrays at the size a config asks for."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from kcnn.data import builtin
from kcnn.errors import DataError

BUILTIN_PREFIX = "builtin:"
BUILTIN_DATASETS = ("shapes",)


@dataclass(frozen=True)
class ImageSet:
    """Images of one dataset at one size, with integer labels."""

    images: np.ndarray
    """uint8 array ``(N, size, size, channels)``; scaling to [0, 1] happens inside the model."""
    labels: np.ndarray
    """int64 array ``(N,)`` of class indices."""
    class_names: tuple[str, ...]
    """Class names, in label order."""
    val_mask: np.ndarray | None = None
    """For pre-split folders: True for validation images. `None`: split by `val_split`."""
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """Unreadable files left out (``--skip-bad``), with the reason."""
    color_mode: str = "rgb"
    """The colour mode the images were decoded in."""
    fingerprint: str = ""
    """The dataset's content fingerprint (a folder's paths, sizes and modification times)."""

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


def is_builtin(spec: str) -> bool:
    """Whether `spec` names a built-in dataset (``builtin:NAME``)."""
    return spec.startswith(BUILTIN_PREFIX)


def builtin_class_count(spec: str) -> int | None:
    """Classes of a built-in dataset (known without loading it); `None` for a folder."""
    return len(builtin.CLASSES) if spec == BUILTIN_PREFIX + "shapes" else None


def dataset_image_count(spec: str) -> int:
    """Images in a dataset, counted without decoding any (a folder's image files; a built-in's fixed count).

    Raises:
        DataError: If the dataset cannot be found.
    """
    if is_builtin(spec):
        locate_dataset(spec)
        return len(builtin.CLASSES) * builtin.DEFAULT_IMAGES_PER_CLASS
    from kcnn.data.folder_scan import scan_folder

    return len(scan_folder(spec).files)


def locate_dataset(spec: str) -> None:
    """Check that a dataset exists: a known built-in name, or a folder that can be listed.

    Raises:
        DataError: If the built-in dataset is unknown, or the folder is missing or unreadable.
    """
    if is_builtin(spec):
        name = spec[len(BUILTIN_PREFIX) :]
        if name not in BUILTIN_DATASETS:
            known = ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_DATASETS)
            raise DataError(f"Unknown dataset {spec!r}: built-in datasets are {known}; or give a folder path.")
        return
    from kcnn.data.folder_scan import scan_folder

    scan_folder(spec)


def check_dataset(spec: str, skip_bad: bool = False) -> None:
    """Check that a dataset can be found and its classes can train, without decoding it (fit for queue time).

    Unreadable files are found when the images are decoded (`load_dataset`, ``kcnn data info``).

    Args:
        spec: ``builtin:NAME`` or a folder path.
        skip_bad: Whether empty class folders may be left out.

    Raises:
        DataError: If the built-in dataset is unknown, or the folder is unusable; lists every problem.
    """
    if is_builtin(spec):
        locate_dataset(spec)
        return
    from kcnn.data.folder_scan import scan_folder
    from kcnn.data.problems import folder_problems, refusal

    scan = scan_folder(spec)
    problems = folder_problems(scan)
    error = refusal(spec, problems, skip_bad)
    if error is not None:
        raise error
    if skip_bad and len(scan.class_names) - sum(p.skippable for p in problems) < 2:
        raise DataError(f"{spec} has fewer than two class folders with images; classification needs at least two.")


def load_dataset(
    spec: str, input_size: int, color_mode: str = "auto", resize: str = "stretch", skip_bad: bool = False
) -> ImageSet:
    """Load a dataset and resize it.

    Args:
        spec: ``builtin:shapes``, or a folder with one sub-folder per class (or ``train/`` and ``val/``).
        input_size: Side of the square output images.
        color_mode: ``rgb``, ``grayscale`` or ``auto`` (what most files are). Defaults to ``auto``.
        resize: ``stretch``, ``crop`` or ``pad``. Defaults to ``stretch``.
        skip_bad: Leave unreadable files out instead of refusing to load. Defaults to `False`.

    Returns:
        The images, labels and class names.

    Raises:
        DataError: If the dataset is unknown or unusable, or has unreadable files and `skip_bad` is False.
    """
    if is_builtin(spec):
        locate_dataset(spec)
        mode = "rgb" if color_mode == "auto" else color_mode
        images, labels = _resized_shapes(input_size, mode)  # square images: every resize policy agrees
        return ImageSet(
            images=images, labels=labels, class_names=tuple(builtin.CLASSES), color_mode=mode, fingerprint=spec
        )
    from kcnn.data.folder_load import load_folder

    cached = load_folder(spec, input_size, color_mode, resize, skip_bad)
    return ImageSet(
        images=cached.images,
        labels=cached.labels,
        class_names=cached.class_names,
        val_mask=cached.is_val if cached.presplit else None,
        skipped=cached.skipped,
        color_mode=cached.color_mode,
        fingerprint=cached.fingerprint,
    )


def resolve_color_mode(spec: str, color_mode: str) -> str:
    """What ``auto`` colour mode means for dataset `spec` (built-in sets are RGB; a folder: most files' mode).

    Reads image headers only. Explicit modes are returned as given.

    Raises:
        DataError: If the dataset cannot be found.
    """
    if color_mode != "auto":
        return color_mode
    locate_dataset(spec)
    if is_builtin(spec):
        return "rgb"
    from kcnn.data.folder_load import majority_mode
    from kcnn.data.folder_scan import scan_folder

    return majority_mode(scan_folder(spec))


@functools.lru_cache(maxsize=1)
def _rendered_shapes() -> tuple[np.ndarray, np.ndarray]:
    """The 128×128 shapes, from the disk cache when a previous process drew them (2 s saved per process)."""
    path = _rendered_shapes_path()
    try:
        with np.load(path) as stored:
            return stored["images"], stored["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # missing or unreadable: draw them again and replace the file
    images, labels = builtin.generate_shapes(seed=0)
    with contextlib.suppress(OSError):  # a read-only or full cache folder only costs the drawing next time
        _write_atomically(path, images, labels)
    return images, labels


def _rendered_shapes_path() -> Path:
    """Cache file of the rendered shapes, named by a hash of the generator's source (a change redraws them)."""
    from kcnn.data.cache import cache_dir

    digest = hashlib.sha256(Path(builtin.__file__).read_bytes()).hexdigest()[:16]
    return cache_dir() / f"builtin-shapes-{digest}.npz"


def _write_atomically(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as file:
        try:
            np.savez(file, images=images, labels=labels)
            file.flush()
            os.fsync(file.fileno())
        except BaseException:
            os.unlink(file.name)
            raise
    os.replace(file.name, path)


@functools.lru_cache(maxsize=8)
def _resized_shapes(input_size: int, color_mode: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _rendered_shapes()
    resized = resize_images(images, input_size, color_mode)
    resized.flags.writeable = False
    return resized, labels


def resize_images(images: np.ndarray, size: int, color_mode: str) -> np.ndarray:
    """Resize square RGB uint8 images to ``size×size`` (antialiased bilinear) in a colour mode.

    Returns:
        uint8 ``(N, size, size, 1 or 3)``.
    """
    from kcnn.data.decode import fit, to_mode

    out = np.empty((len(images), size, size, 1 if color_mode == "grayscale" else 3), dtype=np.uint8)
    for index, pixels in enumerate(images):
        image = to_mode(Image.fromarray(pixels, "RGB"), color_mode)
        out[index] = np.asarray(fit(image, size, "stretch")).reshape(size, size, -1)
    return out
