import multiprocessing

from kcnn.config import ExperimentConfig
from kcnn.store import Store

PROCESSES = 8
RUNS = 200


def _claim_all(path, name, start, results) -> None:
    try:
        claimed = []
        with Store(path) as store:
            start.wait(60)  # all processes begin claiming at the same moment
            while (claim := store.claim(name, lease_seconds=60)) is not None:
                claimed.append(claim.run_id)
                store.record_epoch(claim, {"epoch": 1, "val_accuracy": 0.5})
                store.finish(claim, {})
        results.put((name, claimed))
    except BaseException as error:  # report every failure, "database is locked" included
        results.put((name, f"{type(error).__name__}: {error}"))


def test_eight_processes_claim_every_run_exactly_once(tmp_path):
    path = str(tmp_path / "store")
    with Store(path) as store:
        store.add_runs([ExperimentConfig(input_size=16, channels=(4,), seed=seed) for seed in range(RUNS)])
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Event()
    workers = [context.Process(target=_claim_all, args=(path, f"w{i}", start, results)) for i in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    errors = {name: value for name, value in outcomes.items() if isinstance(value, str)}
    assert not errors
    claimed = [run_id for ids in outcomes.values() for run_id in ids]
    assert sorted(claimed) == list(range(1, RUNS + 1))
    assert sum(1 for ids in outcomes.values() if ids) >= 2  # the claims really competed
    with Store(path) as store:
        assert store.count_by_state()["done"] == RUNS
        assert store.integrity_check() == "ok"
        claims = [e for e in store.events() if e["kind"] == "claimed"]
        assert len(claims) == RUNS
