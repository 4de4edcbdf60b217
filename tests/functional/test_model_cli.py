"""`kcnn evaluate` and `kcnn predict` on a run trained on an image folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert "does not exist; create it first" in capsys.readouterr().err


def _set_model_column(store_path, run_id, value):
    import sqlite3

    connection = sqlite3.connect(store_path / "kcnn.sqlite")
    connection.execute("UPDATE runs SET model = ? WHERE id = ?", (value, run_id))
    connection.commit()
    connection.close()


@pytest.mark.parametrize("stored", ["/etc/passwd", "../../../etc/passwd"])
@pytest.mark.parametrize("command", [["model", "evaluate"], ["model", "predict"], ["model", "export"]])
def test_every_model_read_refuses_a_path_outside_the_runs_folder(trained, store_path, tmp_path, capsys, stored,
                                                                 command):  # fmt: skip
    """Issue 23, case 6: an absolute path was followed (8 s, then a Keras traceback); `../..` said "no final model"."""
    root, run_id = trained
    _set_model_column(store_path, run_id, stored)
    extra = {"predict": [str(root)], "export": ["--output", str(tmp_path / "m.keras")]}.get(command[1], [])
    assert main([*command, str(run_id), *extra]) == 2
    err = capsys.readouterr().err
    assert f"model path {stored!r} points outside its folder" in err and err.count("\n") == 1


def test_a_damaged_model_file_or_a_missing_folder_is_named_for_what_it_is(trained, store_path, capsys):
    """Issue 23, case 9: a truncated file said "File not found"; a deleted folder said "has no final model"."""
    import shutil

    _, run_id = trained
    folder = store_path / "artifacts" / str(run_id)
    model = folder / "model-a1.keras"
    model.write_bytes(model.read_bytes()[:3000])
    assert main(["model", "evaluate", str(run_id)]) == 2
    assert "is damaged: not a whole .keras archive (truncated or overwritten)" in capsys.readouterr().err
    shutil.rmtree(folder)
    assert main(["model", "evaluate", str(run_id)]) == 2
    assert "artifacts folder" in (err := capsys.readouterr().err) and "is missing (moved or deleted)" in err


def test_export_checks_its_output_before_loading_and_takes_the_format_from_the_suffix(trained, tmp_path, capsys):
    """Issue 23, case 10: a folder failed after 8 s with IsADirectoryError; `x.onnx` got a Keras zip."""
    _, run_id = trained
    assert main(["model", "export", str(run_id), "--output", str(tmp_path)]) == 2
    assert f"`--output {tmp_path}` is a folder; name a file in it" in capsys.readouterr().err
    assert main(["model", "export", str(run_id), "--output", str(tmp_path / "x.onnx"), "--to", "keras"]) == 2
    assert "names an ONNX file, but the export is keras; name it x.keras" in capsys.readouterr().err
    assert main(["model", "export", str(run_id), "--output", str(tmp_path / "plain")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'plain.keras'} (keras,")


def test_png_outputs_are_checked_before_any_work_and_the_path_written_is_the_one_said(trained, tmp_path, capsys):
    """Issue 23, case 11: `--png DIR` wrote DIR.png; a read-only folder failed late; a missing one was made."""
    pytest.importorskip("matplotlib")
    _, run_id = trained
    assert main(["model", "evaluate", str(run_id), "--png", str(tmp_path)]) == 2
    assert "is a folder; name a file in it" in capsys.readouterr().err
    assert main(["plot", "runs", "--by", "kernel", "--png", "/nonexistent/p.png"]) == 2
    assert "the folder '/nonexistent' does not exist" in capsys.readouterr().err
    assert not Path("/nonexistent").exists()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # root writes anywhere: the permission case only means something as a user
        assert main(["run", "curves", str(run_id), "--png", str(locked / "c.png")]) == 2
        assert "cannot be written" in capsys.readouterr().err
    assert main(["run", "curves", str(run_id), "--png", str(tmp_path / "curves")]) == 0
    assert f"wrote {tmp_path / 'curves.png'}" in capsys.readouterr().out and (tmp_path / "curves.png").is_file()


def test_a_model_whose_layers_were_edited_is_refused_not_scored(trained, store_path, capsys):
    """Issue 23, case 22: relu edited to softmax evaluated at 10% with no word about it."""
    from kcnn.training.backend import import_keras

    keras = import_keras()
    _, run_id = trained
    path = store_path / "artifacts" / str(run_id) / "model-a1.keras"
    model = keras.saving.load_model(path)
    model.get_layer("conv1").activation = keras.activations.get("softmax")
    model.save(path)
    assert main(["model", "evaluate", str(run_id)]) == 2
    err = capsys.readouterr().err
    assert "is not the network its config describes (conv1 has activation softmax, the config says relu)" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["model", "evaluate", "1", "--data", "/nonexistent"],
        ["model", "evaluate", "1", "--split", "test"],
        ["model", "export", "1", "--output", "/"],
        ["model", "evaluate", "1", "--png", "/nonexistent/x.png"],
        ["model", "evaluate", "7"],
    ],
)
def test_refusals_that_need_no_model_do_not_import_keras(trained, store_path, argv):
    """Issue 23, slow refusals: each took 7.5-8 s because Keras was imported before the cheap checks."""
    script = (
        "import sys\nfrom kcnn.cli import main\n"
        f"code = main({argv!r} + ['--store', {str(store_path)!r}])\n"
        "print(code, 'keras' in sys.modules, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "False", "False"], result.stdout + result.stderr
