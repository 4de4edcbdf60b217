"""A worker that finds no room on the disk for a run's files gives it back and stops claiming (issue 24)."""

import threading

import pytest

from kcnn.config import ExperimentConfig
from kcnn.queue import disk_space
from kcnn.queue.disk_space import LowDiskSpace, bytes_needed, space_problem
from kcnn.queue.serve import serve_claims
from kcnn.store import Store


def test_a_run_needs_about_eight_copies_of_its_weights():
    config = ExperimentConfig(input_size=128, channels=(32, 64))
    weights = 4 * config.plan(num_classes=2).params
    assert bytes_needed(config) == 8 * weights + disk_space.MARGIN


def test_the_problem_names_the_folder_the_space_and_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv(disk_space.FAKE_FREE_VARIABLE, str(10**6))
    problem = space_problem(tmp_path, [(7, ExperimentConfig())])
    assert problem.startswith(f"the disk holding {tmp_path} has 1 MB free, and run 7 needs about ")
    assert "kcnn store prune --keep-top 5" in problem and "\n" not in problem
    monkeypatch.setenv(disk_space.FAKE_FREE_VARIABLE, str(10**12))
    assert space_problem(tmp_path, [(7, ExperimentConfig())]) is None


def test_the_claim_loop_gives_the_run_back_and_stops(tmp_path, monkeypatch):
    monkeypatch.setenv(disk_space.FAKE_FREE_VARIABLE, "1000")
    lines, executed = [], []
    with Store(tmp_path / "s") as store:
        [added] = store.add_runs([ExperimentConfig(epochs=1)])
        with pytest.raises(LowDiskSpace):
            serve_claims(store, "w", executed.append, stop=threading.Event(), lease_seconds=60, poll_seconds=0.01,
                         once=True, log=lines.append)  # fmt: skip
        run = store.get_run(added.run_id)
    assert executed == [] and run.state == "queued" and run.retries == 0  # given back, never trained or failed
    assert len(lines) == 1 and "this worker claims no more runs" in lines[0]
