import json
import subprocess
import sys
import textwrap
import time

import pytest

from kcnn.config import ExperimentConfig
from kcnn.store import Store

PROCESSES = 8
RUNS = 200

CLAIMER = textwrap.dedent(
    """
    import json, os, sys, time
    from kcnn.contract import EpochRecord
    from kcnn.store import Store

    path, name, start_file = sys.argv[1:4]
    claimed = []
    try:
        with Store(path) as store:
            open(start_file + "." + name + ".ready", "w").close()  # kcnn imported, store open
            while not os.path.exists(start_file):  # all processes begin claiming at the same moment
                time.sleep(0.001)
            while (claim := store.claim(name, lease_seconds=60)) is not None:
                claimed.append(claim.run_id)
                store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=0.5))
                store.finish(claim)
                time.sleep(0.005)  # a run takes time: the others claim meanwhile (on 2 cores one could drain all)
        print(json.dumps(claimed))
    except BaseException as error:  # report every failure, "database is locked" included
        print(json.dumps(f"{type(error).__name__}: {error}"))
    """
)


@pytest.mark.slow
def test_eight_processes_claim_every_run_exactly_once(tmp_path):
    path = str(tmp_path / "store")
    start_file = tmp_path / "start"
    with Store(path) as store:
        store.add_runs([ExperimentConfig(input_size=16, channels=(4,), seed=seed) for seed in range(RUNS)])
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, path, f"w{i}", str(start_file)], stdout=subprocess.PIPE, text=True
        )
        for i in range(PROCESSES)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("start.*.ready"))) < PROCESSES:  # every process has opened the store
        assert time.monotonic() < deadline, "the claiming processes did not start"
        assert all(worker.poll() is None for worker in workers), "a claiming process exited early"
        time.sleep(0.01)
    start_file.touch()
    outcomes = {f"w{i}": json.loads(worker.communicate(timeout=120)[0]) for i, worker in enumerate(workers)}
    errors = {name: value for name, value in outcomes.items() if isinstance(value, str)}
    assert not errors
    claimed = [run_id for ids in outcomes.values() for run_id in ids]
    assert sorted(claimed) == list(range(1, RUNS + 1))
    assert sum(1 for ids in outcomes.values() if ids) >= 2  # the claims really competed
    with Store(path) as store:
        assert store.count_by_state()["done"] == RUNS
        assert store.integrity_check() == "ok"
        assert len([e for e in store.events() if e["kind"] == "claimed"]) == RUNS
