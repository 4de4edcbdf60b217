"""Decode one image file into uint8 pixels of a fixed size and colour mode.

The formats are those the file's extension names (PNG, JPEG, BMP, GIF — first frame —,
TIFF, WebP, PPM/PGM/PBM): Pillow is told which, so a PostScript file named ``x.png`` is
refused instead of handed to Ghostscript. Only regular files are opened: a FIFO named
``x.png`` is reported, never waited on. Palette and alpha images are converted properly (alpha composited
on white), CMYK through Pillow's conversion, 16-bit and 32-bit images scaled
to 8 bits. Truncated files are errors: nothing is ever padded silently.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps

ImageFile.LOAD_TRUNCATED_IMAGES = False
RESIZE_POLICIES = ("stretch", "crop", "pad")
BACKGROUND = (255, 255, 255)
#: The Pillow formats each image extension may hold (Pillow's JPEG opener also returns the multi-picture
#: JPEGs of cameras, MPO, which has no opener of its own: naming it would fail with a KeyError).
FORMATS_BY_EXTENSION: dict[str, tuple[str, ...]] = {
    ".png": ("PNG",), ".jpg": ("JPEG",), ".jpeg": ("JPEG",), ".jpe": ("JPEG",),
    ".bmp": ("BMP",), ".gif": ("GIF",), ".tif": ("TIFF",), ".tiff": ("TIFF",), ".webp": ("WEBP",),
    ".ppm": ("PPM",), ".pgm": ("PPM",), ".pbm": ("PPM",), ".pnm": ("PPM",),
}  # fmt: skip


class ImageTooLarge(OSError):
    """An image with more pixels than Pillow's decompression-bomb limit: refused before it is decoded."""


def open_image(path: str) -> Image.Image:
    """Open `path` with Pillow, allowing only the formats its extension names, and only if it is a regular file.

    Raises:
        OSError: For a missing file, a dangling or looping symbolic link, or something that is not a
            regular file (a FIFO, a device, a socket).
        ImageTooLarge: For more pixels than Pillow's decompression-bomb limit (one line, no warning).
        PIL.UnidentifiedImageError: If the contents are not one of the extension's formats.
    """
    info = os.stat(path)  # follows symbolic links: a dangling or looping one raises here
    if not stat.S_ISREG(info.st_mode):
        raise OSError("not a regular file (a FIFO, device or socket): never opened")
    formats = FORMATS_BY_EXTENSION.get(os.path.splitext(path)[1].lower())
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path, formats=list(formats) if formats else None)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            pixels = re.search(r"\((\d+) pixels\)", str(error))
            size = f"{int(pixels.group(1)):,} pixels" if pixels else "too many pixels"
            raise ImageTooLarge(
                f"too large to decode: {size}, more than the {Image.MAX_IMAGE_PIXELS:,} allowed (Pillow's "
                "decompression-bomb limit); shrink the image first"
            ) from None


@dataclass(frozen=True)
class Probe:
    """What a file is, read from its header and a full decode."""

    width: int
    height: int
    mode: str
    error: str | None = None

    @property
    def is_grayscale(self) -> bool:
        """Whether the file has no colour channels (modes 1, L, LA, I, I;16 and F; palettes count as colour)."""
        return self.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def probe(path: str) -> Probe:
    """Open and fully decode `path` to find its size and mode, or why it cannot be read."""
    try:
        with open_image(path) as image:
            size, mode = image.size, image.mode
            image.load()
        return Probe(size[0], size[1], mode)
    except Exception as error:
        return Probe(0, 0, "", describe_error(path, error))


def describe_error(path: str, error: Exception) -> str:
    """Why `path` could not be decoded, in a few words."""
    text = str(error)
    if os.path.islink(path) and not os.path.exists(path):
        return "dangling or looping symbolic link"
    if "not a regular file" in text or isinstance(error, ImageTooLarge):
        return text
    try:
        size = os.path.getsize(path)
    except OSError:
        return f"{type(error).__name__}: {text}"
    if size == 0:
        return "empty file (0 bytes)"
    if "truncated" in text:
        return "truncated image"
    if isinstance(error, Image.UnidentifiedImageError):
        expected = "/".join(FORMATS_BY_EXTENSION.get(os.path.splitext(path)[1].lower(), ("image",)))
        return f"not a {expected} file (another format, or none Pillow can decode)"
    return f"{type(error).__name__}: {text}"


def _to_eight_bit(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or pixels.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(pixels / high * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return image


def to_mode(image: Image.Image, color_mode: str) -> Image.Image:
    """Convert any Pillow image to ``L`` (grayscale) or ``RGB``, compositing transparency on white."""
    image = _to_eight_bit(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "RGB" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        image = Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("L" if color_mode == "grayscale" else "RGB")


def fit(image: Image.Image, size: int, policy: str) -> Image.Image:
    """Resize to ``size×size``: ``stretch`` (ignore aspect), ``crop`` (centre square) or ``pad`` (letterbox)."""
    if policy == "crop":
        return ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR)
    if policy == "pad":
        fill = 255 if image.mode == "L" else BACKGROUND
        return ImageOps.pad(image, (size, size), Image.Resampling.BILINEAR, color=fill)
    return image.resize((size, size), Image.Resampling.BILINEAR)


def load_pixels(path: str, size: int, color_mode: str, policy: str) -> np.ndarray:
    """Decode `path` to uint8 ``(size, size, 1 or 3)``.

    JPEGs much larger than `size` are decoded at a reduced scale first (Pillow's draft mode), which is
    several times faster and visually equivalent after the resize.

    Raises:
        OSError: If the file is truncated or cannot be decoded.
    """
    with open_image(path) as image:
        if image.format == "JPEG" and min(image.size) >= 2 * size:
            image.draft("L" if color_mode == "grayscale" else "RGB", (size, size))
        image.load()
        converted = to_mode(image, color_mode)
    pixels = np.asarray(fit(converted, size, policy), dtype=np.uint8)
    return pixels.reshape(size, size, 1 if color_mode == "grayscale" else 3)
