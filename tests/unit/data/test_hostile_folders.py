"""Folders built to hurt: links that loop or dangle, a FIFO named like an image, deep nesting, a file
whose contents are another format than its extension. Each is listed, never followed forever, never
waited on, never handed to a decoder its extension does not name."""

import os

import pytest

from kcnn.data.folder_load import load_folder
from kcnn.data.folder_scan import scan_folder

from .conftest import pattern, save


def _two_classes(root, per_class=3):
    for name in ("cats", "dogs"):
        for index in range(per_class):
            save(root / name / f"{index}.png", pattern(seed=index))
    return root


def test_a_symlink_loop_inside_a_class_folder_is_read_once(tmp_path):
    root = _two_classes(tmp_path / "data")
    os.symlink("..", root / "cats" / "loop")  # cats/loop → data: cats and dogs again, forever
    scan = scan_folder(root)
    assert scan.counts()["cats"] >= 3 and len(scan.files) == len(set(scan.files))
    # Issue 23, case 23: the repeat was counted as "hidden"; it is a folder reached again through a link.
    assert scan.hidden == 0 and scan.repeated_folders >= 1


def test_dangling_links_fifos_and_wrong_contents_are_unreadable_with_reasons(tmp_path):
    root = _two_classes(tmp_path / "data")
    os.symlink(tmp_path / "gone.png", root / "cats" / "dangling.png")
    os.mkfifo(root / "dogs" / "pipe.png")  # opening it for reading would block forever
    (root / "dogs" / "evil.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    data = load_folder(str(root), 8, "rgb", skip_bad=True)
    reasons = dict(data.skipped)
    assert reasons == {
        "cats/dangling.png": "dangling or looping symbolic link",
        "dogs/evil.png": "not a PNG file (another format, or none Pillow can decode)",
        "dogs/pipe.png": "not a regular file (a FIFO, device or socket): never opened",
    }
    assert len(data.images) == 6


def test_eleven_hundred_nested_folders_are_walked_without_recursion(tmp_path):
    root = _two_classes(tmp_path / "data")
    deep = str(root / "cats")
    for _ in range(1100):  # os.mkdir one level at a time: makedirs and Path.mkdir(parents=True) recurse
        deep += "/d"
        os.mkdir(deep)
    pattern(seed=9).save(deep + "/bottom.png")
    try:
        scan = scan_folder(root)
        assert scan.counts()["cats"] == 4 and scan.files[-4].endswith("/bottom.png")
    finally:  # shutil.rmtree recurses too: take the tower down one level at a time
        os.remove(deep + "/bottom.png")
        while deep != str(root / "cats"):
            os.rmdir(deep)
            deep = deep[: -len("/d")]


def test_a_cache_folder_that_is_a_file_costs_speed_not_the_run(tmp_path, monkeypatch, capsys):
    root = _two_classes(tmp_path / "data")
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("KCNN_CACHE", str(blocker))
    data = load_folder(str(root), 8, "rgb")
    assert len(data.images) == 6
    error = capsys.readouterr().err
    assert error.startswith(f"kcnn: cannot write the decode cache in {blocker} (") and error.count("\n") == 1


@pytest.mark.slow
def test_a_killed_writers_half_cache_file_is_removed_by_the_next_writer(tmp_path, cache_in_tmp):
    import subprocess
    import sys

    root = _two_classes(tmp_path / "data")
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    cache_in_tmp.mkdir(parents=True)
    leftover = cache_in_tmp / f".0123456789abcdef01234567.{process.pid}.tmp"
    leftover.write_bytes(b"\0" * 1024)
    load_folder(str(root), 8, "rgb")
    assert not leftover.exists()


def test_a_camera_multi_picture_jpeg_decodes_and_text_named_jpg_is_not_a_jpeg(tmp_path):
    root = _two_classes(tmp_path / "data")
    first = pattern(seed=5)
    first.save(root / "cats" / "camera.jpg", "MPO", save_all=True, append_images=[pattern(seed=6)])
    (root / "dogs" / "notes.jpg").write_text("not a picture")
    data = load_folder(str(root), 8, "rgb", skip_bad=True)
    assert dict(data.skipped) == {"dogs/notes.jpg": "not a JPEG file (another format, or none Pillow can decode)"}
    assert len(data.images) == 7


def test_a_decompression_bomb_is_one_reason_not_a_warning(tmp_path, recwarn):
    """Issue 23, case 22: Pillow's raw DecompressionBombWarning was printed for a 10000×10000 image."""
    from PIL import Image

    from kcnn.data.decode import ImageTooLarge, describe_error, load_pixels

    path = tmp_path / "huge.png"
    Image.new("L", (9500, 9500)).save(path)
    with pytest.raises(ImageTooLarge) as raised:
        load_pixels(str(path), 32, "rgb", "stretch")
    reason = describe_error(str(path), raised.value)
    assert reason.startswith("too large to decode: 90,250,000 pixels, more than the 89,478,485 allowed")
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
