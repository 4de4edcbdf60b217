"""One supervisor loop for every executor: signals, the worker registry, the lease reaper, failing held runs.

`kcnn worker` (child processes, `kcnn.queue.local_pool`) and `kcnn worker --ray` (Ray actors,
`kcnn.queue.ray_head`) differ only in where their slots train; `Supervisor` does the rest once:

- first SIGINT/SIGTERM: the executor's slots abandon their epoch, requeue their runs and end; second: the
  executor ends its slots at once and the supervisor releases every run they held;
- the worker registry (`kcnn workers`) holds this process with one description per slot, updated when one
  changes;
- leases that lapsed (a killed worker anywhere) are reaped once at start and then every half lease.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from kcnn.errors import LeaseLost
from kcnn.queue import registry
from kcnn.queue.serve import LeaseReaper
from kcnn.queue.settings import WorkerSettings
from kcnn.store import FailureKind, RunState, Store


class Executor(Protocol):
    """Where a worker's slots train: local child processes, Ray actors, or (next) fused GPU groups.

    Each slot claims runs itself (`kcnn.queue.serve.serve_claims`) and executes each claim with
    `kcnn.queue.runner.execute_claim`, so every run is heartbeated, fenced, checkpointed and failed on its own.
    Nothing here assumes one run per slot: a backend that trains several compatible claims as one program
    claims them in one slot and still drives each through its own claim, so one member can fail, be pruned
    or be cancelled alone.
    """

    def open(self) -> None:
        """Connect to what the slots need (before the supervisor's signal handlers are installed)."""

    def start(self) -> None:
        """Start the slots (they may begin claiming at once)."""

    def labels(self) -> list[str]:
        """One description per slot, for the worker registry."""
        ...

    def worker_ids(self) -> list[str]:
        """The worker ids under which the slots hold claims now (for a forced stop)."""
        ...

    def step(self, store: Store) -> bool:
        """One supervision pass (replace a dead slot, fail what it held, start idle ones); False once all ended."""
        ...

    def request_stop(self) -> None:
        """Ask every slot to abandon its epoch, requeue its run and end."""

    def force_stop(self) -> None:
        """End every slot at once (the supervisor then releases what they held)."""

    def close(self) -> None:
        """Release what `open` and `start` took; always called."""


def fail_held(
    store: Store, worker_id: str, reason: str, kind: FailureKind = FailureKind.CRASHED
) -> list[tuple[int, RunState]]:
    """Record a failure on every run `worker_id` holds; each run and its new state.

    A crash is requeued while attempts remain; any other kind (``out_of_memory``: it would only be killed
    again at the same size) fails the run.
    """
    failed = []
    for claim in store.running_claims(worker_id):
        try:
            failed.append((claim.run_id, store.fail(claim, kind, reason)))
        except LeaseLost:
            continue
    return failed


class Supervisor:
    """Runs one executor until it is stopped or, with ``once``, until the queue is drained.

    Args:
        executor: Where the slots train.
        settings: The worker's settings (store, lease, once, …).
        log: Where progress lines go.
    """

    def __init__(self, executor: Executor, settings: WorkerSettings, log: Callable[[str], None] = print) -> None:
        self.executor = executor
        self.settings = settings
        self.log = log
        self.stopping = False

    def run(self) -> int:
        """Supervise until stopped (or, with ``once``, until the queue is drained).

        Returns:
            0 after a clean drain or polite stop.
        """
        try:
            self.executor.open()  # first: `ray.init` installs a SIGTERM handler of its own
            previous = {}
            if threading.current_thread() is threading.main_thread():
                previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                return self._run()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        finally:
            self.executor.close()

    def _run(self) -> int:
        path = self.settings.store_path
        started = time.time()
        labels = self.executor.labels()
        registry.register(path, labels, self.settings.once, started=started)
        try:
            self.executor.start()
            with Store(path) as store:
                reaper = LeaseReaper(store, self.settings.lease_seconds, self.log)
                while self.executor.step(store):
                    if not self.stopping:
                        reaper.tick()
                    now = self.executor.labels()
                    if now != labels:
                        labels = now
                        registry.register(path, labels, self.settings.once, started=started)
            return 0
        finally:
            registry.unregister(path)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            self.log("stopping: slots finish their current step, requeue their runs and end (again to force)")
            self.executor.request_stop()
            return
        self.log("forced stop: ending every slot and releasing its runs")
        held = self.executor.worker_ids()
        self.executor.force_stop()
        with Store(self.settings.store_path) as store:
            for worker_id in held:
                for claim in store.running_claims(worker_id):
                    with contextlib.suppress(LeaseLost):
                        store.release(claim, "worker stopped by a second interrupt")
        raise SystemExit(130)
