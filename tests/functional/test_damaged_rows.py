"""A store row whose config is damaged (bad JSON, a list, a config that no longer matches its key) is shown
as damaged by every command, left out of the statistics with a count, and never crashes anything."""

import json
import sqlite3

import pytest

from kcnn.cli import main
from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunSummary
from kcnn.store import Store

DAMAGE = {1: "{bad json", 3: "[1, 2]", 4: '{"channels": 5}', 6: '"a string"'}


@pytest.fixture
def damaged(store_path):
    """Four done runs (two kernels × two seeds) and two queued; four of them then damaged in place."""
    with Store(store_path) as store:
        for kernel in (2, 3):
            for seed in range(2):
                [added] = store.add_runs([ExperimentConfig(kernel_size=kernel, seed=seed, epochs=2)])
                claim = store.claim("w", run_id=added.run_id)
                for epoch in (1, 2):
                    accuracy = 0.5 + 0.1 * kernel + 0.01 * seed
                    metrics = {"epoch": epoch, "loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "seconds": 1.0,
                               "val_accuracy": accuracy, "images_per_second": 100.0}  # fmt: skip
                    store.record_epoch(claim, EpochRecord(**metrics))
                store.finish(claim, RunSummary({"params": 10, "flops_per_image": 20, "device": "cpu"}))
        store.add_runs([ExperimentConfig(kernel_size=2, seed=9), ExperimentConfig(kernel_size=2, seed=10)])
    connection = sqlite3.connect(store_path / "kcnn.sqlite")
    for run_id, text in DAMAGE.items():
        connection.execute("UPDATE runs SET config = ? WHERE id = ?", (text, run_id))
    connection.commit()
    connection.close()
    return store_path


COMMANDS = [
    ["runs"], ["runs", "--format", "json"], ["runs", "--format", "csv"], ["run", "show", "1"], ["run", "show", "3"],
    ["run", "show", "4"], ["run", "show", "3", "--format", "json"], ["leaderboard"],
    ["leaderboard", "--format", "json"],
    ["compare", "--by", "kernel"], ["compare"], ["run", "curves", "1", "4"], ["runs", "export"],
    ["runs", "export", "--format", "json"], ["runs", "export", "--table", "epochs"], ["store", "info"],
    ["queue", "cancel", "6"],
]  # fmt: skip


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_no_command_crashes_on_a_damaged_row(damaged, argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    assert "Traceback" not in captured.err + captured.out
    if code == 2:
        assert captured.err.count("\n") == 1  # one line, what and how to fix


def test_damaged_rows_are_shown_as_damaged_and_left_out_of_the_statistics_with_a_count(damaged, capsys):
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert out.count("damaged config") == 4
    assert main(["run", "show", "4"]) == 0
    assert "damaged config: the config does not match its key" in capsys.readouterr().out
    assert main(["leaderboard", "--format", "json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["excluded"]["damaged_config_runs"] == [1, 3, 4]
    assert [config["n"] for config in board["configs"]] == [1]
    assert main(["runs", "export", "--format", "json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert (
        rows[3]["config_problem"] == "A config must be a JSON object; got list."
        and rows[3]["config.kernel_size"] is None
    )
    assert rows[2]["config_problem"] is None and rows[2]["config.kernel_size"] == "2,2"


@pytest.mark.slow
def test_a_worker_fails_a_damaged_queued_run_and_trains_on(damaged, capsys):
    assert main(["worker", "--once", "--jobs", "1"]) == 0
    with Store(damaged) as store:
        states = {run.id: (run.state, run.error_kind) for run in store.runs()}
    assert states[6] == ("failed", "invalid_config")
    assert states[5][0] == "done"


def test_epochs_without_metrics_from_an_upgraded_store_show_as_empty_cells(damaged, capsys):
    """Issue 23, case 14: an upgraded old store with NULL epoch metrics made `show` and `curves` raise TypeError."""
    connection = sqlite3.connect(damaged / "kcnn.sqlite")
    connection.execute("UPDATE epochs SET loss = NULL, accuracy = NULL, val_loss = NULL, val_accuracy = NULL, "
                       "seconds = NULL, images_per_second = NULL WHERE run_id IN (2, 5)")  # fmt: skip
    connection.commit()
    connection.close()
    for argv in (
        ["run", "show", "2"],
        ["run", "curves", "2"],
        ["run", "curves", "2", "5"],
        ["plot", "curves", "--by", "kernel"],
    ):
        assert main(argv) == 0, argv
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err + captured.out
    assert main(["run", "curves", "2"]) == 0
    assert "(no values recorded for its epochs)" in capsys.readouterr().out
