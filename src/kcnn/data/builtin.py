"""`shapes`: a procedurally generated image dataset that needs no download.

Ten classes that differ by shape and texture (strokes, dots, rings, crosses,
fine and coarse stripes, triangles, squares, zigzags, checkers), drawn with
Pillow at random positions, scales, rotations and colours on a noisy, cluttered
background, at 128×128 pixels so that every `input_size` really resamples.
Colour carries no class information. Each image is drawn from its own seed
derived from ``(seed, class, index)``: the same seed gives identical bytes,
and asking for more images per class keeps the first ones unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

RENDER_SIZE = 128
DEFAULT_IMAGES_PER_CLASS = 80

Painter = Callable[[ImageDraw.ImageDraw, np.random.Generator, tuple[int, int, int]], None]


def _point(rng: np.random.Generator, margin: int = 8) -> tuple[float, float]:
    return (float(rng.uniform(margin, RENDER_SIZE - margin)), float(rng.uniform(margin, RENDER_SIZE - margin)))


def _rotated(points: list[tuple[float, float]], angle: float, center: tuple[float, float]) -> list[tuple[float, float]]:
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = center
    return [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos) for x, y in points]


def _strokes(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
    for _ in range(rng.integers(6, 10)):
        start = _point(rng)
        angle = rng.uniform(0, math.pi)
        length = rng.uniform(25, 60)
        end = (start[0] + length * math.cos(angle), start[1] + length * math.sin(angle))
        draw.line([start, end], fill=ink, width=int(rng.integers(3, 5)))


def _dots(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
    for _ in range(rng.integers(25, 50)):
        x, y = _point(rng, 4)
        radius = rng.uniform(1.5, 4)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=ink)


def _rings(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
    for _ in range(rng.integers(2, 4)):
        x, y = _point(rng, 24)
        radius = rng.uniform(14, 26)
        width = int(rng.integers(3, 5))
        while radius > 4:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=ink, width=width)
            radius -= rng.uniform(7, 10)


def _crosses(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
    for _ in range(rng.integers(5, 10)):
        center = _point(rng, 16)
        arm = rng.uniform(8, 16)
        angle = rng.uniform(0, math.pi / 2)
        width = int(rng.integers(3, 5))
        x, y = center
        for a, b in (((x - arm, y), (x + arm, y)), ((x, y - arm), (x, y + arm))):
            draw.line(_rotated([a, b], angle, center), fill=ink, width=width)


def _stripes(spacing: tuple[float, float]) -> Painter:
    def paint(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
        center = _point(rng, 30)
        half = rng.uniform(40, 60)
        gap = rng.uniform(*spacing)
        angle = rng.uniform(0, math.pi)
        width = int(rng.integers(3, 5))
        offset = -half
        while offset <= half:
            a, b = (center[0] - half, center[1] + offset), (center[0] + half, center[1] + offset)
            draw.line(_rotated([a, b], angle, center), fill=ink, width=width)
            offset += gap

    return paint


def _polygon(sides: int, filled: bool) -> Painter:
    def paint(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
        for _ in range(rng.integers(3, 6)):
            center = _point(rng, 22)
            radius = rng.uniform(12, 26)
            start = rng.uniform(0, 2 * math.pi)
            corners = [
                (
                    center[0] + radius * math.cos(start + 2 * math.pi * i / sides),
                    center[1] + radius * math.sin(start + 2 * math.pi * i / sides),
                )
                for i in range(sides)
            ]
            if filled:
                draw.polygon(corners, fill=ink)
            else:
                draw.line([*corners, corners[0]], fill=ink, width=int(rng.integers(3, 5)), joint="curve")

    return paint


def _zigzags(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
    for _ in range(rng.integers(3, 6)):
        center = _point(rng, 24)
        step, height = rng.uniform(6, 10), rng.uniform(12, 20)
        teeth = int(rng.integers(5, 10))
        left = center[0] - step * teeth / 2
        points = [(left + i * step, center[1] + (height if i % 2 else -height) / 2) for i in range(teeth + 1)]
        draw.line(_rotated(points, rng.uniform(0, math.pi), center), fill=ink, width=int(rng.integers(3, 5)))


def _checkers(draw: ImageDraw.ImageDraw, rng: np.random.Generator, ink: tuple[int, int, int]) -> None:
    center = _point(rng, 30)
    cell = rng.uniform(6, 11)
    cells = int(rng.integers(6, 11))
    angle = rng.uniform(0, math.pi / 2)
    origin = (center[0] - cell * cells / 2, center[1] - cell * cells / 2)
    for row in range(cells):
        for column in range(cells):
            if (row + column) % 2:
                continue
            x, y = origin[0] + column * cell, origin[1] + row * cell
            square = [(x, y), (x + cell, y), (x + cell, y + cell), (x, y + cell)]
            draw.polygon(_rotated(square, angle, center), fill=ink)


CLASSES: dict[str, Painter] = {
    "strokes": _strokes,
    "dots": _dots,
    "rings": _rings,
    "crosses": _crosses,
    "fine_stripes": _stripes((6.0, 8.0)),
    "coarse_stripes": _stripes((13.0, 18.0)),
    "triangles": _polygon(3, filled=True),
    "squares": _polygon(4, filled=False),
    "zigzags": _zigzags,
    "checkers": _checkers,
}


def _colors(rng: np.random.Generator) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A random dark background and a random bright ink: hue carries no class information."""
    background = rng.integers(0, 110, size=3)
    ink = rng.integers(150, 256, size=3)
    return (
        (int(background[0]), int(background[1]), int(background[2])),
        (int(ink[0]), int(ink[1]), int(ink[2])),
    )


def _clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    """Small distractors shared by every class: short lines and specks."""
    for _ in range(rng.integers(1, 4)):
        shade = tuple(int(v) for v in rng.integers(0, 256, size=3))
        x, y = _point(rng, 2)
        if rng.random() < 0.5:
            length, angle = rng.uniform(3, 10), rng.uniform(0, math.pi)
            draw.line([(x, y), (x + length * math.cos(angle), y + length * math.sin(angle))], fill=shade, width=2)
        else:
            radius = rng.uniform(1, 3)
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=shade)


def render_image(seed: int, label: int, index: int) -> np.ndarray:
    """Draw image `index` of class `label` for dataset seed `seed`.

    Returns:
        A ``(128, 128, 3)`` uint8 array.
    """
    rng = np.random.default_rng([seed, label, index])
    background, ink = _colors(rng)
    image = Image.new("RGB", (RENDER_SIZE, RENDER_SIZE), background)
    draw = ImageDraw.Draw(image)
    _clutter(draw, rng)
    list(CLASSES.values())[label](draw, rng, ink)
    pixels = np.asarray(image, dtype=np.float32)
    pixels += rng.normal(0.0, 8.0, size=pixels.shape).astype(np.float32)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def generate_shapes(seed: int = 0, images_per_class: int = DEFAULT_IMAGES_PER_CLASS) -> tuple[np.ndarray, np.ndarray]:
    """Render the whole `shapes` dataset.

    Args:
        seed: Dataset seed. Defaults to `0`.
        images_per_class: Images drawn per class. Defaults to `80`.

    Returns:
        ``(images, labels)``: uint8 ``(N, 128, 128, 3)`` and int64 ``(N,)``,
        ordered by class, then index.
    """
    images = [render_image(seed, label, index) for label in range(len(CLASSES)) for index in range(images_per_class)]
    labels = np.repeat(np.arange(len(CLASSES), dtype=np.int64), images_per_class)
    return np.stack(images), labels
