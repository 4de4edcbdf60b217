"""The queue end to end: real workers, real child processes, real faults (tiny models on the CPU)."""

import json
import os
import random
import signal
import time

import pytest

from kcnn.store import Store

from .conftest import TINY, assert_store_healthy, kcnn, running_child, runs_json, start_worker, stop, wait_for

# Long enough per epoch (80 steps) that signals land mid-epoch.
SLOW = ["--input-size", "32", "--channels", "4", "8", "--dense-units", "8", "--batch-size", "8"]


def _queue(*args: str) -> None:
    done = kcnn("queue", "add", *args)
    assert done.returncode == 0, done.stderr


def _epochs(store_path, run_id):
    with Store(store_path) as store:
        return store.epochs(run_id), store.events(run_id), store.get_run(run_id)


@pytest.mark.slow
def test_grid_of_twelve_runs_trained_by_two_jobs(store_path, tmp_path):
    _queue("--kernel", "2", "3", "--dilation", "1", "2", "--repeats", "3", *TINY, "--epochs", "2")
    done = kcnn("worker", "--once", "--jobs", "2", timeout=600)
    assert done.returncode == 0, done.stderr
    rows = runs_json(store_path)
    assert len(rows) == 12 and {row["state"] for row in rows} == {"done"}
    assert all(row["epochs_done"] == 2 and 0 <= row["best_val_accuracy"] <= 1 for row in rows)
    listing = kcnn("runs")
    assert "12 runs · 12 done" in listing.stdout
    workers = {event["worker_id"] for event in Store(store_path).events() if event["kind"] == "claimed"}
    assert len(workers) == 2  # two long-lived children trained all twelve runs
    for row in rows:
        assert (store_path / "artifacts" / str(row["id"]) / "model-a1.keras").exists()
    assert_store_healthy(store_path)


@pytest.mark.slow
def test_an_idle_worker_warms_up_once_then_trains_what_is_queued(store_path, tmp_path):
    log = tmp_path / "worker.log"
    worker = start_worker("--poll", "0.2", log=log)
    try:
        wait_for(lambda: "ready, waiting for runs" in log.read_text(), what="the warm-up")
        _queue(*TINY, "--epochs", "1", "--seed", "0", "1")
        wait_for(lambda: Store(store_path).count_by_state()["done"] == 2, what="both runs")
    finally:
        assert stop(worker) == 0
    assert log.read_text().count("ready, waiting for runs") == 1
    assert "warm-up failed" not in log.read_text()
    assert_store_healthy(store_path)


def _not_run_by(store_path, run_id, pid) -> bool:
    """Whether run `run_id` is no longer running in process `pid` (one read: the state may change between two)."""
    child = running_child(store_path, run_id)
    return child is None or child[0] != pid


@pytest.mark.slow
def test_child_killed_mid_epoch_repeatedly_still_finishes_every_epoch(store_path, tmp_path):
    epochs = 8
    _queue(*SLOW, "--epochs", str(epochs), "--max-attempts", "10")
    worker = start_worker("--once", "--lease", "5", "--checkpoint-every", "0", log=tmp_path / "worker.log")
    rng = random.Random(11)
    kills = 0
    try:
        for _ in range(3):
            found = wait_for(lambda done=kills + 1: running_child(store_path, 1, min_epochs=done), what="an epoch")
            if found[1].epochs_done >= epochs - 1:
                break
            time.sleep(rng.uniform(0.0, 0.3))  # a random point inside the next epoch
            os.kill(found[0], signal.SIGKILL)
            kills += 1
            wait_for(lambda pid=found[0]: _not_run_by(store_path, 1, pid), what="the crash to be recorded")
            rng.random()
        assert worker.wait(timeout=300) == 0
    finally:
        stop(worker)
    rows, events, run = _epochs(store_path, 1)
    assert run.state == "done" and kills >= 2
    assert [row["epoch"] for row in rows] == list(range(1, epochs + 1))
    assert run.retries == kills and run.attempt == kills + 1
    resumed = [e for e in events if e["kind"] == "claimed" and (e["message"] or "").startswith("resume after epoch")]
    assert len(resumed) == kills
    crashes = [e for e in events if e["kind"] == "requeued"]
    assert all("killed by SIGKILL" in e["message"] for e in crashes) and len(crashes) == kills
    assert_store_healthy(store_path)


@pytest.mark.slow
def test_stopped_worker_is_fenced_out_after_takeover(store_path, tmp_path):
    epochs = 5
    _queue(*SLOW, "--epochs", str(epochs))
    first = start_worker("--once", "--lease", "1.5", "--checkpoint-every", "0", log=tmp_path / "first.log")
    second = None
    try:
        child, run = wait_for(lambda: running_child(store_path, 1, min_epochs=1), what="epoch 1")
        for pid in (first.pid, child):
            os.kill(pid, signal.SIGSTOP)
        stopped_at = run.epochs_done
        wait_for(
            lambda: Store(store_path).now() > Store(store_path).get_run(1).lease_expires + 0.2,
            what="the lease to expire",
        )
        second = start_worker("--once", "--lease", "1.5", log=tmp_path / "second.log")
        assert second.wait(timeout=300) == 0
        for pid in (child, first.pid):
            os.kill(pid, signal.SIGCONT)
        assert first.wait(timeout=120) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                stop(process)
    rows, events, run = _epochs(store_path, 1)
    assert (run.state, run.attempt, run.model) == ("done", 2, "model-a2.keras")
    assert [row["epoch"] for row in rows] == list(range(1, epochs + 1))
    assert all(row["attempt"] == 2 for row in rows if row["epoch"] > stopped_at + 1)
    assert [e["attempt"] for e in events if e["kind"] == "done"] == [2]
    assert "run 1 attempt 1: lost" in (tmp_path / "first.log").read_text()
    assert_store_healthy(store_path)


@pytest.mark.slow
def test_sigterm_requeues_at_checkpoint_and_the_run_resumes(store_path, tmp_path):
    epochs = 6
    _queue(*SLOW, "--epochs", str(epochs))
    worker = start_worker("--lease", "10", "--checkpoint-every", "0", log=tmp_path / "worker.log")
    try:
        wait_for(lambda: running_child(store_path, 1, min_epochs=2), what="epoch 2")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        stop(worker)
    rows, events, run = _epochs(store_path, 1)
    assert run.state == "queued" and run.checkpoint_epoch == run.epochs_done >= 2
    assert events[-1]["kind"] == "requeued" and events[-1]["message"].startswith("interrupted")
    checkpoint = run.checkpoint_epoch
    assert_store_healthy(store_path)

    done = kcnn("worker", "--once", timeout=300)
    assert done.returncode == 0, done.stderr
    rows, events, run = _epochs(store_path, 1)
    assert run.state == "done" and run.retries == 0
    assert [row["epoch"] for row in rows] == list(range(1, epochs + 1))
    assert [row["attempt"] for row in rows] == [1] * checkpoint + [2] * (epochs - checkpoint)
    claims = [event for event in events if event["kind"] == "claimed"]
    assert claims[-1]["message"] == f"resume after epoch {checkpoint}"
    assert_store_healthy(store_path)


@pytest.mark.slow
def test_nan_is_diverged_and_oom_does_not_take_the_worker_down(store_path):
    _queue(*TINY, "--epochs", "4", "--seed", "0", "1", "2")
    faults = {"KCNN_INJECT_FAULTS": "nan@seed=0,epoch=3;oom@seed=1,epoch=2"}
    done = kcnn("worker", "--once", "--jobs", "1", env=faults, timeout=300)
    assert done.returncode == 0, done.stderr
    by_seed = {row["seed"]: row for row in runs_json(store_path)}
    assert (by_seed[0]["state"], by_seed[0]["error_kind"], by_seed[0]["attempt"]) == ("failed", "diverged", 1)
    rows, _, _ = _epochs(store_path, by_seed[0]["id"])
    assert [row["epoch"] for row in rows] == [1, 2]
    assert (by_seed[1]["state"], by_seed[1]["error_kind"], by_seed[1]["attempt"]) == ("failed", "out_of_memory", 1)
    assert by_seed[2]["state"] == "done"
    events = Store(store_path).events()
    claimers = {e["run_id"]: e["worker_id"] for e in events if e["kind"] == "claimed"}
    assert claimers[by_seed[1]["id"]] == claimers[by_seed[2]["id"]]  # same child, still alive
    assert_store_healthy(store_path)


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["--data", "builtin:nope"]])
def test_unknown_dataset_rejected_at_queue_time(store_path, argv):
    done = kcnn("queue", "add", *argv)
    assert done.returncode == 2
    assert done.stderr.startswith("error: Unknown dataset 'builtin:nope'")


def test_workers_command_lists_and_refuses_to_stop_what_is_not_a_worker(store_path, capsys):
    from kcnn.cli import main

    assert main(["workers", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["worker", "stop", "4194304"]) == 2
    err = capsys.readouterr().err
    assert "No live kcnn worker" in err and "4194304" in err and "Traceback" not in err
    assert main(["worker", "stop"]) == 2
    assert "the following arguments are required: PID" in capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_on_a_nearly_full_disk_fails_nothing_says_so_once_and_exits_0(store_path):
    """Issue 24: a full disk is a state, not a crash loop (the free-space probe reports 1 kB)."""
    assert kcnn("queue", "add", "--input-size", "16", "--channels", "4", "--dense-units", "8", "--epochs", "1",
                "--seed", "0", "1", "--store", str(store_path)).returncode == 0  # fmt: skip
    done = kcnn("worker", "--once", "--jobs", "2", "--store", str(store_path), env={"KCNN_FAKE_FREE_BYTES": "1000"},
                timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert said.count("this worker claims no more runs") >= 1 and "kcnn store prune" in said
    assert "Traceback" not in said
    with Store(store_path) as store:
        counts = store.count_by_state()
        runs = store.runs()
    assert counts["queued"] == 2 and counts["failed"] == 0 and all(run.retries == 0 for run in runs)


@pytest.mark.slow
def test_a_worker_whose_write_finds_the_disk_full_gives_the_run_back_and_exits_0(store_path):
    """Issue 24: a write that fails for lack of space (past the free-space check) requeues the run at its last
    checkpoint, uncounted; the worker says so in one line, claims no more, and exits 0."""
    assert kcnn("queue", "add", "--input-size", "16", "--channels", "4", "--dense-units", "8", "--epochs", "3",
                "--seed", "0", "--store", str(store_path)).returncode == 0  # fmt: skip
    done = kcnn("worker", "--once", "--jobs", "1", "--checkpoint-every", "0", "--store", str(store_path),
                env={"KCNN_INJECT_FAULTS": "nospace@seed=0,epoch=2"}, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    [line] = [line for line in said.splitlines() if "could not write its files" in line]
    assert "No space left on device" in line and "back in the queue at its last checkpoint" in line
    assert "this worker claims no more runs" in line and "kcnn store prune" in line and "Traceback" not in said
    with Store(store_path) as store:
        [run] = store.runs()
    assert run.state == "queued" and run.retries == 0 and run.checkpoint_epoch == 1 and run.epochs_done >= 1
    finished = kcnn("worker", "--once", "--store", str(store_path), timeout=240)
    assert finished.returncode == 0, finished.stderr
    with Store(store_path) as store:
        [run] = store.runs()
    assert run.state == "done" and run.epochs_done == 3


@pytest.mark.slow
def test_a_worker_with_fuse_trains_compatible_runs_as_one_program_with_the_same_results(tmp_path):
    """Issue 26: `kcnn worker --fuse 3` trains the three seeds of each of four configurations together; every
    run ends with the accuracies an unfused worker gives it."""
    add = ["queue", "add", "--input-size", "16", "--channels", "4", "8", "--dense-units", "8", "--epochs", "2",
           "--kernel", "2", "3", "--repeats", "3"]  # fmt: skip
    results = {}
    for name, extra in (("fused", ["--fuse", "3"]), ("alone", ["--fuse", "1"])):
        store = tmp_path / name
        assert kcnn(*add, "--store", str(store)).returncode == 0
        done = kcnn("worker", "--once", "--store", str(store), *extra, env={"KCNN_TRAIN_LOOP": "auto"}, timeout=240)
        assert done.returncode == 0, done.stderr
        with Store(store) as opened:
            runs = opened.runs()
            loops = {run.id: run.train_loop for run in runs}
            results[name] = [(run.config_key, run.seed, run.best_val_accuracy, run.final_val_accuracy) for run in runs]
            events = [event["message"] for run in runs for event in opened.events(run.id)
                      if event["kind"] == "train_loop"]  # fmt: skip
        assert all(run.state == "done" for run in runs)
        if name == "fused":
            assert "each training up to 3 runs as one program" in " ".join((done.stdout + done.stderr).split())
            assert sorted(loops.values()) == ["fused"] * 12  # 4 configurations × 3 seeds, 3 at a time
            assert sum("trained as one program with runs" in message for message in events) == 12
            shown = " ".join(kcnn("run", "show", "1", "--store", str(store)).stdout.split())
            assert "trained with │ runs 2, 3, as one program (fused)" in shown
        else:
            assert set(loops.values()) == {"torch"}
    assert sorted(results["fused"]) == sorted(results["alone"])


@pytest.mark.slow
def test_fuse_is_refused_on_ray_and_outside_its_range_in_one_line(store_path):
    for args, says in ((["--fuse", "0"], "--fuse"), (["--fuse", "65"], "--fuse"),
                       (["--fuse", "2", "--ray"], "`--fuse` trains runs as one program in a local child")):  # fmt: skip
        done = kcnn("worker", "--once", *args, "--store", str(store_path))
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1
