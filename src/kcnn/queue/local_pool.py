"""Local child processes, one per CPU share or GPU slot: the executor of `kcnn worker`.

Each child (`kcnn.queue.child`) imports keras once and claims and trains runs one after another. This
executor only watches: when a child dies (crash, out-of-memory kill, SIGKILL, stall) it records the crash on
the run that child held (requeued while attempts remain) and starts a new child. The supervisor around it
(`kcnn.queue.supervisor`) handles signals, the registry and the lease reaper.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from kcnn.errors import KcnnError, StoreError
from kcnn.queue.child import child_worker_id, supervisor_id
from kcnn.queue.memory import oom_kills
from kcnn.queue.settings import EXIT_DISK_FULL, EXIT_LOW_SPACE, EXIT_STALLED, WorkerSettings
from kcnn.queue.supervisor import fail_held
from kcnn.store import FailureKind, Store

_CRASH_BACKOFF_SECONDS = 2.0


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class SlotPlace:
    """Where one child trains: its id prefix, torch device and CPU threads (sent to the child as JSON)."""

    worker_base: str
    device: str
    threads: int


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
    oom_kills: int | None = None
    """The machine's out-of-memory kills when the child started (`kcnn.queue.memory.oom_kills`)."""

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


class ChildProcesses:
    """The `Executor` of local slots: one long-lived child process per slot, replaced when it dies.

    Args:
        slots: Where children train (see `plan_slots`).
        settings: The worker's settings; each child gets them as one JSON argument.
        log: Where progress lines go.
    """

    def __init__(self, slots: list[Slot], settings: WorkerSettings, log: Callable[[str], None] = print) -> None:
        self.slots = slots
        self.settings = settings
        self.log = log
        self.stopping = False
        self.draining = False
        """Set when a child found no disk room for its next run: no child starts again."""
        self.crashes = 0

    def open(self) -> None:
        """Nothing to connect to: children start at the first `step`."""

    def start(self) -> None:
        """Children start at the first `step` (a child is started only where there is work, with `once`)."""

    def labels(self) -> list[str]:
        """Each slot's name."""
        return [slot.label for slot in self.slots]

    def worker_ids(self) -> list[str]:
        """The ids of the live children."""
        return [child_worker_id(slot.base_id, slot.process.pid) for slot in self.slots if slot.process is not None]

    def request_stop(self) -> None:
        """SIGTERM every child: it abandons its epoch, requeues its run and exits."""
        self.stopping = True
        for slot in self.slots:
            if slot.process is not None:
                slot.process.send_signal(signal.SIGTERM)

    def force_stop(self) -> None:
        """Kill every child and wait for it."""
        for slot in self.slots:
            if slot.process is not None:
                slot.process.kill()
                slot.process.wait()

    def close(self) -> None:
        """Children outlive nothing: a dead supervisor's children stop themselves (they watch their parent)."""

    def step(self, store: Store) -> bool:
        """Reap dead children, start idle slots; False once stopping with no child alive, or drained with `once`."""
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is not None:
                self._reap_child(store, slot)
        if self.stopping:
            if not any(slot.process is not None for slot in self.slots):
                return False
            time.sleep(0.1)
            return True
        if self.draining:  # low disk space: let running children finish their runs, start none
            if not any(slot.process is not None for slot in self.slots):
                return False
            time.sleep(0.2)
            return True
        once = self.settings.once
        queued = store.count_by_state()["queued"]
        for slot in self.slots:
            wanted = queued > 0 if once else True
            if slot.process is None and wanted and time.monotonic() >= slot.not_before:
                self._spawn(slot)
                queued -= 1 if once else 0
        if once and not any(slot.process for slot in self.slots) and store.count_by_state()["queued"] == 0:
            return False
        time.sleep(0.2)
        return True

    def _spawn(self, slot: Slot) -> None:
        slot.base_id = supervisor_id(slot.index)
        env = dict(os.environ)
        env["CUDA_VISIBLE_DEVICES"] = slot.visible_gpus
        place = SlotPlace(slot.base_id, slot.device, slot.threads)
        command = [sys.executable, "-m", "kcnn.queue.child", self.settings.to_json(), json.dumps(asdict(place))]
        slot.process = subprocess.Popen(command, env=env, start_new_session=True)
        slot.started = time.monotonic()
        slot.runs_started += 1
        slot.oom_kills = oom_kills()

    def _reap_child(self, store: Store, slot: Slot) -> None:
        assert slot.process is not None
        code = slot.process.returncode
        worker_id = child_worker_id(slot.base_id, slot.process.pid)
        slot.process = None
        if code == 0 and not store.running_claims(worker_id):
            return
        if code == EXIT_LOW_SPACE and not store.running_claims(worker_id):
            if not self.draining:
                self.log("the disk has no room for the next run: no more children start; running ones finish")
            self.draining = True
            return
        self.crashes += 1
        kind = FailureKind.CRASHED
        killed_for_memory = code == -signal.SIGKILL and (oom_kills() or 0) > (slot.oom_kills or 0)
        if killed_for_memory:
            kind = FailureKind.OUT_OF_MEMORY
            reason = ("the kernel's out-of-memory killer ended the worker child (SIGKILL): the run needs more memory "
                      "than this machine has; lower `input_size` or `batch_size`")  # fmt: skip
        elif code is not None and code < 0:
            reason = f"worker child was killed by {signal.Signals(-code).name}"
        elif code == EXIT_DISK_FULL:
            reason = "the disk holding the store is full"
            self.log(f"{slot.label}: {reason}; stopping the worker (free some space, then start it again)")
            self.request_stop()
        elif code == EXIT_STALLED:
            reason = f"no training step finished in {self.settings.stall_seconds:g} s; the child was ended"
        else:
            reason = f"worker child exited with code {code}"
        try:
            held = fail_held(store, worker_id, reason, kind)
        except StoreError as error:  # a full disk: the lease lapses and a reap requeues the run later
            self.log(f"{slot.label}: could not record it ({error})")
            held = []
        for run_id, state in held:
            self.log(f"{slot.label}: run {run_id} {reason}; {state.value}")
        if code != 0 and time.monotonic() - slot.started < _CRASH_BACKOFF_SECONDS:
            slot.not_before = time.monotonic() + _CRASH_BACKOFF_SECONDS
