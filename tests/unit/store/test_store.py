import sqlite3

import pytest

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunSummary
from kcnn.errors import FinishedRunError, LeaseLost, StoreError
from kcnn.store import FailureKind, RunState, Store
from kcnn.store.schema import SCHEMA_VERSION

CONFIG = ExperimentConfig(input_size=16, channels=(4,), epochs=3)


@pytest.fixture(params=["new", "reopened"])
def store(request, tmp_path):
    """A store used as created, or closed and opened again (migrations must be idempotent)."""
    created = Store(tmp_path / "store")
    if request.param == "reopened":
        created.close()
        created = Store(tmp_path / "store")
    yield created
    assert created.integrity_check() == "ok"
    created.close()


def _epoch(number: int, val_accuracy: float = 0.5) -> dict:
    return {
        "epoch": number,
        "loss": 1.0,
        "accuracy": 0.5,
        "val_loss": 1.0,
        "val_accuracy": val_accuracy,
        "seconds": 0.1,
        "images_per_second": 100.0,
    }


def test_add_dedupes_same_config_and_seed(store):
    first = store.add_runs([CONFIG, CONFIG.replace(seed=1)])
    again = store.add_runs([CONFIG, CONFIG.replace(seed=2)])
    assert [r.created for r in first] == [True, True]
    assert [(r.run_id, r.created) for r in again] == [(1, False), (3, True)]
    assert store.count_by_state()["queued"] == 3


def test_claim_takes_highest_priority_then_oldest(store):
    store.add_runs([CONFIG.replace(seed=s) for s in range(3)])
    store.prioritize(3, 5)
    assert [store.claim("w").run_id for _ in range(3)] == [3, 1, 2]
    assert store.claim("w") is None


def test_claim_increments_attempt_and_logs_events(store):
    store.add_runs([CONFIG])
    claim = store.claim("w1", lease_seconds=30)
    assert (claim.run_id, claim.attempt, claim.checkpoint_epoch) == (1, 1, 0)
    run = store.get_run(1)
    assert run.state == "running" and run.worker_id == "w1" and run.lease_expires > store.now()
    assert [e["kind"] for e in store.events(1)] == ["queued", "claimed"]


def test_record_epoch_and_finish(store):
    store.add_runs([CONFIG])
    claim = store.claim("w")
    store.record_epoch(claim, EpochRecord(**_epoch(1, 0.4)), checkpoint="c1.keras")
    store.record_epoch(claim, EpochRecord(**_epoch(2, 0.6)), checkpoint="c2.keras")
    store.record_epoch(claim, EpochRecord(**_epoch(3, 0.5)))
    store.finish(claim, RunSummary({"params": 10, "flops_per_image": 20, "device": "cpu"}), model="m.keras")
    run = store.get_run(1)
    assert run.state == "done" and run.run_state.is_finished()
    assert (run.best_val_accuracy, run.final_val_accuracy) == (0.6, 0.5)
    assert (run.epochs_done, run.checkpoint_epoch, run.checkpoint, run.model) == (3, 2, "c2.keras", "m.keras")
    assert run.train_seconds == pytest.approx(0.3)
    assert [e["epoch"] for e in store.epochs(1)] == [1, 2, 3]


def test_stale_claim_is_fenced_out(store):
    store.add_runs([CONFIG])
    old = store.claim("w1")
    store.record_epoch(old, EpochRecord(**_epoch(1)), checkpoint="c1.keras")
    assert store.fail(old, FailureKind.CRASHED, "boom") is RunState.QUEUED
    new = store.claim("w2")
    assert (new.attempt, new.checkpoint_epoch, new.checkpoint) == (2, 1, "c1.keras")
    for write in (
        lambda: store.heartbeat(old),
        lambda: store.record_epoch(old, EpochRecord(**_epoch(2, 0.99))),
        lambda: store.finish(old, None),
        lambda: store.fail(old, FailureKind.CRASHED, "late"),
        lambda: store.release(old),
    ):
        with pytest.raises(LeaseLost):
            write()
    run = store.get_run(1)
    assert (run.state, run.attempt, run.worker_id, run.epochs_done) == ("running", 2, "w2", 1)
    assert [e["epoch"] for e in store.epochs(1)] == [1]


def test_crashes_requeue_until_max_attempts_then_fail(store):
    store.add_runs([CONFIG], max_attempts=2)
    assert store.fail(store.claim("w"), FailureKind.CRASHED, "one") is RunState.QUEUED
    assert store.fail(store.claim("w"), FailureKind.CRASHED, "two") is RunState.FAILED
    run = store.get_run(1)
    assert (run.state, run.error_kind, run.retries) == ("failed", "crashed", 2)


@pytest.mark.parametrize("kind", [k for k in FailureKind if k is not FailureKind.CRASHED])
def test_other_failures_are_not_retried(store, kind):
    store.add_runs([CONFIG])
    assert store.fail(store.claim("w"), kind, "why") is RunState.FAILED
    assert store.get_run(1).error_kind == kind.value


def test_release_requeues_without_counting_a_failure(store):
    store.add_runs([CONFIG], max_attempts=1)
    store.release(store.claim("w"), "stopping")
    run = store.get_run(1)
    assert (run.state, run.retries) == ("queued", 0)
    assert store.events(1)[-1]["message"] == "interrupted: stopping"


def test_reap_requeues_expired_leases(store):
    store.add_runs([CONFIG, CONFIG.replace(seed=1)], max_attempts=1)
    store.add_runs([CONFIG.replace(seed=2)])
    short = store.claim("dead", lease_seconds=-1)  # a lease that has already expired: no waiting
    store.claim("alive", lease_seconds=60)
    third = store.claim("dead2", lease_seconds=-1)
    assert sorted(store.reap()) == [short.run_id, third.run_id]
    assert store.get_run(short.run_id).state == "failed"  # max_attempts=1
    assert store.get_run(third.run_id).state == "queued"
    assert store.get_run(2).state == "running"
    with pytest.raises(LeaseLost):
        store.heartbeat(third)


def test_cancel_running_fences_its_worker(store):
    store.add_runs([CONFIG])
    claim = store.claim("w")
    store.cancel([1])
    with pytest.raises(LeaseLost):
        store.record_epoch(claim, EpochRecord(**_epoch(1)))
    assert store.get_run(1).state == "cancelled"


def test_finished_runs_refuse_changes(store):
    store.add_runs([CONFIG])
    claim = store.claim("w")
    store.finish(claim)
    with pytest.raises(FinishedRunError) as caught:
        store.cancel([1])
    assert str(caught.value) == "Run 1 is done; only queued or running runs can be cancelled."
    with pytest.raises(StoreError, match=r"^Run 1 is done; only failed or cancelled runs can be retried\.$"):
        store.retry([1])
    with pytest.raises(StoreError, match=r"^Run 1 is done; only queued runs can be prioritized\.$"):
        store.prioritize(1, 3)
    with pytest.raises(StoreError, match=r"^There is no run 9 in this store"):
        store.get_run(9)


def test_retry_resumes_or_starts_fresh(store):
    store.add_runs([CONFIG, CONFIG.replace(seed=1)])
    for _ in (1, 2):
        claim = store.claim("w")
        store.record_epoch(claim, EpochRecord(**_epoch(1)), checkpoint="c.keras")
        store.fail(claim, FailureKind.DIVERGED, "nan")
    assert store.retry([1]) == [1]
    assert store.get_run(1).checkpoint_epoch == 1
    assert store.retry(None, fresh=True) == [2]
    run = store.get_run(2)
    assert (run.state, run.checkpoint_epoch, run.checkpoint, store.epochs(2)) == ("queued", 0, None, [])


def test_events_are_append_only(store):
    store.add_runs([CONFIG])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("UPDATE events SET kind = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("DELETE FROM events")


def test_wal_mode_and_schema_version(store):
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path):
    Store(tmp_path / "s").close()
    connection = sqlite3.connect(tmp_path / "s" / "kcnn.sqlite")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match="newer than this kcnn"):
        Store(tmp_path / "s")


def test_store_path_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="is a file; `--store` must name a folder"):
        Store(tmp_path / "f")


def test_finish_keeps_the_device_facts(store):
    store.add_runs([CONFIG])
    claim = store.claim("w")
    for number in (1, 2, 3):
        store.record_epoch(claim, EpochRecord(**_epoch(number)))
    summary = {"params": 10, "flops_per_image": 1000, "device": "cuda:0", "device_name": "NVIDIA H200",
               "peak_flops": 67e12, "train_loop": "torch"}  # fmt: skip
    store.finish(claim, RunSummary(summary))
    run = store.get_run(claim.run_id)
    assert (run.device_name, run.peak_flops, run.train_loop) == ("NVIDIA H200", 67e12, "torch")
    assert run.flops_per_second == pytest.approx(3 * 1000 * 100.0)


def test_finish_records_the_median_images_per_second_as_the_run_result_does(store):
    store.add_runs([CONFIG])
    claim = store.claim("w")
    for number, rate in ((1, 10.0), (2, 400.0), (3, 30.0)):
        store.record_epoch(claim, EpochRecord(**{**_epoch(number), "images_per_second": rate}))
    store.finish(claim)
    assert store.get_run(claim.run_id).images_per_second == 30.0


def test_claim_handles_of_two_runs_write_and_fail_each_on_its_own(store):
    """What a fused backend relies on: one handle per member; a cancelled member's writes fail alone."""
    from kcnn.errors import LeaseLost

    store.add_runs([CONFIG, CONFIG.replace(seed=1)])
    first, second = store.handle(store.claim("w")), store.handle(store.claim("w"))
    for handle in (first, second):
        handle.heartbeat(30)
        handle.record_epoch(EpochRecord(epoch=1, val_accuracy=0.5, seconds=1.0))
    store.cancel([first.run_id])
    with pytest.raises(LeaseLost):
        first.record_epoch(EpochRecord(epoch=2, val_accuracy=0.6, seconds=1.0))
    second.record_epoch(EpochRecord(epoch=2, val_accuracy=0.7, seconds=1.0))
    second.finish(RunSummary({"params": 7}))
    assert [store.get_run(run_id).state for run_id in (first.run_id, second.run_id)] == ["cancelled", "done"]
    assert store.get_run(second.run_id).metrics["params"] == 7
    assert [epoch["epoch"] for epoch in second.epochs()] == [1, 2]


def fill_the_disk(store):
    """Let the database grow no more: SQLite then fails every growing write with SQLITE_FULL, as on a full disk."""
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_is_said_as_such_and_leaves_the_store_as_it_was(store):
    """Issue 23, case 12: `queue add` said "cannot rollback - no transaction is active; … newer or damaged store?"."""
    from kcnn.errors import StoreFull

    store.add_runs([ExperimentConfig(epochs=1)])
    fill_the_disk(store)
    with pytest.raises(StoreFull, match=r"^The disk holding the store .* is full \(database or disk is full\)"):
        store.add_runs([ExperimentConfig(epochs=1, seed=seed) for seed in range(1, 400)])
    assert not store._conn.in_transaction and store.count_by_state()["queued"] == 1
    assert store.integrity_check() == "ok"
    store._conn.execute("PRAGMA max_page_count = 1073741823")  # space freed: the same command works
    assert len(store.add_runs([ExperimentConfig(epochs=1, seed=seed) for seed in range(1, 400)])) == 399
