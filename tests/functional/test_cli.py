import json
import subprocess
import sys

import pytest
from loops import EXPECTED_LOOP

from kcnn.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kernel", "0"], "error: `--kernel` must be a positive integer (at most 1024); got 0."),
        (["--dilation", "-1"], "error: `--dilation` must be a positive integer (at most 1024); got -1."),
        (
            ["--input-size", "4", "--kernel", "5", "--dilation", "3"],
            "error: Conv layer 1 would produce an empty feature map: input 4×4, `--kernel`=5, `--dilation`=3 "
            "(a 13×13 span) gives a 0×0 output. Use a smaller kernel or dilation, fewer layers or a smaller "
            "`--pool-size`, or a larger `--input-size` (at least 40).",
        ),
        (
            ["--channels", "16", "a"],
            "error: kcnn train: argument --channels: expects a whole number such as `--channels 16`; got 'a' "
            "(see `kcnn train --help`)",
        ),
        (
            ["--stride", "2", "--dilation", "2"],
            "error: Conv layer 1 combines `--stride`=2 with `--dilation`=2, which Keras cannot build. "
            "Use `--stride` 1 on dilated layers, or `--dilation` 1 on strided ones.",
        ),
        (
            ["--device", "cuda:7"],
            "error: `--device cuda:7`: torch sees no CUDA GPU on this machine. Use `--device cpu` or `auto`.",
        ),
        (
            ["--precision", "mixed_float16", "--device", "cpu"],
            "error: `--precision mixed_float16` needs a CUDA GPU; this run is on the CPU. "
            "Use `--precision float32` (or mixed_bfloat16) on a CPU.",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys):
    if "cuda" in " ".join(argv):
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    assert main(["train", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.rstrip("\n") == message
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["queue", "add", "--fold", "5"], "kcnn queue add: unrecognized arguments: --fold 5; did you mean --folds?"),
        (["train", "--kernel-s", "3"], "kcnn train: unrecognized arguments: --kernel-s 3; did you mean --kernel?"),
        (["runs", "--bogus"], "kcnn runs: unrecognized arguments: --bogus (see `kcnn runs --help`)"),
    ],
)
def test_a_long_option_is_never_guessed_from_a_prefix(argv, says, tmp_path, capsys):
    """`--fold 5` on `kcnn queue add` (which has only --folds) is refused in one line naming the command and the
    likely option, never read as `--folds 5` (five-fold cross-validation)."""
    assert main([*argv, "--store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err
    assert says in " ".join(err.split()) and err.count("\n") == 1
    assert not (tmp_path / "store").exists()


def test_plan_json_has_linear_size(capsys):
    assert main(["plan", "--kernel", "2", "--dilation", "2", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plan"]["linear_size"] == 7200
    assert data["config"]["dilation"] == [2, 1]


def test_plan_table_lists_layers(capsys):
    assert main(["plan", "--kernel", "4", "--input-size", "90"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "87×87×16" in out and "linear_size" in out


@pytest.mark.slow
def test_train_json_end_to_end_in_a_subprocess(store_path):
    argv = [
        "train",
        "--input-size",
        "24",
        "--channels",
        "4",
        "8",
        "--kernel",
        "2",
        "--dilation",
        "2",
        "1",
        "--epochs",
        "2",
        "--dense-units",
        "16",
        "--device",
        "cpu",
        "--format",
        "json",
    ]
    done = subprocess.run([sys.executable, "-m", "kcnn.cli", *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["config"]["kernel_size"] == [2, 2]
    assert len(data["history"]) == 2
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(data["history"][0])
    assert 0 <= data["final_val_accuracy"] <= data["best_val_accuracy"] <= 1
    assert data["seconds"] >= sum(epoch["seconds"] for epoch in data["history"]) * 0.95
    assert data["train_loop"] == EXPECTED_LOOP and data["device_name"] == "CPU"
    reason = {"torch": "the torch loop matches Keras' outputs and gradients", "fit": "KCNN_TRAIN_LOOP=fit"}
    assert data["train_loop_reason"].startswith(reason[EXPECTED_LOOP])
    assert data["flops_per_second"] == pytest.approx(3 * data["flops_per_image"] * data["images_per_second"])
    assert data["config"]["color_mode"] == "rgb" and data["config"]["precision"] == "float32"  # auto resolved
    shown = subprocess.run(
        [sys.executable, "-m", "kcnn.cli", "run", "show", str(data["run_id"]), "--format", "json"],
        capture_output=True,
        text=True,
    )
    run = json.loads(shown.stdout)
    # `kcnn train` and `kcnn show` report one figure for one run: the median over its epochs.
    assert run["images_per_second"] == data["images_per_second"]
    assert run["config_key"] == data["config_key"] and run["dataset_fingerprint"] == "builtin:shapes"


def test_train_tables(store_path, capsys):
    argv = ["train", "--input-size", "16", "--channels", "4", "--epochs", "1", "--dense-units", "8", "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "best val accuracy" in out and "Shape plan" in out and "config_key" in out
    assert "training FLOP/s" in out and "GFLOP/s (CPU peak unknown" in out
    assert main(["run", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "images / s" in out and "GFLOP/s (CPU peak unknown" in out and f"cpu · CPU · {EXPECTED_LOOP} loop" in out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().out


def test_a_full_disk_is_named_as_such(store_path, capsys, monkeypatch):
    import sqlite3

    from kcnn.cli import queue as queue_commands

    def full(args):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(queue_commands, "run_add", full)
    assert main(["queue", "add"]) == 1
    assert capsys.readouterr().err == (
        "error: the disk holding the store is full (database or disk is full); free some space and run the command "
        "again.\n"
    )


def test_a_checkpoint_that_finds_the_disk_full_gives_the_run_back_in_one_line(tmp_path, monkeypatch, capsys):
    """Issue 24: no room for the checkpoint is not the run's fault. It goes back to the queue at its last
    checkpoint, uncounted (it used to crash, and a crash counts towards failing the run), and one line says so
    with the way out."""
    import errno

    from kcnn.cli import main
    from kcnn.queue import runner
    from kcnn.store import Store

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(runner, "atomic_write", full)
    store = tmp_path / "runs"
    argv = ["train", "--store", str(store), "--input-size", "16", "--channels", "4", "--dense-units", "8"]
    assert main([*argv, "--epochs", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    with Store(store) as opened:
        [run] = opened.runs()
    assert run.state == "queued" and run.retries == 0 and run.error_kind is None
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert f"run {run.id} could not write its files (OSError: [Errno 28] No space left on device" in line
    assert "back in the queue at its last checkpoint" in line and "kcnn store prune --keep-top 5" in line
    assert "Traceback" not in err and "failed" not in err
