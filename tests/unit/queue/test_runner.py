"""Executing one claimed run in-process: the files it leaves and what they hold."""

import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kcnn.config import ExperimentConfig
from kcnn.data import load_dataset, stratified_split
from kcnn.queue.runner import Outcome, RunSettings, execute_claim
from kcnn.store import Store, atomic_link
from kcnn.training.backend import import_keras

TINY = ExperimentConfig(input_size=24, channels=(4, 8), kernel_size=2, dilation=(2, 1), dense_units=16, epochs=3)


@pytest.fixture(params=["torch", "fit"], autouse=True)
def loop(request, monkeypatch):
    """Every test here runs under both training loops: checkpoints, stops and resumes must not depend on it."""
    monkeypatch.setenv("KCNN_TRAIN_LOOP", "auto" if request.param == "torch" else "fit")
    return request.param


@pytest.mark.slow
@pytest.mark.parametrize(("checkpoint_seconds", "saves_expected"), [(0.0, TINY.epochs), (1e9, 1)])
def test_the_final_model_holds_the_last_epoch_and_no_checkpoint_is_left(
    tmp_path, monkeypatch, checkpoint_seconds, saves_expected, loop
):
    keras = import_keras()
    saves = []
    save = keras.Model.save
    monkeypatch.setattr(keras.Model, "save", lambda model, path, **kw: saves.append(path) or save(model, path, **kw))
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY])
        claim = store.claim("test-worker")
        assert claim is not None
        execution = execute_claim(store, claim, RunSettings(device="cpu", checkpoint_seconds=checkpoint_seconds))
        assert execution.outcome is Outcome.DONE
        assert execution.result.loop == loop
        run = store.get_run(claim.run_id)
        folder = store.run_folder(claim.run_id)
    assert run.model == "model-a1.keras"
    checkpoint_saves = [path for path in saves if "checkpoint" in Path(path).name]
    assert len(checkpoint_saves) == saves_expected  # with the optimizer's state, for resuming only
    assert sorted(path.name for path in folder.iterdir()) == ["best-a1.keras", "classes.json", "model-a1.keras"]
    same = os.stat(folder / "best-a1.keras").st_ino == os.stat(folder / "model-a1.keras").st_ino
    accuracies = [record.val_accuracy for record in execution.result.history]
    assert same == (accuracies.index(max(accuracies)) == len(accuracies) - 1)  # the best is the last: one file
    assert os.stat(folder / "model-a1.keras").st_nlink == 1 + same  # no checkpoint left behind
    data = load_dataset(TINY.dataset, TINY.input_size)
    split = stratified_split(data.labels, TINY.val_split, TINY.split_seed, data.class_names)
    for name, recorded in (("model-a1.keras", run.final_val_accuracy), ("best-a1.keras", run.best_val_accuracy)):
        model = keras.saving.load_model(folder / name)
        predicted = np.argmax(model.predict(data.images[split.val], verbose=0), axis=1)
        assert np.mean(predicted == data.labels[split.val]) == pytest.approx(recorded, abs=1e-6), name
        # Issue 24: what a done run keeps is its architecture and weights, no optimizer state.
        assert not model.compiled and model.count_params() > 0
        assert (folder / name).stat().st_size <= 1.15 * 4 * model.count_params() + 8_000  # + the framing, deflated
        with zipfile.ZipFile(folder / name) as archive:
            assert {member.compress_type for member in archive.infolist()} == {zipfile.ZIP_DEFLATED}


@pytest.mark.slow
@pytest.mark.parametrize(("checkpoint_seconds", "kept"), [(0.0, 2), (1e9, 0)])
def test_a_stopped_run_resumes_from_its_last_checkpoint_and_records_every_epoch(tmp_path, checkpoint_seconds, kept):
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY])
        first = store.claim("first-worker")
        stop = threading.Event()

        def stop_after_epoch_2(record):
            if record.epoch == 2:
                stop.set()

        settings = RunSettings(device="cpu", checkpoint_seconds=checkpoint_seconds)
        stopped = execute_claim(store, first, settings, stop=stop, on_epoch=stop_after_epoch_2)
        assert stopped.outcome is Outcome.REQUEUED
        run = store.get_run(first.run_id)
        assert (run.state, run.epochs_done, run.checkpoint_epoch) == ("queued", 2, kept)
        second = store.claim("second-worker")
        assert second.checkpoint_epoch == kept
        assert execute_claim(store, second, settings).outcome is Outcome.DONE
        rows = store.epochs(first.run_id)
        run = store.get_run(first.run_id)
        folder = store.run_folder(first.run_id)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert [row["attempt"] for row in rows] == [1] * kept + [2] * (3 - kept)
    # the best epoch's weights survive the resume, whichever attempt trained them
    assert sorted(path.name for path in folder.glob("best-*.keras")) == ["best-a2.keras"]
    best = import_keras().saving.load_model(folder / "best-a2.keras")
    data = load_dataset(TINY.dataset, TINY.input_size)
    split = stratified_split(data.labels, TINY.val_split, TINY.split_seed, data.class_names)
    predicted = np.argmax(best.predict(data.images[split.val], verbose=0), axis=1)
    assert np.mean(predicted == data.labels[split.val]) == pytest.approx(run.best_val_accuracy, abs=1e-6)


def test_a_diverging_run_fails_as_diverged_with_its_reason(tmp_path, loop, monkeypatch):
    monkeypatch.setenv("KCNN_INJECT_FAULTS", "nan@seed=0,epoch=2")
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY])
        claim = store.claim("worker")
        execution = execute_claim(store, claim, RunSettings(device="cpu"))
        run = store.get_run(claim.run_id)
    assert (execution.outcome, run.state, run.error_kind) == (Outcome.FAILED, "failed", "diverged")
    assert run.error_message.startswith("Training diverged at epoch 2: the loss became NaN or infinite.")
    assert run.epochs_done == 1


def test_the_run_records_which_loop_trained_it_and_why(tmp_path, loop):
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY.replace(epochs=1)])
        claim = store.claim("worker")
        execute_claim(store, claim, RunSettings(device="cpu"))
        run = store.get_run(claim.run_id)
        events = [event["message"] for event in store.events(claim.run_id) if event["kind"] == "train_loop"]
    assert run.train_loop == loop
    expected = "KCNN_TRAIN_LOOP=fit" if loop == "fit" else "the torch loop matches Keras' outputs and gradients"
    assert run.train_loop_reason.startswith(expected)
    assert events == [f"{loop}: {run.train_loop_reason}"]


def test_atomic_link_names_the_same_file_and_replaces_an_old_one(tmp_path):
    source, target = tmp_path / "checkpoint.keras", tmp_path / "model.keras"
    source.write_bytes(b"new weights")
    target.write_bytes(b"old weights")
    assert atomic_link(source, target)
    source.unlink()
    assert target.read_bytes() == b"new weights"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.keras"]


def test_atomic_link_reports_failure_and_changes_nothing(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"old weights")
    assert not atomic_link(tmp_path / "missing.keras", target)
    assert target.read_bytes() == b"old weights"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.keras"]


def test_a_foreground_run_whose_caller_fails_to_report_it_is_not_left_claimed(tmp_path, loop):
    from kcnn.queue.foreground import train_in_foreground

    def broken(run_id):
        raise RuntimeError("the terminal went away")

    with Store(tmp_path / "store") as store:
        with pytest.raises(RuntimeError):
            train_in_foreground(store, TINY, device="cpu", on_start=broken)
        [run] = store.runs()
    assert (run.state, run.error_kind) == ("failed", "interrupted")
    assert run.error_message == "stopped before training: RuntimeError: the terminal went away"


def test_a_checkpoint_outside_the_run_folder_is_refused(tmp_path, loop):
    outside = tmp_path / "elsewhere.keras"
    outside.write_bytes(b"not a model")
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY])
        with store._write() as conn:  # a damaged or forged row
            conn.execute("UPDATE runs SET checkpoint = '../../../elsewhere.keras', checkpoint_epoch = 2")
        claim = store.claim("w")
        execution = execute_claim(store, claim, RunSettings(device="cpu"))
        run = store.get_run(claim.run_id)
    assert (execution.outcome, run.error_kind) == (Outcome.FAILED, "invalid_config")
    assert "is outside its folder" in run.error_message and "refusing to load it" in run.error_message


@pytest.mark.slow
def test_the_next_attempt_removes_a_killed_attempts_half_written_checkpoint(tmp_path, loop):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY.replace(epochs=1)])
        claim = store.claim("w")
        folder = store.run_folder(claim.run_id)
        folder.mkdir(parents=True)
        leftover = folder / f".checkpoint-e1-a0.{dead.pid}.tmp.keras"
        leftover.write_bytes(b"half a model")
        assert execute_claim(store, claim, RunSettings(device="cpu")).outcome is Outcome.DONE
    assert not leftover.exists()


@pytest.mark.slow
def test_a_resumed_runs_best_test_score_is_the_kept_best_models_whichever_attempt_trained_it(tmp_path, monkeypatch):
    """The trainer scores the best epoch's weights itself (issue 22): on a resume, the earlier attempts' best too."""
    from kcnn.data import split_dataset
    from kcnn.training.scoring import accuracy

    config = TINY.replace(test_split=0.2, epochs=4)
    accuracies = iter([0.9, 0.5, 0.6, 0.7])  # epoch 1 stays the best: its weights were trained by attempt 1
    import kcnn.training.callbacks as callbacks

    real = callbacks.EpochRecorder.on_epoch_end

    def scripted(self, epoch, logs=None):
        logs = {**(logs or {}), "val_accuracy": next(accuracies)}
        return real(self, epoch, logs)

    monkeypatch.setattr(callbacks.EpochRecorder, "on_epoch_end", scripted)
    with Store(tmp_path / "store") as store:
        store.add_runs([config])
        first = store.claim("first-worker")
        stop = threading.Event()
        settings = RunSettings(device="cpu", checkpoint_seconds=0.0)
        stopped = execute_claim(store, first, settings, stop=stop, on_epoch=lambda r: r.epoch == 2 and stop.set())
        assert stopped.outcome is Outcome.REQUEUED
        second = store.claim("second-worker")
        done = execute_claim(store, second, settings)
        assert done.outcome is Outcome.DONE
        run = store.get_run(first.run_id)
        folder = store.run_folder(first.run_id)
    assert run.best_val_accuracy == pytest.approx(0.9)
    data = load_dataset(config.dataset, config.input_size)
    test = split_dataset(data, config).test
    kept = import_keras().saving.load_model(folder / "best-a2.keras")
    expected = accuracy(kept, data.images[test], data.labels[test], config.batch_size)
    assert run.best_test_accuracy == pytest.approx(expected, abs=1e-9)
    assert done.result.best_test_accuracy == run.best_test_accuracy


def test_a_queued_run_whose_config_no_longer_matches_its_key_fails_as_invalid_config_untrained(tmp_path, loop):
    """Issue 23, case 2: `{"channels": 5}` written over a row was trained with defaults and marked done."""
    import sqlite3

    with Store(tmp_path / "store") as store:
        [added] = store.add_runs([TINY])
        connection = sqlite3.connect(tmp_path / "store" / "kcnn.sqlite")
        connection.execute("UPDATE runs SET config = ? WHERE id = ?", ('{"channels": 5}', added.run_id))
        connection.commit()
        connection.close()
        claim = store.claim("test-worker")
        execution = execute_claim(store, claim, RunSettings(device="cpu"))
        run = store.get_run(added.run_id)
    assert execution.outcome is Outcome.FAILED and run.state == "failed" and run.error_kind == "invalid_config"
    assert "does not match its key" in run.error_message and run.epochs_done == 0


def test_a_full_disk_mid_run_gives_the_run_back_and_stops_the_worker_without_a_traceback(tmp_path, loop, monkeypatch):
    """Issue 23, case 12: children printed sqlite3 tracebacks and the run stayed running until its lease lapsed."""
    from kcnn.errors import StoreFull
    from kcnn.store import ClaimHandle

    def full(*args, **kwargs):
        raise StoreFull("The disk holding the store is full")

    with Store(tmp_path / "store") as store:
        [added] = store.add_runs([TINY])
        claim = store.claim("test-worker")
        monkeypatch.setattr(ClaimHandle, "record_epoch", full)
        with pytest.raises(StoreFull):
            execute_claim(store, claim, RunSettings(device="cpu"))
        run = store.get_run(added.run_id)
    assert run.state == "queued" and run.retries == 0  # given back, not counted as the run's failure


@pytest.mark.parametrize(
    ("keep", "left", "says"),
    [
        ("final", {"model-a1.keras"}, "--keep final"),
        ("best", {"best-a1.keras"}, "--keep best"),
        ("none", set(), "--keep none"),
        ("all", {"model-a1.keras", "best-a1.keras", "checkpoint-e3-a1.keras"}, None),
    ],
)
def test_a_done_run_keeps_what_its_queue_entry_asked(tmp_path, loop, keep, left, says):
    """Issue 24: `--keep final|best|all|none`; a model not kept says why where it would be used."""
    if loop != "torch":
        pytest.skip("the policy does not depend on the loop")
    from kcnn.errors import StoreError
    from kcnn.inference import evaluation

    with Store(tmp_path / "store") as store:
        [added] = store.add_runs([TINY], keep=keep)
        execution = execute_claim(store, store.claim("w"), RunSettings(device="cpu", checkpoint_seconds=0))
        assert execution.outcome is Outcome.DONE
        run = store.get_run(added.run_id)
        folder = store.run_folder(added.run_id)
    assert run.keep == keep
    assert {path.name for path in folder.glob("*.keras")} == left
    for which, name in (("final", "model-a1.keras"), ("best", "best-a1.keras")):
        if name in left:
            assert evaluation.run_model_file(run, which).name == name
        else:
            with pytest.raises(StoreError, match=f"its model files were removed \\({says}"):
                evaluation.run_model_file(run, which)
