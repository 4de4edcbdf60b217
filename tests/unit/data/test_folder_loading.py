import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from kcnn.data import load_dataset
from kcnn.data.cache import cache_entries, read_cache
from kcnn.data.decode import load_pixels, to_mode
from kcnn.data.folder_load import load_folder
from kcnn.data.folder_scan import scan_folder
from kcnn.errors import BadFilesError, DataError

from .conftest import pattern, save


def test_scan_sorts_classes_matches_extensions_and_counts_ignored(folder):
    scan = scan_folder(folder)
    assert scan.class_names == ("cats", "dogs")
    assert scan.counts() == {"cats": 11, "dogs": 11}
    assert "cats/upper.JPG" in scan.files
    assert scan.hidden == 2 and sorted(scan.non_images) == ["cats/notes.txt", "dogs/notes.txt"]


def test_every_format_and_mode_decodes_to_the_requested_shape(folder):
    data = load_dataset(str(folder), 24, "rgb")
    assert data.images.shape == (22, 24, 24, 3) and data.images.dtype == np.uint8
    assert data.class_names == ("cats", "dogs") and data.val_mask is None and not data.skipped
    gray = load_dataset(str(folder), 16, "grayscale")
    assert gray.images.shape == (22, 16, 16, 1)


def test_alpha_is_composited_on_white_and_palette_transparency_too(tmp_path):
    clear = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert np.asarray(to_mode(clear, "rgb")).tolist()[0][0] == [255, 255, 255]
    half = Image.new("RGBA", (8, 8), (0, 0, 0, 128))
    assert np.asarray(to_mode(half, "rgb"))[0, 0, 0] == 127
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([10, 20, 30] * 256)
    palette.info["transparency"] = 0
    assert np.asarray(to_mode(palette, "rgb")).tolist()[0][0] == [255, 255, 255]


def test_sixteen_bit_and_cmyk(tmp_path):
    sixteen = Image.fromarray(np.full((6, 6), 65535, dtype=np.uint16))
    path = save(tmp_path / "deep.png", sixteen)
    assert Image.open(path).mode.startswith("I")
    assert load_pixels(str(path), 6, "grayscale", "stretch").max() == 255
    cmyk = save(tmp_path / "c.jpg", Image.new("CMYK", (8, 8), (0, 0, 0, 0)))
    assert load_pixels(str(cmyk), 8, "rgb", "stretch").min() > 240  # no ink: white


def test_gif_first_frame(tmp_path):
    frames = [Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 255)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert load_pixels(str(path), 8, "grayscale", "stretch").max() == 0


@pytest.mark.parametrize(
    ("policy", "corner"),
    [("stretch", 0), ("crop", 0), ("pad", 255)],
)
def test_resize_policies(tmp_path, policy, corner):
    wide = Image.new("L", (40, 20), 0)
    path = save(tmp_path / "wide.png", wide)
    pixels = load_pixels(str(path), 10, "grayscale", policy)
    assert pixels.shape == (10, 10, 1)
    assert pixels[0, 0, 0] == corner  # letterbox bars are white; stretch and crop fill the square
    assert pixels[5, 5, 0] == 0


def test_color_mode_auto_follows_the_majority(tmp_path):
    root = tmp_path / "gray"
    for name in ("a", "b"):
        for i in range(3):
            save(root / name / f"{i}.png", pattern(seed=i, mode="L"))
        save(root / name / "color.png", pattern(seed=9))
    assert load_dataset(str(root), 8).images.shape[-1] == 1
    assert load_dataset(str(root), 8).color_mode == "grayscale"


def test_presplit_layout(tmp_path):
    root = tmp_path / "split"
    for subset, count in (("train", 3), ("val", 2)):
        for name in ("a", "b"):
            for i in range(count):
                save(root / subset / name / f"{i}.png", pattern(seed=i))
    data = load_dataset(str(root), 8)
    assert data.val_mask is not None and int(data.val_mask.sum()) == 4
    assert sorted(data.labels[data.val_mask].tolist()) == [0, 0, 1, 1]


def test_presplit_class_without_validation_images(tmp_path):
    root = tmp_path / "split"
    save(root / "train" / "a" / "0.png", pattern())
    save(root / "train" / "b" / "0.png", pattern())
    save(root / "val" / "a" / "0.png", pattern())
    with pytest.raises(BadFilesError) as caught:
        load_folder(str(root), 8)
    assert caught.value.bad == [
        (
            "val/b/",
            "class 'b' has no validation images; every class of a train/val folder needs both "
            "(--skip-bad never changes its class list)",
        )
    ]


def _bad_folder(tmp_path):
    root = tmp_path / "bad"
    for name in ("a", "b"):
        for i in range(3):
            save(root / name / f"{i}.png", pattern(seed=i))
    good = (root / "a" / "0.png").read_bytes()
    (root / "a" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "a" / "empty.jpg").write_bytes(b"")
    (root / "b" / "garbage.png").write_bytes(b"this is not a png at all" * 10)
    jpeg = save(tmp_path / "x.jpg", pattern(size=(64, 64)), quality=95).read_bytes()
    (root / "b" / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    return root


def test_bad_files_are_refused_with_their_reasons(tmp_path):
    root = _bad_folder(tmp_path)
    with pytest.raises(BadFilesError) as caught:
        load_folder(str(root), 8)
    assert dict(caught.value.bad) == {
        "a/empty.jpg": "empty file (0 bytes)",
        "a/truncated.png": "truncated image",
        "b/cut.jpg": "truncated image",
        "b/garbage.png": "not a PNG file (another format, or none Pillow can decode)",
    }
    assert str(caught.value).startswith("4 file(s) in ")
    assert str(caught.value).endswith("or pass --skip-bad to train without them.")


def test_skip_bad_trains_without_them_and_lists_them(tmp_path):
    data = load_dataset(str(_bad_folder(tmp_path)), 8, skip_bad=True)
    assert len(data.images) == 6 and len(data.skipped) == 4


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: None, "no such folder"),
        (lambda root: root.parent.mkdir(parents=True, exist_ok=True) or root.write_text("x"), "is a file"),
        (lambda root: root.mkdir(parents=True), "no class sub-folders"),
        (lambda root: save(root / "only" / "0.png", pattern()), "the only class folder"),
        (lambda root: (save(root / "a" / "0.png", pattern()), (root / "b").mkdir()), "empty class folder"),
    ],
)
def test_unusable_folders_are_one_line_errors(tmp_path, make, message):
    root = tmp_path / "x" / "data"
    make(root)
    with pytest.raises(DataError) as caught:
        load_dataset(str(root), 8)
    assert "\n" not in str(caught.value)
    listed = " ".join(what for _, what in getattr(caught.value, "bad", [])) + str(caught.value)
    assert message in listed


def test_cache_is_reused_and_invalidated_by_add_modify_remove(folder, cache_in_tmp):
    first = load_folder(str(folder), 12, "rgb")
    [(path, _)] = cache_entries(folder)
    mtime = path.stat().st_mtime_ns
    again = load_folder(str(folder), 12, "rgb")
    assert np.array_equal(first.images, again.images) and path.stat().st_mtime_ns == mtime
    assert len(cache_entries(folder)) == 1

    save(folder / "cats" / "new.png", pattern(seed=123))
    assert len(load_folder(str(folder), 12, "rgb").images) == 23
    target = folder / "dogs" / "rgb0.png"
    time.sleep(0.01)
    save(target, pattern(seed=321))
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    modified = load_folder(str(folder), 12, "rgb")
    (folder / "cats" / "rgb1.png").unlink()
    removed = load_folder(str(folder), 12, "rgb")
    assert len(removed.images) == 22
    assert len(cache_entries(folder)) == 4  # one entry per distinct folder content
    assert not np.array_equal(modified.images, removed.images)


def test_other_settings_get_their_own_cache_entry(folder):
    load_folder(str(folder), 12, "rgb")
    load_folder(str(folder), 12, "grayscale")
    load_folder(str(folder), 12, "rgb", "pad")
    assert len(cache_entries(folder)) == 3


def test_an_incomplete_cache_file_is_never_used(folder, cache_in_tmp):
    load_folder(str(folder), 12, "rgb")
    [(path, _)] = cache_entries(folder)
    path.write_bytes(path.read_bytes()[:500])  # a torn file under the final name
    assert read_cache(path) is None
    assert load_folder(str(folder), 12, "rgb").images.shape == (22, 12, 12, 3)


@pytest.mark.slow
def test_killed_while_writing_the_cache_next_load_rebuilds(folder, cache_in_tmp):
    script = textwrap.dedent(
        f"""
        import os, sys, time
        os.environ["KCNN_CACHE"] = {str(cache_in_tmp)!r}
        import kcnn.data.cache as cache
        real_replace = os.replace
        def stuck(*args):  # the temporary file is written; the process dies before the rename
            print("writing", flush=True)
            time.sleep(60)
        cache.os.replace = stuck
        from kcnn.data.folder_load import load_folder
        load_folder({str(folder)!r}, 12, "rgb")
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    leftovers = list(cache_in_tmp.glob(".*.tmp"))
    assert leftovers and not list(cache_in_tmp.glob("*.h5"))
    data = load_folder(str(folder), 12, "rgb")
    assert data.images.shape == (22, 12, 12, 3)
    assert len(cache_entries(folder)) == 1
