"""The Ray executor's protocol, in one process: a real `SlotActor` behind a stand-in for Ray's calls.

What the head records must not depend on where a run trained: the same claim executed through
`RemoteTrainer` and in-process gives the same epochs, models and accuracies.
"""

import math
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kcnn.config import ExperimentConfig
from kcnn.errors import DivergedError, KcnnError, Pruned, StopRequested
from kcnn.queue.ray_head import plan_ray_slots
from kcnn.queue.ray_slot import SlotActor
from kcnn.queue.ray_trainer import DatasetCache, RemoteTrainer, SlotLost, first_line
from kcnn.queue.runner import Outcome, RunSettings, execute_claim
from kcnn.store import Store
from kcnn.training.train import TrainingHooks

ray_exceptions = pytest.importorskip("ray.exceptions", reason="needs Ray: pip install 'kcnn[ray]'")

TINY = ExperimentConfig(input_size=16, channels=(4,), kernel_size=2, dense_units=8, epochs=3, test_split=0.2)


class Ref:
    """An object reference whose value was computed when the call was made (or the error it raised)."""

    def __init__(self, call):
        try:
            self.value, self.error = call(), None
        except Exception as error:
            self.value, self.error = None, error


class InProcessRay:
    """What `RemoteTrainer` and `DatasetCache` use of the ray module, without Ray: calls run at once."""

    def __init__(self):
        self.dead = False
        self.puts = 0

    def get(self, ref, timeout=None):
        if self.dead:
            raise ray_exceptions.ActorDiedError()
        if ref.error is not None:
            raise ref.error
        return ref.value

    def put(self, value):
        self.puts += 1
        return value


class Handle:
    """``actor.method.remote(*args)`` on a local object."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        method = getattr(self._target, name)
        return type("Method", (), {"remote": staticmethod(lambda *args: Ref(lambda: method(*args)))})


@pytest.fixture(scope="module")
def actor():
    slot = SlotActor(threads=1)
    yield slot
    slot.close()


def remote_trainer(actor, ray=None, on_lost=lambda: None):
    ray = ray or InProcessRay()
    return RemoteTrainer(ray, Handle(actor), DatasetCache(ray), lambda: "Ray slot 1 on node test", on_lost=on_lost,
                         poll_seconds=0.05)  # fmt: skip


def execute(tmp_path: Path, trainer=None):
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY])
        claim = store.claim("test-worker")
        execution = execute_claim(store, claim, RunSettings(device="cpu", checkpoint_seconds=0), trainer=trainer)
        run = store.get_run(claim.run_id)
        epochs = store.epochs(claim.run_id)
        files = sorted(path.name for path in store.run_folder(claim.run_id).iterdir())
    return execution, run, epochs, files


@pytest.mark.slow
def test_a_run_trained_on_a_slot_is_recorded_as_one_trained_here(tmp_path, actor):
    remote, run, epochs, files = execute(tmp_path / "remote", remote_trainer(actor))
    local, local_run, local_epochs, local_files = execute(tmp_path / "local")

    assert remote.outcome is local.outcome is Outcome.DONE
    assert files == local_files == ["best-a1.keras", "classes.json", "model-a1.keras"]
    assert [e["val_accuracy"] for e in epochs] == [e["val_accuracy"] for e in local_epochs]
    assert run.best_val_accuracy == local_run.best_val_accuracy
    assert remote.result.best_test_accuracy == local.result.best_test_accuracy  # scored on the slot
    assert remote.result.best_test_accuracy is not None and math.isfinite(remote.result.best_test_accuracy)


def test_a_checkpoint_resumes_on_the_slot(tmp_path, actor):
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY])
        claim = store.claim("first")
        stop = threading.Event()
        hooks_seen = []

        def stop_after_two(record):
            hooks_seen.append(record.epoch)
            if record.epoch == 2:
                stop.set()

        execution = execute_claim(store, claim, RunSettings(device="cpu", checkpoint_seconds=0), stop=stop,
                                  on_epoch=stop_after_two, trainer=remote_trainer(actor))  # fmt: skip
        assert execution.outcome is Outcome.REQUEUED
        resumed = store.claim("second")
        assert resumed.checkpoint_epoch == 2
        execution = execute_claim(store, resumed, RunSettings(device="cpu"), trainer=remote_trainer(actor))
        assert execution.outcome is Outcome.DONE
        assert [(e["epoch"], e["attempt"]) for e in store.epochs(claim.run_id)] == [(1, 1), (2, 1), (3, 2)]


def test_a_stop_asked_here_ends_the_run_on_the_slot(actor):
    trainer = remote_trainer(actor)
    with pytest.raises(StopRequested):
        trainer.train(TINY, device="cpu", dataset=None, hooks=TrainingHooks(should_stop=lambda: True), resume=None)


def test_a_run_pruned_here_is_abandoned_on_the_slot_and_the_slot_trains_the_next(actor):
    trainer = remote_trainer(actor)

    def prune(record, model):
        raise Pruned("pruned at epoch 1")

    with pytest.raises(Pruned):
        trainer.train(TINY, device="cpu", dataset=None, hooks=TrainingHooks(after_epoch=prune), resume=None)
    result = trainer.train(TINY, device="cpu", dataset=None, hooks=TrainingHooks(), resume=None)
    assert [record.epoch for record in result.history] == [1, 2, 3]


def test_an_error_on_the_slot_arrives_as_itself_with_where_it_happened(actor, monkeypatch):
    monkeypatch.setenv("KCNN_INJECT_FAULTS", f"nan@seed={TINY.seed},epoch=2")
    trainer = remote_trainer(actor)
    with pytest.raises(DivergedError) as raised:
        trainer.train(TINY, device="cpu", dataset=None, hooks=TrainingHooks(), resume=None)
    assert raised.value.epoch == 2
    assert any("raised on Ray slot 1 on node test" in note for note in raised.value.__notes__)


def test_a_dead_actor_is_a_lost_slot(actor):
    ray = InProcessRay()
    lost = []
    trainer = remote_trainer(actor, ray, on_lost=lambda: lost.append(True))
    ray.dead = True
    with pytest.raises(SlotLost, match="Ray slot 1 on node test was lost"):
        trainer.train(TINY, device="cpu", dataset=None, hooks=TrainingHooks(), resume=None)
    assert lost == [True]


def test_each_dataset_is_loaded_and_put_once():
    ray = InProcessRay()
    cache = DatasetCache(ray, keep=1)
    first = cache.ref(TINY)
    assert cache.ref(TINY.replace(seed=5, kernel_size=3)) is first  # same images: same reference
    cache.ref(TINY.replace(input_size=20))
    assert (cache.loads, ray.puts) == (2, 2)
    cache.ref(TINY)  # evicted (keep=1): loaded again
    assert cache.loads == 3


@pytest.mark.parametrize(
    ("resources", "options", "expected"),
    [
        ({"CPU": 8.0}, {}, (8, 1.0, 0.0, "cpu", 8)),
        ({"CPU": 8.0}, {"cpus_per_run": 2.0}, (4, 2.0, 0.0, "cpu", 4)),
        ({"CPU": 8.0}, {"jobs": 3}, (3, 1.0, 0.0, "cpu", 8)),
        ({"CPU": 2.0}, {"jobs": 5}, (5, 1.0, 0.0, "cpu", 2)),  # 3 start when the cluster grows
        ({"CPU": 2.0, "GPU": 2.0}, {"per_gpu": 4}, (8, 0.0, 0.25, "auto", 8)),
        ({"CPU": 1.0, "GPU": 2.0}, {"per_gpu": 2, "cpus_per_run": 1.0}, (1, 1.0, 0.5, "auto", 1)),
    ],
)
def test_slots_fill_the_cluster(resources, options, expected):
    plan = plan_ray_slots(resources, **options)
    assert (plan.count, plan.num_cpus, plan.num_gpus, plan.device, plan.fits) == expected


@pytest.mark.parametrize(
    ("resources", "options", "message"),
    [
        ({"CPU": 8.0}, {"per_gpu": 2}, "the Ray cluster has no GPU"),
        ({"CPU": 1.0}, {"cpus_per_run": 4.0}, "fewer than `--cpus-per-run` 4"),
        ({"CPU": 1.0}, {"cpus_per_run": 0.0}, "must be greater than 0"),
    ],
)
def test_impossible_slots_say_why_in_one_line(resources, options, message):
    with pytest.raises(KcnnError, match=message) as raised:
        plan_ray_slots(resources, **options)
    assert "\n" not in str(raised.value)


def test_a_ray_error_is_told_by_its_cause():
    creation_failed = RuntimeError(
        "The actor died because of an error raised in its creation task, \x1b[36mray::SlotActor.__init__()\x1b[39m "
        '(pid=2547, ip=127.0.0.1)\n  File "kcnn/__init__.py", line 1, in <module>\n'
        "ImportError: kcnn is not installed on this node\n"
    )
    assert first_line(creation_failed) == "ImportError: kcnn is not installed on this node"
    assert first_line(RuntimeError("The actor is unavailable\nmore")) == "The actor is unavailable"
    assert first_line(RuntimeError("")) == "RuntimeError"


def test_a_slot_leaves_no_files_behind_even_when_killed_without_close(tmp_path, monkeypatch):
    """Ray kills a slot's actor at the end (`close` never runs): the resumed checkpoint's copy and the model
    bytes it sent must not outlive the calls that wrote them (they piled up in /tmp, one folder per actor); and
    the folder of a slot killed inside such a call is removed by the next slot started on the node."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    (tmp_path / "tmp" / f"kcnn-slot-{killed.pid}-k1ll").mkdir(parents=True)
    with Store(tmp_path / "store") as store:
        store.add_runs([TINY])
        claim = store.claim("first")
        stop = threading.Event()
        slot = SlotActor(threads=1)
        execution = execute_claim(store, claim, RunSettings(device="cpu", checkpoint_seconds=0), stop=stop,
                                  on_epoch=lambda record: record.epoch == 2 and stop.set(),
                                  trainer=remote_trainer(slot))  # fmt: skip
        assert execution.outcome is Outcome.REQUEUED
        resumed = store.claim("second")
        execution = execute_claim(store, resumed, RunSettings(device="cpu"), trainer=remote_trainer(slot))
        assert execution.outcome is Outcome.DONE and resumed.checkpoint_epoch == 2
    left = [path.name for path in (tmp_path / "tmp").iterdir() if path.name.startswith("kcnn-")]
    assert left == []  # no close(), as Ray's kill leaves the actor (torch's own caches may appear: not kcnn's)
