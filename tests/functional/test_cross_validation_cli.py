"""`--folds K` and `--test-split F` end to end: training every fold, a test set nothing is chosen on, reports."""

import json

import numpy as np
import pytest
from PIL import Image

from kcnn.cli import main
from kcnn.store import Store

from .conftest import two_class_folder

TINY = ["--input-size", "16", "--channels", "4", "--dense-units", "8", "--device", "cpu"]


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """A folder of two learnable classes, 15 images each."""
    monkeypatch.setenv("KCNN_CACHE", str(tmp_path / "cache"))
    return two_class_folder(tmp_path / "photos")


@pytest.mark.slow
def test_train_with_folds_trains_every_fold_and_reports_the_corrected_mean(photos, store_path, capsys):
    argv = ["train", "--data", str(photos), *TINY, "--epochs", "2", "--folds", "3", "--test-split", "0.2"]
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["folds"] == 3 and [run["config"]["fold"] for run in summary["runs"]] == [0, 1, 2]
    assert all(run["num_test"] == 6 for run in summary["runs"])  # round(15 · 0.2) = 3 per class
    assert sum(run["num_val"] for run in summary["runs"]) == 24  # the 30 − 6 non-test images, each validated once
    best = [run["best_val_accuracy"] for run in summary["runs"]]
    assert summary["best_val_accuracy"]["mean"] == pytest.approx(np.mean(best))
    with Store(store_path) as store:
        runs = store.runs()
    assert [run.fold for run in runs] == [0, 1, 2] and len({run.config_key for run in runs}) == 1
    for run, reported in zip(runs, summary["runs"], strict=True):
        assert run.test_accuracy == reported["test_accuracy"] and run.best_test_accuracy is not None

    # The test set is evaluated exactly as recorded, for the final and the best epoch's model.
    for model, column in (("final", "test_accuracy"), ("best", "best_test_accuracy")):
        assert (
            main(["model", "evaluate", str(runs[1].id), "--split", "test", "--model", model, "--format", "json"]) == 0
        )
        evaluation = json.loads(capsys.readouterr().out)
        assert evaluation["images"] == 6
        assert evaluation["accuracy"] == pytest.approx(getattr(runs[1], column), abs=1e-12)
    assert main(["model", "evaluate", str(runs[1].id), "--split", "val", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(runs[1].final_val_accuracy, abs=1e-12)

    # The leaderboard counts the folds and shows the winner's test accuracy beside its validation accuracy.
    assert main(["leaderboard", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["configs"]
    assert (row["n"], row["folds"], row["test_n"]) == (3, 3, 3)
    assert row["test_mean"] == pytest.approx(np.mean([run.best_test_accuracy for run in runs]))
    assert main(["leaderboard"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # captions wrap
    assert "3 (3-fold)" in out and "the optimism of choosing on validation images" in out

    assert main(["run", "show", str(runs[2].id)]) == 0
    shown = capsys.readouterr().out
    assert "test acc (best / final)" in shown and "2 of 3 (validates on fold 2" in shown


def test_train_one_fold_only(photos, store_path, capsys):
    argv = ["train", "--data", str(photos), *TINY, "--epochs", "1", "--folds", "3", "--fold", "2", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["fold"] == 2 and result["num_val"] == 10
    assert main(["train", "--data", str(photos), *TINY, "--epochs", "1", "--fold", "1"]) == 2
    assert "`--fold 1` needs cross-validation: add `--folds K`" in capsys.readouterr().err


def test_mistakes_with_folds_and_test_sets_are_one_line_each(photos, store_path, tmp_path, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--folds", "3", "--fold", "5"]) == 2
    assert "`--fold` must be from 0 to 2; got 5." in capsys.readouterr().err
    assert main(["train", "--data", str(photos), *TINY, "--epochs", "1", "--folds", "20"]) == 2
    err = capsys.readouterr().err
    assert "has 15 image(s) outside the test set; 20-fold cross-validation needs at least 20 per class" in err
    assert "Traceback" not in err

    assert main(["train", "--data", str(photos), *TINY, "--epochs", "1", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["model", "evaluate", str(run_id), "--split", "test"]) == 2
    err = capsys.readouterr().err
    assert f"Run {run_id} has no test set (it was queued without `--test-split`)" in err
    assert err.count("\n") == 1

    presplit = tmp_path / "presplit"
    for part in ("train", "val"):
        for name in ("a", "b"):
            (presplit / part / name).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(presplit / part / name / f"{i}.png")
    assert main(["train", "--data", str(presplit), *TINY, "--epochs", "1", "--folds", "2"]) == 2
    err = capsys.readouterr().err
    assert "is split into train/ and val/ folders, which fix the validation images; --folds 2" in err


@pytest.mark.slow
def test_queue_add_with_folds_then_compare_uses_the_corrected_test(store_path, capsys):
    argv = ["queue", "add", *TINY[:-2], "--kernel", "2", "3", "--folds", "2", "--repeats", "2", "--epochs", "1"]
    assert main([*argv, "--input-size", "16"]) == 0
    out = capsys.readouterr().out
    assert "Queued: 8 run(s) · 2 configuration(s) × 2 seed(s) × folds" in out and "fold" in out
    assert main(["worker", "--once", "--jobs", "1"]) == 0
    capsys.readouterr()
    assert main(["compare", "--format", "json"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert comparison["test"] == "Nadeau-Bengio corrected resampled t-test" and comparison["df"] == 3.0
    assert "(Nadeau-Bengio corrected resampled t-test over 4 paired folds)" in comparison["verdict"]
