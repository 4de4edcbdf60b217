"""Issue 26: a worker slot trains compatible claimed runs as one program; each keeps everything a run has."""

import dataclasses
import sqlite3
import threading

import pytest

from kcnn.config import ExperimentConfig
from kcnn.queue.fusion import claim_partners, execute_group, fusion_key
from kcnn.queue.runner import Outcome, RunSettings, execute_claim
from kcnn.store import Store

TINY = ExperimentConfig(input_size=16, channels=(4, 8), kernel_size=3, dilation=(2, 1), dense_units=16, epochs=3)


@pytest.fixture(autouse=True)
def torch_loop(monkeypatch):
    """Fusion needs the torch loop: let the probe choose it even when the suite forces `fit`."""
    monkeypatch.setenv("KCNN_TRAIN_LOOP", "auto")


def _claims(store, configs, size):
    store.add_runs(configs)
    first = store.claim("w")
    return [first, *claim_partners(store, first, "w", 60, size - 1)]


def test_only_runs_differing_in_seed_and_learning_rate_are_claimed_together(tmp_path):
    with Store(tmp_path / "store") as store:
        configs = [TINY.replace(seed=1), TINY.replace(kernel_size=2), TINY.replace(seed=2, learning_rate=0.01),
                   TINY.replace(optimizer="sgd", seed=3), TINY.replace(seed=4), TINY.replace(seed=5)]  # fmt: skip
        claims = _claims(store, configs, 3)
        assert [claim.config.seed for claim in claims] == [1, 2, 4]  # queue order; the kernel 2 and SGD runs wait
        assert [run.state for run in store.runs()] == ["running", "queued", "running", "queued", "running", "queued"]
    assert fusion_key(TINY.replace(optimizer="sgd").to_json()) is None  # only Adam trains fused
    assert fusion_key(TINY.to_json()) == fusion_key(TINY.replace(seed=9, learning_rate=0.1).to_json())


@pytest.mark.slow
def test_each_member_ends_as_alone_and_says_which_runs_it_trained_with(tmp_path, monkeypatch):
    """Done members match their solo runs; a diverging member fails alone; a cancelled one stops alone."""
    from kcnn.training import callbacks

    monkeypatch.setenv("KCNN_INJECT_FAULTS", "nan@seed=1,epoch=2")
    configs = [TINY.replace(seed=seed) for seed in range(4)]
    settings = RunSettings(device="cpu", checkpoint_seconds=0)
    original = callbacks.EpochRecorder.on_epoch_end

    def cancel_seed_3_after_epoch_1(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 0 and self.model is models.get(3):
            with Store(tmp_path / "fused") as other:  # as `kcnn queue cancel` would, from another process
                other.cancel([claims[3].run_id])

    models = {}
    original_build = callbacks.EpochRecorder.set_model

    def remember(self, model):
        original_build(self, model)
        models.setdefault(len(models), model)

    monkeypatch.setattr(callbacks.EpochRecorder, "on_epoch_end", cancel_seed_3_after_epoch_1)
    monkeypatch.setattr(callbacks.EpochRecorder, "set_model", remember)
    with Store(tmp_path / "fused") as store:
        claims = _claims(store, configs, 4)
        executions = execute_group(tmp_path / "fused", claims, settings, threading.Event())
        runs = {run.id: run for run in store.runs()}
        events = {claim.run_id: store.events(claim.run_id) for claim in claims}
    monkeypatch.undo()
    monkeypatch.setenv("KCNN_TRAIN_LOOP", "auto")
    outcomes = [execution.outcome for execution in executions]
    assert outcomes == [Outcome.DONE, Outcome.FAILED, Outcome.DONE, Outcome.LOST]
    assert runs[claims[1].run_id].error_kind == "diverged" and runs[claims[3].run_id].state == "cancelled"
    done = [claims[0], claims[2]]
    for claim in done:
        loop = [event for event in events[claim.run_id] if event["kind"] == "train_loop"]
        others = ", ".join(str(other.run_id) for other in claims if other.run_id != claim.run_id)
        assert loop and f"fused: trained as one program with runs {others}; " in loop[0]["message"]
    with Store(tmp_path / "solo") as solo:
        for claim in done:
            [added] = solo.add_runs([claim.config])
            alone = execute_claim(solo, solo.claim("w", run_id=added.run_id), RunSettings(device="cpu"))
            fused = runs[claim.run_id]
            assert alone.outcome is Outcome.DONE
            assert (alone.result.best_val_accuracy, alone.result.final_val_accuracy) == (
                fused.best_val_accuracy, fused.final_val_accuracy)  # fmt: skip
            assert (solo.run_folder(added.run_id) / "model-a1.keras").exists()


def test_a_member_that_cannot_start_withdraws_and_the_others_train(tmp_path):
    with Store(tmp_path / "store") as store:
        claims = _claims(store, [TINY.replace(seed=seed, epochs=1) for seed in range(3)], 3)
        connection = sqlite3.connect(tmp_path / "store" / "kcnn.sqlite")
        connection.execute("UPDATE runs SET config = ? WHERE id = ?", ('{"channels": 5}', claims[1].run_id))
        connection.commit()
        connection.close()
        claims[1] = dataclasses.replace(claims[1], config_json='{"channels": 5}')  # as the row now says
        executions = execute_group(tmp_path / "store", claims, RunSettings(device="cpu"), threading.Event())
        states = [store.get_run(claim.run_id).state for claim in claims]
    assert [execution.outcome for execution in executions] == [Outcome.DONE, Outcome.FAILED, Outcome.DONE]
    assert states == ["done", "failed", "done"]


@pytest.mark.slow
def test_resumed_runs_train_fused_from_their_checkpoints(tmp_path):
    """Two runs stopped after epoch 1 resume together and end as two uninterrupted runs do."""
    configs = [TINY.replace(seed=seed) for seed in range(2)]
    with Store(tmp_path / "store") as store:
        claims = _claims(store, configs, 2)
        stop = threading.Event()
        polls = iter(range(10**6))
        settings = RunSettings(device="cpu", checkpoint_seconds=0)
        from kcnn.training import callbacks

        original = callbacks.EpochRecorder.on_epoch_end

        def stop_after_first_epoch(self, epoch, logs=None):
            original(self, epoch, logs)
            if epoch == 0 and next(polls) == 1:  # both members have recorded epoch 1
                stop.set()

        callbacks.EpochRecorder.on_epoch_end = stop_after_first_epoch
        try:
            first = execute_group(tmp_path / "store", claims, settings, stop)
        finally:
            callbacks.EpochRecorder.on_epoch_end = original
        assert [execution.outcome for execution in first] == [Outcome.REQUEUED, Outcome.REQUEUED]
        assert [store.get_run(claim.run_id).checkpoint_epoch for claim in claims] == [1, 1]
        resumed = _claims(store, [], 2)
        second = execute_group(tmp_path / "store", resumed, settings, threading.Event())
        assert [execution.outcome for execution in second] == [Outcome.DONE, Outcome.DONE]
        assert all(execution.result.loop == "fused" for execution in second)
        fused = [store.get_run(claim.run_id) for claim in claims]
    with Store(tmp_path / "solo") as solo:
        for config, run in zip(configs, fused, strict=True):
            [added] = solo.add_runs([config])
            alone = execute_claim(solo, solo.claim("w", run_id=added.run_id), settings)
            assert alone.result.final_val_accuracy == run.final_val_accuracy
            assert [e["val_accuracy"] for e in solo.epochs(added.run_id)] == [
                e["val_accuracy"] for e in Store(tmp_path / "store").epochs(run.id)]  # fmt: skip


def test_the_group_size_follows_the_request_the_device_and_the_gpus_free_memory(tmp_path, monkeypatch):
    """kcnn chooses: one at a time on a CPU (fusing measured slower), on a GPU as many as half its free memory
    holds by the shape plan's estimate (at most 16); `--fuse K` caps it; a group never outgrows the memory."""
    import torch

    from kcnn.queue import fusion
    from kcnn.queue.memory import estimate_memory

    with Store(tmp_path / "store") as store:
        [claim] = _claims(store, [TINY], 1)
        sgd = _claims(store, [TINY.replace(optimizer="sgd")], 1)[0]
    member = estimate_memory(TINY, 0).activations + estimate_memory(TINY, 0).weights
    assert [fusion.group_size(claim, "cpu", requested) for requested in (0, 1, 5)] == [1, 1, 5]
    assert fusion.group_size(sgd, "cuda:0", 0) == 1
    for free, requested, expected in ((100 * member, 0, 16), (100 * member, 8, 8), (7 * member, 0, 3),
                                      (7 * member, 8, 3), (member, 0, 1)):  # fmt: skip
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device, free=free: (free, 2 * free))
        assert fusion.group_size(claim, "cuda:0", requested) == expected, (free / member, requested)


@pytest.mark.slow
def test_a_pruned_member_leaves_the_group_pruned_and_the_others_finish(tmp_path, monkeypatch):
    """The pruner stops one member between epochs (its epochs kept, state pruned); the others train on."""
    from kcnn.errors import Pruned
    from kcnn.queue import runner

    def pruning_check(store, claim):
        if claim.config.seed != 1:
            return None

        def check(record):
            if record.epoch == 2:
                raise Pruned("pruned by the median pruner after epoch 2 of 3 (trial 0)")

        return check

    monkeypatch.setattr(runner, "_pruning_check", pruning_check)
    with Store(tmp_path / "store") as store:
        claims = _claims(store, [TINY.replace(seed=seed) for seed in range(3)], 3)
        executions = execute_group(tmp_path / "store", claims, RunSettings(device="cpu"), threading.Event())
        runs = [store.get_run(claim.run_id) for claim in claims]
    assert [execution.outcome for execution in executions] == [Outcome.DONE, Outcome.PRUNED, Outcome.DONE]
    assert [(run.state, run.epochs_done) for run in runs] == [("done", 3), ("pruned", 2), ("done", 3)]
    assert all(execution.result.loop == "fused" for execution in executions[::2])
