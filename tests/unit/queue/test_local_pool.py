import pytest

from kcnn.errors import KcnnError
from kcnn.queue import local_pool as worker
from kcnn.queue.local_pool import plan_slots


def test_cpu_jobs_split_the_cores(monkeypatch):
    monkeypatch.setattr(worker, "available_cores", lambda: 8)
    slots = plan_slots(jobs=2)
    assert [(s.device, s.visible_gpus, s.threads) for s in slots] == [("cpu", "", 4), ("cpu", "", 4)]
    assert [s.threads for s in plan_slots(jobs=16)] == [1] * 16


def test_several_runs_per_gpu(monkeypatch):
    monkeypatch.setattr(worker, "available_cores", lambda: 16)
    slots = plan_slots(gpus=[0, 1], per_gpu=3)
    assert [s.visible_gpus for s in slots] == ["0", "0", "0", "1", "1", "1"]
    assert {s.device for s in slots} == {"cuda:0"}  # each child sees only its own GPU
    assert {s.threads for s in slots} == {2}
    assert [s.index for s in slots] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"jobs": 0}, "`--jobs` must be at least 1; got 0."),
        ({"gpus": [0], "per_gpu": 0}, "`--per-gpu` must be at least 1; got 0."),
    ],
)
def test_bad_slot_counts(kwargs, message):
    with pytest.raises(KcnnError, match=message):
        plan_slots(**kwargs)


@pytest.mark.parametrize(
    ("kills_grew", "state", "kind"), [(True, "failed", "out_of_memory"), (False, "queued", "crashed")]
)
def test_a_child_killed_by_the_oom_killer_fails_its_run_as_out_of_memory_not_retried(
    tmp_path, monkeypatch, kills_grew, state, kind
):
    """Issue 23, case 4: a run SIGKILLed by the OOM killer was retried at the same size and recorded as crashed."""
    import signal
    import subprocess
    import sys

    from kcnn.config import ExperimentConfig
    from kcnn.queue.child import child_worker_id
    from kcnn.queue.local_pool import ChildProcesses
    from kcnn.queue.settings import WorkerSettings
    from kcnn.store import Store

    counts = iter([3, 4 if kills_grew else 3])
    monkeypatch.setattr(worker, "oom_kills", lambda: next(counts))
    with Store(tmp_path / "s") as store:
        store.add_runs([ExperimentConfig(epochs=1)])
        pool = ChildProcesses(plan_slots(jobs=1), WorkerSettings(store_path=tmp_path / "s"), log=lambda line: None)
        slot = pool.slots[0]
        slot.base_id, slot.oom_kills = "w-sup", worker.oom_kills()
        slot.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        store.claim(child_worker_id(slot.base_id, slot.process.pid))
        slot.process.send_signal(signal.SIGKILL)
        slot.process.wait()
        pool._reap_child(store, slot)
        (run,) = store.runs()
    assert (run.state, run.error_kind) == (state, kind)
    if kills_grew:
        assert "out-of-memory killer" in run.error_message and "lower `input_size` or `batch_size`" in run.error_message


def test_a_child_that_found_the_disk_full_stops_the_worker(tmp_path):
    import subprocess
    import sys

    from kcnn.queue.local_pool import ChildProcesses
    from kcnn.queue.settings import EXIT_DISK_FULL, WorkerSettings
    from kcnn.store import Store

    lines = []
    with Store(tmp_path / "s") as store:
        pool = ChildProcesses(plan_slots(jobs=1), WorkerSettings(store_path=tmp_path / "s"), log=lines.append)
        slot = pool.slots[0]
        slot.base_id = "w-sup"
        slot.process = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({EXIT_DISK_FULL})"])
        slot.process.wait()
        pool._reap_child(store, slot)
    assert pool.stopping and any("the disk holding the store is full; stopping the worker" in line for line in lines)
