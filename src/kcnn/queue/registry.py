"""Which worker supervisors are alive on a store: one small JSON file each in ``<store>/workers/``.

A supervisor registers itself when it starts and removes its file when it
exits; a file whose process is gone (killed) is ignored and cleaned up.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from kcnn.files import atomic_write


@dataclass(frozen=True)
class WorkerInfo:
    """One live worker supervisor."""

    pid: int
    host: str
    slots: list[str]
    started: float
    once: bool

    def to_dict(self) -> dict[str, object]:
        """The registry entry as JSON data."""
        return {"pid": self.pid, "host": self.host, "slots": self.slots, "started": self.started, "once": self.once}


def _folder(store_path: Path) -> Path:
    return Path(store_path) / "workers"


def _entry(store_path: Path, pid: int) -> Path:
    return _folder(store_path) / f"{socket.gethostname()}-{pid}.json"


def register(store_path: Path, slots: list[str], once: bool) -> Path:
    """Record this process as a live worker supervisor."""
    info = WorkerInfo(os.getpid(), socket.gethostname(), slots, time.time(), once)
    path = _entry(store_path, os.getpid())
    atomic_write(path, lambda temporary: _write_json(temporary, info.to_dict()))
    return path


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data))


def unregister(store_path: Path) -> None:
    """Remove this process's registry entry."""
    _entry(store_path, os.getpid()).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_workers(store_path: Path) -> list[WorkerInfo]:
    """Worker supervisors of this host that are still running (stale entries are removed)."""
    folder = _folder(store_path)
    if not folder.is_dir():
        return []
    workers = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            info = WorkerInfo(int(data["pid"]), str(data["host"]), list(data["slots"]), float(data["started"]),
                              bool(data["once"]))  # fmt: skip
        except (OSError, ValueError, KeyError):
            continue
        if info.host == socket.gethostname() and not _alive(info.pid):
            path.unlink(missing_ok=True)
            continue
        workers.append(info)
    return workers
