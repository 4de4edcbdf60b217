"""A folder with several problems at once: every one is found before any is reported."""

import os

import numpy as np
import pytest

from kcnn.data import check_dataset, load_dataset
from kcnn.data.folder_load import load_folder
from kcnn.data.report import folder_report
from kcnn.errors import BadFilesError, DataError

from .conftest import pattern, save


def _troubled(root):
    """Three classes with images, one empty class folder, two unreadable files, one loose image."""
    for name in ("cats", "dogs", "owls"):
        for index in range(3):
            save(root / name / f"{index}.png", pattern(seed=index))
    (root / "empty").mkdir()
    (root / "cats" / "zero.png").write_bytes(b"")
    (root / "dogs" / "text.jpg").write_text("not a jpeg")
    save(root / "loose.png", pattern())
    return root


def test_training_refuses_with_every_problem_in_one_list(tmp_path):
    root = _troubled(tmp_path / "data")
    with pytest.raises(BadFilesError) as caught:
        load_folder(str(root), 8, "rgb")
    assert caught.value.bad == [
        ("empty/", "empty class folder (no images); add images or remove it"),
        ("cats/zero.png", "empty file (0 bytes)"),
        ("dogs/text.jpg", "not a JPEG file (another format, or none Pillow can decode)"),
    ]
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{root} has 3 problem(s), listed above: 1 with its classes, 2 unreadable file(s);")
    assert "--skip-bad trains without unreadable files and empty class folders" in message


def test_skip_bad_leaves_out_the_empty_class_and_the_bad_files_and_says_so(tmp_path):
    data = load_dataset(str(_troubled(tmp_path / "data")), 8, "rgb", skip_bad=True)
    assert data.class_names == ("cats", "dogs", "owls")
    assert sorted(set(data.labels.tolist())) == [0, 1, 2] and len(data.images) == 9
    assert dict(data.skipped) == {
        "cats/zero.png": "empty file (0 bytes)",
        "dogs/text.jpg": "not a JPEG file (another format, or none Pillow can decode)",
        "empty/": "class folder without readable images: left out of the class list",
    }


def test_a_class_whose_every_image_is_unreadable_is_left_out_with_skip_bad_and_relabelled(tmp_path):
    root = tmp_path / "data"
    for name in ("a", "c"):
        for index in range(2):
            save(root / name / f"{index}.png", pattern(seed=index))
    save(root / "b" / "bad.png", pattern()).write_bytes(b"broken")
    with pytest.raises(BadFilesError) as caught:
        load_folder(str(root), 8, "rgb")
    assert ("b/", "every image of this class is unreadable") in caught.value.bad
    data = load_folder(str(root), 8, "rgb", skip_bad=True)
    assert data.class_names == ("a", "c") and np.array_equal(np.bincount(data.labels), [2, 2])


def test_skip_bad_never_changes_the_class_list_of_a_train_val_folder(tmp_path):
    root = tmp_path / "split"
    for subset in ("train", "val"):
        for name in ("a", "b"):
            save(root / subset / name / "0.png", pattern())
    (root / "val" / "c").mkdir()
    save(root / "train" / "c" / "0.png", pattern()).write_bytes(b"")
    with pytest.raises(BadFilesError) as caught:
        load_folder(str(root), 8, "rgb", skip_bad=True)
    assert [where for where, _ in caught.value.bad] == ["train/c/", "val/c/"]
    assert "(--skip-bad cannot skip these)" in str(caught.value)
    with pytest.raises(BadFilesError):
        check_dataset(str(root), skip_bad=True)  # queue time: no training image of 'c' is not skippable


def test_data_info_never_refuses_a_listable_folder_and_lists_every_problem(tmp_path):
    report = folder_report(str(_troubled(tmp_path / "data")))
    assert report["classes"]["empty"] == {"train": 0, "val": 0, "unreadable": 0}
    assert report["classes"]["cats"] == {"train": 4, "val": 0, "unreadable": 1}
    assert [(p["where"], p["skip_bad_skips"]) for p in report["problems"]] == [
        ("empty/", True),
        ("cats/zero.png", True),
        ("dogs/text.jpg", True),
    ]
    assert report["loose_images_ignored"] == 1

    nothing = tmp_path / "flat"
    save(nothing / "a.png", pattern())
    [problem] = folder_report(str(nothing))["problems"]
    assert problem["where"] == "."
    assert problem["what"].startswith("no class sub-folders (1 image(s) lie directly in it)")


def test_queue_time_check_lists_structure_and_lets_skip_bad_drop_empty_classes(tmp_path):
    root = _troubled(tmp_path / "data")
    with pytest.raises(BadFilesError) as caught:
        check_dataset(str(root))
    assert caught.value.bad == [("empty/", "empty class folder (no images); add images or remove it")]
    check_dataset(str(root), skip_bad=True)
    for name in ("dogs", "owls"):
        for file in (root / name).iterdir():
            file.unlink()
    with pytest.raises(DataError, match="fewer than two class folders with images"):
        check_dataset(str(root), skip_bad=True)


def test_an_edit_that_keeps_size_and_modification_time_changes_the_cache_key(tmp_path):
    root = tmp_path / "data"
    for name in ("a", "b"):
        for index in range(2):
            save(root / name / f"{index}.bmp", pattern(seed=index))  # BMP: same size for any pixels
    target = root / "a" / "0.bmp"
    before = load_folder(str(root), 8, "rgb")
    stamp = target.stat()
    save(target, pattern(seed=99))
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert target.stat().st_size == stamp.st_size and target.stat().st_mtime_ns == stamp.st_mtime_ns
    after = load_folder(str(root), 8, "rgb")
    assert after.fingerprint != before.fingerprint
    assert not np.array_equal(after.images[0], before.images[0])


def test_a_file_changed_within_the_clock_tick_of_the_scan_is_checked_by_its_bytes(tmp_path, monkeypatch):
    from kcnn.data.folder_scan import FolderScan

    root = tmp_path / "data"
    for name in ("a", "b"):
        for index in range(2):
            save(root / name / f"{index}.bmp", pattern(seed=index))
    # A file system whose clock never ticks: every stamp stays equal whatever the edits.
    monkeypatch.setattr(FolderScan, "fingerprint", lambda self: "-".join(self.files))
    before = load_folder(str(root), 8, "rgb")
    save(root / "a" / "0.bmp", pattern(seed=99))
    after = load_folder(str(root), 8, "rgb")
    assert not np.array_equal(after.images[0], before.images[0])
    assert np.array_equal(load_folder(str(root), 8, "rgb").images, after.images)


def test_racy_files_are_digested_only_until_they_have_aged_past_the_window(tmp_path, cache_in_tmp, monkeypatch):
    from kcnn.data import folder_load
    from kcnn.data.folder_scan import FolderScan

    root = tmp_path / "data"
    for name in ("a", "b"):
        for index in range(2):
            save(root / name / f"{index}.png", pattern(seed=index))
    load_folder(str(root), 8, "rgb")  # just written: every file is racy, its digest stored
    load_folder(str(root), 8, "rgb")  # still within the window: checked, not yet marked
    assert not list(cache_in_tmp.glob("*.verified"))
    monkeypatch.setattr(FolderScan, "racy_files", lambda self, window_ns=0: [])  # time has passed
    load_folder(str(root), 8, "rgb")  # checked once more, now past the window: marked
    assert len(list(cache_in_tmp.glob("*.verified"))) == 1

    def no_more_digests(paths):
        raise AssertionError("digested again")

    monkeypatch.setattr(folder_load, "file_digests", no_more_digests)
    assert len(load_folder(str(root), 8, "rgb").images) == 4
