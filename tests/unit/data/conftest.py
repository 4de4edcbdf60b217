import numpy as np
import pytest
from PIL import Image


def save(path, image, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def pattern(size=(40, 30), seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB").convert(mode)


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def folder(tmp_path):
    """Two classes in many formats and modes, plus files that must be ignored."""
    root = tmp_path / "data"
    for label, name in enumerate(("cats", "dogs")):
        base = root / name
        for i in range(4):
            save(base / f"rgb{i}.png", pattern(seed=10 * label + i))
        save(base / "upper.JPG", pattern(seed=label + 50), quality=90)
        save(base / "bitmap.bmp", pattern(seed=label + 60))
        save(base / "palette.gif", pattern(seed=label + 70, mode="P"))
        save(base / "tiff.tiff", pattern(seed=label + 80))
        save(base / "web.webp", pattern(seed=label + 90))
        save(base / "alpha.png", pattern(seed=label + 100, mode="RGBA"))
        save(base / "cmyk.jpg", pattern(seed=label + 110, mode="CMYK"))
        (base / ".DS_Store").write_bytes(b"junk")
        (base / "notes.txt").write_text("not an image")
    return root
