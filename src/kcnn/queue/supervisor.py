"""The worker supervisor: long-lived child processes, one per CPU share or GPU slot.

Each child (`kcnn.queue.child`) imports keras once and claims and trains runs
one after another. The supervisor only watches: it reaps expired leases, and
when a child dies (crash, out-of-memory kill, SIGKILL, stall) it records the
crash on the run that child held (requeued while attempts remain) and starts
a new child. First SIGINT/SIGTERM: children finish or abandon their current
batch, put their runs back in the queue and exit. Second: children are killed
at once and their runs released.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from kcnn.errors import KcnnError, LeaseLost
from kcnn.queue.child import child_worker_id, supervisor_id
from kcnn.queue.runner import CHECKPOINT_SECONDS
from kcnn.queue.serve import LeaseReaper
from kcnn.store import FailureKind, Store

EXIT_STALLED = 75
_CRASH_BACKOFF_SECONDS = 2.0


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass
class Slot:
    """One place to train: a CPU share or a GPU slot, and the child process that fills it."""

    index: int
    device: str
    visible_gpus: str
    threads: int
    base_id: str = ""
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    not_before: float = 0.0
    runs_started: int = field(default=0)

    @property
    def label(self) -> str:
        """Human name of the slot."""
        return f"slot {self.index} ({'GPU ' + self.visible_gpus if self.visible_gpus else 'CPU'})"


def plan_slots(jobs: int | None = None, gpus: Sequence[int] | None = None, per_gpu: int = 1) -> list[Slot]:
    """The slots for `--jobs N` (CPU) or `--gpus 0,1 --per-gpu K`.

    CPU cores are split evenly: each child gets ``cores // slots`` threads.

    Raises:
        KcnnError: For a non-positive count.
    """
    if gpus:
        if per_gpu < 1:
            raise KcnnError(f"`--per-gpu` must be at least 1; got {per_gpu}.")
        total = len(gpus) * per_gpu
        threads = max(1, available_cores() // total)
        return [
            Slot(index=i, device="cuda:0", visible_gpus=str(gpu), threads=threads)
            for i, gpu in enumerate((gpu for gpu in gpus for _ in range(per_gpu)), start=1)
        ]
    count = 1 if jobs is None else jobs
    if count < 1:
        raise KcnnError(f"`--jobs` must be at least 1; got {count}.")
    threads = max(1, available_cores() // count)
    return [Slot(index=i, device="cpu", visible_gpus="", threads=threads) for i in range(1, count + 1)]


class Worker:
    """Supervises the children that train runs from one store.

    Args:
        store_path: The store folder.
        slots: Where children train (see `plan_slots`).
        once: Exit when the queue is empty instead of waiting for work.
        lease_seconds: Lease of each claim; heartbeats renew it every third of it.
        poll_seconds: How often idle children look for work.
        stall_seconds: Kill a child whose run makes no step for this long (0: never).
        checkpoint_seconds: Seconds between checkpoints (0: every epoch).
        log: Where progress lines go.
    """

    def __init__(
        self,
        store_path: Path,
        slots: list[Slot],
        once: bool = False,
        lease_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        stall_seconds: float = 0.0,
        log: Callable[[str], None] = print,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        self.store_path = store_path
        self.slots = slots
        self.once = once
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.stall_seconds = stall_seconds
        self.checkpoint_seconds = checkpoint_seconds
        self.log = log
        self.stopping = False
        self.crashes = 0

    # -- signals ----------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            self.log("stopping: children finish their current step, requeue their runs and exit (again to force)")
            for slot in self.slots:
                if slot.process is not None:
                    slot.process.send_signal(signal.SIGTERM)
            return
        self.log("forced stop: killing children")
        with Store(self.store_path) as store:
            for slot in self.slots:
                if slot.process is None:
                    continue
                slot.process.kill()
                slot.process.wait()
                for claim in store.running_claims(child_worker_id(slot.base_id, slot.process.pid)):
                    with contextlib.suppress(LeaseLost):
                        store.release(claim, "worker killed by a second interrupt")
        raise SystemExit(130)

    # -- children ---------------------------------------------------------

    def _spawn(self, slot: Slot) -> None:
        slot.base_id = supervisor_id(slot.index)
        env = dict(os.environ)
        env["CUDA_VISIBLE_DEVICES"] = slot.visible_gpus
        command = [
            sys.executable, "-m", "kcnn.queue.child",
            "--store", str(self.store_path),
            "--worker-base", slot.base_id,
            "--device", slot.device,
            "--threads", str(slot.threads),
            "--lease", str(self.lease_seconds),
            "--poll", str(self.poll_seconds),
            "--stall", str(self.stall_seconds),
            "--checkpoint-every", str(self.checkpoint_seconds),
        ]  # fmt: skip
        if self.once:
            command.append("--once")
        slot.process = subprocess.Popen(command, env=env, start_new_session=True)
        slot.started = time.monotonic()
        slot.runs_started += 1

    def _reap_child(self, store: Store, slot: Slot) -> None:
        assert slot.process is not None
        code = slot.process.returncode
        worker_id = child_worker_id(slot.base_id, slot.process.pid)
        slot.process = None
        held = store.running_claims(worker_id)
        if code == 0 and not held:
            return
        self.crashes += 1
        if code is not None and code < 0:
            reason = f"worker child was killed by {signal.Signals(-code).name}"
        elif code == EXIT_STALLED:
            reason = f"no training step finished in {self.stall_seconds:g} s; the child was ended"
        else:
            reason = f"worker child exited with code {code}"
        for claim in held:
            try:
                state = store.fail(claim, FailureKind.CRASHED, reason)
            except LeaseLost:
                continue
            self.log(f"{slot.label}: run {claim.run_id} {reason}; {state.value}")
        if code != 0 and time.monotonic() - slot.started < _CRASH_BACKOFF_SECONDS:
            slot.not_before = time.monotonic() + _CRASH_BACKOFF_SECONDS

    # -- main loop ----------------------------------------------------------

    def run(self) -> int:
        """Supervise until stopped (or, with `once`, until the queue is drained).

        Returns:
            0 after a clean drain or polite stop.
        """
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self) -> int:
        from kcnn.queue import registry as worker_registry

        worker_registry.register(self.store_path, [slot.label for slot in self.slots], self.once)
        try:
            return self._supervise()
        finally:
            worker_registry.unregister(self.store_path)

    def _supervise(self) -> int:
        with Store(self.store_path) as store:
            reaper = LeaseReaper(store, self.lease_seconds, self.log)
            while True:
                for slot in self.slots:
                    if slot.process is not None and slot.process.poll() is not None:
                        self._reap_child(store, slot)
                alive = [slot for slot in self.slots if slot.process is not None]
                if self.stopping:
                    if not alive:
                        return 0
                    time.sleep(0.1)
                    continue
                reaper.tick()
                queued = store.count_by_state()["queued"]
                for slot in self.slots:
                    wanted = queued > 0 if self.once else True
                    if slot.process is None and wanted and time.monotonic() >= slot.not_before:
                        self._spawn(slot)
                        queued -= 1 if self.once else 0
                if self.once and not any(slot.process for slot in self.slots) and store.count_by_state()["queued"] == 0:
                    return 0
                time.sleep(0.2)
