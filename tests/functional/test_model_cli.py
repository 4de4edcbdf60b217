"""`kcnn evaluate` and `kcnn predict` on a run trained on an image folder."""

import json

import numpy as np
import pytest
from PIL import Image

from kcnn.cli import main
from kcnn.store import Store

from .conftest import two_class_folder


@pytest.fixture
def trained(tmp_path, store_path, monkeypatch, capsys):
    """A folder of two learnable classes and one done run trained on it."""
    monkeypatch.setenv("KCNN_CACHE", str(tmp_path / "cache"))
    root = two_class_folder(tmp_path / "photos")
    argv = ["train", "--data", str(root), "--input-size", "16", "--channels", "4", "--dense-units", "8"]
    assert main([*argv, "--epochs", "3", "--device", "cpu", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    return root, run_id


def test_evaluate_reproduces_the_final_validation_accuracy_and_counts_every_image(
    trained, store_path, tmp_path, capsys
):
    _, run_id = trained
    assert main(["model", "evaluate", str(run_id), "--format", "json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    with Store(store_path) as store:
        run = store.get_run(run_id)
    assert evaluation["split"] == "val" and evaluation["accuracy"] == pytest.approx(run.final_val_accuracy, abs=1e-9)
    confusion = np.array(evaluation["confusion"])
    assert confusion.sum(axis=1).tolist() == [c["count"] for c in evaluation["classes"]] == [3, 3]
    assert main(["model", "evaluate", str(run_id), "--model", "best", "--format", "json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["model"] == "best-a1.keras" and best["accuracy"] == pytest.approx(run.best_val_accuracy, abs=1e-9)
    assert main(["model", "evaluate", str(run_id), "--split", "all", "--format", "json"]) == 0
    assert np.array(json.loads(capsys.readouterr().out)["confusion"]).sum() == 30
    png = tmp_path / "confusion.png"
    assert main(["model", "evaluate", str(run_id), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Confusion matrix" in out and "1 left" in out and "precision" in out and f"wrote {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_on_a_folder_with_other_classes_is_one_line(trained, tmp_path, capsys):
    _, run_id = trained
    other = tmp_path / "other"
    for name in ("left", "up"):
        (other / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(other / name / f"{i}.png")
    assert main(["model", "evaluate", str(run_id), "--data", str(other)]) == 2
    err = capsys.readouterr().err
    assert "missing 'right'" in err and "not trained on 'up'" in err and err.count("\n") == 1


def test_predict_streams_classes_and_lists_unreadable_files(trained, tmp_path, capsys):
    root, run_id = trained
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert (
        main(
            [
                "model",
                "predict",
                str(run_id),
                str(root / "left"),
                str(tmp_path / "broken.png"),
                "--classes",
                "2",
                "--format",
                "json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert len(lines) == 16
    good = [line for line in lines if "classes" in line]
    assert len(good) == 15 and all(len(line["classes"]) == 2 for line in good)
    assert {c["class"] for line in good for c in line["classes"]} == {"left", "right"}
    assert all(abs(sum(c["probability"] for c in line["classes"]) - 1) < 1e-5 for line in good)
    assert lines[-1]["error"].startswith("not a PNG file")
    assert "1 file(s) could not be read" in captured.err


@pytest.mark.parametrize("fmt", ["keras", "onnx"])
def test_export_model_writes_a_file_that_reproduces_the_model(trained, tmp_path, capsys, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    _, run_id = trained
    target = tmp_path / f"exported.{fmt}"
    assert main(["model", "export", str(run_id), "--output", str(target), "--to", fmt]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {target} ({fmt}, from model-a1.keras); loaded back, it matches the model on 8 images")
    assert target.stat().st_size > 0


def test_an_export_that_does_not_reproduce_the_model_is_refused_and_leaves_nothing(trained, tmp_path, capsys,
                                                                                   monkeypatch):  # fmt: skip
    from kcnn.inference import export as model_export

    _, run_id = trained
    monkeypatch.setattr(model_export, "TOLERANCE", -1.0)  # nothing can match: the check must refuse
    target = tmp_path / "exported.keras"
    assert main(["model", "export", str(run_id), "--output", str(target)]) == 2
    assert "does not reproduce its model" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir() if "export" in path.name) == []
    assert main(["model", "export", str(run_id), "--output", str(tmp_path / "missing" / "x.keras")]) == 2
    assert "does not exist or is not writable" in capsys.readouterr().err
