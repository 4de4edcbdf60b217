"""Which worker supervisors are alive on a store: one small JSON file each in ``<store>/workers/``.

A supervisor registers itself when it starts and removes its file when it
exits. A supervisor killed with SIGKILL leaves its file behind, and its PID
may be reused by an unrelated process: an entry counts as alive only while a
process with its PID exists *and* has the start time (and a ``kcnn`` command
line) recorded at registration; otherwise the file is stale and removed.
Signals go through `signal_worker`, which checks the same identity first.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcnn.files import atomic_write


@dataclass(frozen=True)
class WorkerInfo:
    """One live worker supervisor."""

    pid: int
    host: str
    slots: list[str]
    started: float
    once: bool
    process_start: str | None = None
    """The process's start time as the kernel counts it (``/proc/PID/stat``); `None` where unknown."""

    def held_runs(self, running: Sequence[Any]) -> list[Any]:
        """The runs of `running` claimed by this worker's slots (their worker ids carry its PID: ``host:pid:slot…``)."""
        return [run for run in running if run.worker_id and f":{self.pid}:" in run.worker_id]

    def to_dict(self) -> dict[str, object]:
        """The registry entry as JSON data."""
        return {"pid": self.pid, "host": self.host, "slots": self.slots, "started": self.started, "once": self.once,
                "process_start": self.process_start}  # fmt: skip


def _folder(store_path: Path) -> Path:
    return Path(store_path) / "workers"


def _entry(store_path: Path, pid: int) -> Path:
    return _folder(store_path) / f"{socket.gethostname()}-{pid}.json"


def register(store_path: Path, slots: list[str], once: bool, started: float | None = None) -> Path:
    """Record this process as a live worker supervisor (again, to update its slots' descriptions).

    Args:
        store_path: The store folder.
        slots: One description per slot (a Ray head's name node, device and run).
        once: Whether it exits when the queue is empty.
        started: When it started (default: now).
    """
    when = time.time() if started is None else started
    info = WorkerInfo(os.getpid(), socket.gethostname(), slots, when, once, process_start(os.getpid()))
    path = _entry(store_path, os.getpid())
    atomic_write(path, lambda temporary: _write_json(temporary, info.to_dict()))
    return path


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data))


def unregister(store_path: Path) -> None:
    """Remove this process's registry entry."""
    _entry(store_path, os.getpid()).unlink(missing_ok=True)


def process_start(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (field 22 of ``/proc/PID/stat``); `None` if unknown.

    With the PID, it names one process for the machine's uptime: a reused PID has a later start.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]  # after the command name, which may hold spaces and ")"


def _command_line(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_that_worker(info: WorkerInfo) -> bool:
    """Whether `info`'s process still runs on this host and is the kcnn worker that registered (not a reused PID).

    Where start times can be read (Linux), an entry without one is never taken for a live worker: its PID may
    have been reused by any process, even one whose command line says "kcnn".
    """
    if info.host != socket.gethostname() or info.pid <= 0 or not _exists(info.pid):
        return False
    now = process_start(info.pid)
    if info.process_start is None and now is not None:
        return False  # an entry from before start times were kept: its PID alone may name another process
    if info.process_start is not None and now not in (None, info.process_start):
        return False
    command = _command_line(info.pid)
    return command is None or "kcnn" in command  # no /proc: the PID is all there is to check


def _read(path: Path) -> WorkerInfo | None:
    try:
        data = json.loads(path.read_text())
        start = data.get("process_start")
        return WorkerInfo(int(data["pid"]), str(data["host"]), list(data["slots"]), float(data["started"]),
                          bool(data["once"]), None if start is None else str(start))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def live_workers(store_path: Path) -> list[WorkerInfo]:
    """Worker supervisors of this store that are still running; stale entries of this host are removed.

    Entries of other hosts (a store on a shared file system) are listed as they are: their processes
    cannot be checked from here.
    """
    folder = _folder(store_path)
    if not folder.is_dir():
        return []
    workers = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):  # `atomic_write`'s temporary of an entry being rewritten: not a second worker
            continue
        info = _read(path)
        if info is None:
            continue
        if info.host == socket.gethostname() and not is_that_worker(info):
            path.unlink(missing_ok=True)
            continue
        workers.append(info)
    return workers


def signal_worker(store_path: Path, pid: int, signal_number: int) -> bool:
    """Send a signal to the registered worker supervisor `pid` of this host, after checking it is that worker.

    Returns:
        Whether the signal was sent; `False` when no live worker of this store has that PID (its stale
        registry entry, if any, is removed), so an unrelated process that reused the PID is never signalled.
    """
    for info in live_workers(store_path):
        if info.pid == pid and info.host == socket.gethostname():
            try:
                os.kill(pid, signal_number)
            except ProcessLookupError:
                return False
            return True
    return False
