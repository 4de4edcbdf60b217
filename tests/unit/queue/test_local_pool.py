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
