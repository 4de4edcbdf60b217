"""`kcnn optimize` end to end with a real worker: trials trained, a weak one pruned between epochs."""

import json
import os
import signal

import optuna
import pytest

from kcnn.cli import main
from kcnn.queue.optimize import optuna_study
from kcnn.store import Store

from .conftest import assert_store_healthy, kcnn, running_child, start_worker, wait_for

SPACE = """
kernel_size = [2, 3]
learning_rate = { low = 1e-4, high = 1e-2, log = true }

[fixed]
input_size = 16
channels = [4]
dense_units = 8
epochs = 4
"""


@pytest.mark.slow
def test_a_weak_trial_is_pruned_between_epochs_and_shows_as_pruned(store_path, tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    assert main(["optimize", str(space), "--trials", "1", "--parallel", "1", "--pruner", "median"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("study 1 started: 1 run(s)") and "optuna-dashboard sqlite:///" in out
    with Store(store_path) as store:  # two earlier trials that reached 100% at every epoch: the median to beat
        ostudy = optuna_study(store.path, store.get_study(1))
        for _ in range(2):
            ostudy.add_trial(optuna.trial.create_trial(value=1.0, intermediate_values={e: 1.0 for e in range(1, 5)}))
    assert main(["worker", "--once", "--jobs", "1"]) == 0
    capsys.readouterr()
    with Store(store_path) as store:
        [run] = store.study_runs(1)
        study = store.get_study(1)
        events = [event["kind"] for event in store.events(run.id)]
        assert store.count_by_state()["pruned"] == 1 and store.count_by_state()["failed"] == 0
    assert run.state == "pruned" and 1 <= run.epochs_done < 4 and "pruned" in events  # stopped between epochs
    assert study.state == "done" and "0 complete, 1 pruned, 0 failed" in study.verdict
    assert main(["runs", "--state", "pruned", "--format", "json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [run.id]
    assert main(["studies"]) == 0
    assert "optimize" in capsys.readouterr().out


def test_optimize_mistakes_are_one_line(store_path, tmp_path, capsys):
    assert main(["optimize", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert "Cannot read the space file" in err and err.count("\n") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("kernal = [2, 3]\n")
    assert main(["optimize", str(bad)]) == 2
    assert "Unknown hyperparameter 'kernal'" in capsys.readouterr().err
    ranged = tmp_path / "ranged.toml"
    ranged.write_text("learning_rate = { low = 0.001, high = 0.01 }\n")
    assert main(["optimize", str(ranged), "--sampler", "grid"]) == 2
    assert "`--sampler grid` needs a list of choices" in capsys.readouterr().err


@pytest.mark.parametrize(
    "space",
    [
        "input_size = {low = 16, high = 30, step = -2}\n",
        "learning_rate = {low = 1e-4, high = inf}\n",
        'kernel_size = ["abc", 2]\n',
        "kernel_size = [true, 2]\n",
        "kernel_size = [[[2]]]\n",
        "input_size = {low = 16, high = 31, step = 2}\n",
    ],
)
def test_a_bad_space_is_one_line_in_the_files_words_and_writes_no_study(store_path, tmp_path, capsys, space):
    """Issue 23, cases 1, 7 and 20: each of these left a study "running" (or a traceback, or was accepted)."""
    path = tmp_path / "space.toml"
    path.write_text(space)
    assert main(["optimize", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: Space file {str(path)!r}: ") and err.count("\n") == 1 and "--" not in err
    with Store(store_path) as store:
        assert store.studies() == []


def test_worker_once_exits_on_a_study_that_cannot_advance(store_path):
    """Issue 23, case 1: `kcnn worker --once` waited forever on a study whose decision fails."""
    assert kcnn("queue", "add", "--input-size", "16", "--channels", "4", "--dense-units", "8", "--epochs", "1",
                "--store", str(store_path)).returncode == 0  # fmt: skip
    with Store(store_path) as store:
        study_id = store.create_study("optimize", {"params": "not a space"})
    worker = kcnn("worker", "--once", "--jobs", "1", "--store", str(store_path), timeout=240)
    assert worker.returncode == 0, worker.stderr
    assert f"study {study_id} could not advance" in worker.stderr + worker.stdout
    with Store(store_path) as store:
        assert store.get_study(study_id).state == "stopped" and store.count_by_state()["done"] == 1


@pytest.mark.slow
def test_a_worker_killed_mid_study_the_next_one_finishes_it_nothing_lost_or_told_twice(store_path, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text(
        "kernel_size = [2, 3]\n[fixed]\ninput_size = 32\nchannels = [4, 8]\ndense_units = 8\nbatch_size = 8\n"
        "epochs = 3\n"
    )
    done = kcnn("optimize", str(space), "--trials", "3", "--parallel", "1", "--pruner", "none")
    assert done.returncode == 0, done.stderr
    first = start_worker("--once", "--lease", "1.5", "--checkpoint-every", "0", log=tmp_path / "first.log")
    try:
        child, run = wait_for(lambda: running_child(store_path, 1, min_epochs=1), what="trial 0's first epoch")
        for pid in (child, first.pid):
            os.kill(pid, signal.SIGKILL)  # the whole worker dies mid-trial
        first.wait(timeout=30)
        wait_for(lambda: Store(store_path).now() > Store(store_path).get_run(1).lease_expires + 0.2,
                 what="the lease to expire")  # fmt: skip
        second = start_worker("--once", "--lease", "1.5", log=tmp_path / "second.log")
        assert second.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
    with Store(store_path) as store:
        study = store.get_study(1)
        runs = store.study_runs(1)
        trials = optuna_study(store.path, study).get_trials(deepcopy=False)
    assert study.state == "done" and study.progress["asked"] == 3 and study.progress["told"] == 3
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3  # none lost, none told twice
    assert runs[0].trial == 0 and all(run.state == "done" for run in runs)
    assert len({(run.config_key, run.seed) for run in runs}) == len(runs)  # a configuration asked again is reused
    assert runs[0].attempt == 2 and run.epochs_done >= 1  # the killed run resumed from its checkpoint
    assert_store_healthy(store_path)


def test_without_optuna_optimize_names_the_extra_and_makes_nothing(store_path, tmp_path, capsys, monkeypatch):
    import sys

    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now raises ImportError
    assert main(["optimize", str(space)]) == 2
    err = capsys.readouterr().err
    assert "Optuna studies need Optuna: pip install 'kcnn[optuna]'." in err and err.count("\n") == 1
    with Store(store_path) as store:
        assert store.studies() == []  # nothing half-made
