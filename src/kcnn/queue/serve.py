"""The claim loop of one slot: advance studies, claim a run, execute it, again — until stopped.

Shared by local worker children (`kcnn.queue.child`) and the slots of a Ray head
(`kcnn.queue.ray_head`), so a run is claimed and recorded the same way wherever it trains.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from kcnn.errors import ConfigError, LeaseLost
from kcnn.queue.disk_space import LowDiskSpace, space_problem
from kcnn.queue.fusion import claim_partners
from kcnn.queue.runner import Execution
from kcnn.queue.studies import advance_studies, studies_to_wait_for
from kcnn.store import Claim, Store


def describe_execution(worker_id: str, claim: Claim, execution: Execution) -> str:
    """The one line a worker prints when a run's execution ends."""
    detail = f" ({execution.error_kind.value})" if execution.error_kind else ""
    if execution.result is not None:
        detail = f" (best val acc {execution.result.best_val_accuracy:.2%})"
    return f"[{worker_id}] run {claim.run_id} attempt {claim.attempt}: {execution.outcome.value}{detail}"


def serve_claims(
    store: Store,
    worker_id: str,
    execute: Callable[[Claim], Execution],
    *,
    stop: threading.Event,
    lease_seconds: float,
    poll_seconds: float,
    once: bool = False,
    ready: Callable[[], bool] | None = None,
    on_first_idle: Callable[[], None] | None = None,
    log: Callable[[str], None] = print,
    group_size: Callable[[Claim], int] | None = None,
    execute_group: Callable[[list[Claim]], list[Execution]] | None = None,
) -> None:
    """Claim and execute runs until `stop` is set (with `once`: until nothing is left to do).

    Args:
        store: This thread's store connection.
        worker_id: The id claims are made under.
        execute: Trains one claim to its end and records it.
        stop: Set to stop after the current run (which `execute` abandons and requeues itself).
        lease_seconds: The lease of each claim.
        poll_seconds: How long to wait before looking again when the queue is empty.
        once: Return when the queue is empty and no study this process can advance is running (a running study
            queues more runs).
        ready: Whether the slot can train now (a Ray actor being restarted cannot); nothing is claimed while
            it says no. It may block up to about `poll_seconds`.
        on_first_idle: Called once, the first time the queue is found empty before any run (warm-up).
        log: Where the line of each finished execution goes.
        group_size: How many runs to claim with a first one, to train as one program (`kcnn.queue.fusion`).
        execute_group: Trains several claims as one program (with `group_size`).

    Raises:
        LowDiskSpace: When the disk has no room for a claimed run's files, before or while it trains (the run
            was given back, at its last checkpoint).
    """
    while not stop.is_set():
        if ready is not None and not ready():
            stop.wait(poll_seconds / 10)
            continue
        advance_studies(store, worker_id)  # a study whose runs finished queues its next ones first
        claim = store.claim(worker_id, lease_seconds)
        if claim is None:
            if once and not studies_to_wait_for(store):
                return
            if on_first_idle is not None:
                idle, on_first_idle = on_first_idle, None
                idle()
                continue
            stop.wait(poll_seconds)
            continue
        on_first_idle = None
        claims = [claim]
        if group_size is not None and execute_group is not None:
            claims += claim_partners(store, claim, worker_id, lease_seconds, group_size(claim) - 1)
        _check_space(store, claims, worker_id, log)
        try:
            executions = execute_group(claims) if len(claims) > 1 and execute_group else [execute(claim)]
        except LowDiskSpace as error:  # a file found the disk full mid-run: the run was given back
            log(f"[{worker_id}] {error}; this worker claims no more runs")
            raise
        for done, execution in zip(claims, executions, strict=True):
            log(describe_execution(worker_id, done, execution))


def _check_space(store: Store, claims: list[Claim], worker_id: str, log: Callable[[str], None]) -> None:
    """Give the claims back and stop claiming when the disk has no room for their files (`kcnn.queue.disk_space`).

    Raises:
        LowDiskSpace: After the runs were given back (not counted as failures) and the line logged.
    """
    needed = []
    for claim in claims:
        try:
            needed.append((claim.run_id, claim.config))
        except ConfigError:
            continue  # the execution fails it as invalid_config, writing nothing
    problem = space_problem(store.artifacts, needed)
    if problem is None:
        return
    for claim in claims:
        with contextlib.suppress(LeaseLost):
            store.release(claim, "not enough free disk space for its files")
    log(f"[{worker_id}] {problem}; this worker claims no more runs")
    raise LowDiskSpace(problem)


class LeaseReaper:
    """Requeues runs whose lease expired: once at start, then every half lease (a supervisor's or Ray head's chore).

    Args:
        store: The watching process's store connection.
        lease_seconds: The lease its workers take.
        log: Where the requeued runs are said.
    """

    def __init__(self, store: Store, lease_seconds: float, log: Callable[[str], None]) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.log = log
        reaped = store.reap()
        if reaped:
            log(f"requeued {len(reaped)} run(s) whose lease had expired: {', '.join(map(str, reaped))}")
        self.last = time.monotonic()

    def tick(self) -> None:
        """Reap again when half a lease has passed since the last time."""
        if time.monotonic() - self.last > self.lease_seconds / 2:
            for run_id in self.store.reap():
                self.log(f"run {run_id}: lease expired; requeued or failed")
            self.last = time.monotonic()
