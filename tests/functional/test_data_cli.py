import json

import numpy as np
import pytest
from PIL import Image

from kcnn.cli import main
from kcnn.store import Store


@pytest.fixture
def images(tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for label, name in enumerate(("left", "right")):
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 60, size=(40, 48, 3), dtype=np.uint8)
            pixels[:, : 24 if label == 0 else 48, :] += 150 if label == 0 else 0  # a learnable difference
            Image.fromarray(pixels).save(root / name / f"{i}.jpg")
    (root / "left" / "broken.jpg").write_bytes(b"")
    return root


def test_data_info_reports_classes_sizes_modes_and_bad_files(images, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["data", "info", str(images)]) == 0
    out = capsys.readouterr().out
    assert "left" in out and "48×40 (24)" in out and "RGB (24)" in out and "left/broken.jpg" in out
    assert main(["data", "info", str(images), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["classes"] == {
        "left": {"train": 13, "val": 0, "unreadable": 1},
        "right": {"train": 12, "val": 0, "unreadable": 0},
    }
    assert report["unreadable"] == [["left/broken.jpg", "empty file (0 bytes)"]]
    assert main(["data", "info", str(images / "nope")]) == 2


def test_train_refuses_bad_files_then_skips_and_records_them(images, store_path, capsys):
    argv = [
        "train",
        "--data",
        str(images),
        "--input-size",
        "16",
        "--kernel",
        "2",
        "--dilation",
        "2",
        "--channels",
        "4",
        "--dense-units",
        "8",
        "--epochs",
        "2",
        "--device",
        "cpu",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "left/broken.jpg" in err and "empty file (0 bytes)" in err
    assert err.strip().endswith("or pass --skip-bad to train without them.")
    with Store(store_path) as store:
        assert store.list_runs() == []  # refused before any run was created
    assert main([*argv, "--skip-bad", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["skipped_files"] == [["left/broken.jpg", "empty file (0 bytes)"]]
    assert result["num_train"] + result["num_val"] == 24
    with Store(store_path) as store:
        events = store.events(result["run_id"])
    assert any(e["kind"] == "skipped_files" and "left/broken.jpg" in e["message"] for e in events)


def test_queue_checks_the_folder_at_queue_time(tmp_path, store_path, capsys):
    assert main(["queue", "add", "--data", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_a_folder_with_several_problems_data_info_lists_all_and_train_refuses_with_all(
    images, store_path, capsys, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "250")
    (images / "empty").mkdir()
    (images / "right" / "fake.png").write_text("text")
    assert main(["data", "info", str(images)]) == 0  # a diagnostic: lists, never refuses
    out = capsys.readouterr().out
    for shown in ("empty/", "empty class folder", "left/broken.jpg", "right/fake.png", "0 (empty)", "problems"):
        assert shown in out, shown
    argv = ["train", "--data", str(images), "--input-size", "16", "--channels", "4", "--dense-units", "8"]
    argv += ["--epochs", "1", "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for shown in ("empty/", "left/broken.jpg", "right/fake.png", "3 problem(s)"):
        assert shown in err, shown
    assert main(["queue", "add", "--data", str(images)]) == 2  # queue time: the empty class, without decoding
    assert "empty class folder" in capsys.readouterr().err
    assert main([*argv, "--skip-bad"]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 unreadable file(s) and 1 empty class folder(s)" in err
    with Store(store_path) as store:
        [run] = store.list_runs()
    assert run.state == "done"
