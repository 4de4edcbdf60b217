"""Decode one image file into uint8 pixels of a fixed size and colour mode.

Every Pillow format is accepted (PNG, JPEG, BMP, GIF — first frame —, TIFF,
WebP, …). Palette and alpha images are converted properly (alpha composited
on white), CMYK through Pillow's conversion, 16-bit and 32-bit images scaled
to 8 bits. Truncated files are errors: nothing is ever padded silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps

ImageFile.LOAD_TRUNCATED_IMAGES = False
RESIZE_POLICIES = ("stretch", "crop", "pad")
BACKGROUND = (255, 255, 255)


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
        with Image.open(path) as image:
            size, mode = image.size, image.mode
            image.load()
        return Probe(size[0], size[1], mode)
    except Exception as error:
        return Probe(0, 0, "", _reason(path, error))


def _reason(path: str, error: Exception) -> str:
    if os.path.getsize(path) == 0:
        return "empty file (0 bytes)"
    text = str(error)
    if "truncated" in text:
        return "truncated image"
    if isinstance(error, Image.UnidentifiedImageError):
        return "not an image Pillow can decode"
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
    with Image.open(path) as image:
        if image.format == "JPEG" and min(image.size) >= 2 * size:
            image.draft("L" if color_mode == "grayscale" else "RGB", (size, size))
        image.load()
        converted = to_mode(image, color_mode)
    pixels = np.asarray(fit(converted, size, policy), dtype=np.uint8)
    return pixels.reshape(size, size, 1 if color_mode == "grayscale" else 3)
