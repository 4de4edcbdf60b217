"""`WorkerSettings`: how a worker trains the queue, as one typed value for every executor and child process."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from kcnn.errors import ConfigError

#: Default for `checkpoint_seconds`: a crash or stop loses at most this much training (plus the epoch in
#: progress), while runs with short epochs skip most `.keras` saves (50–60 ms each for the default model on
#: the development machine). The last epoch is always checkpointed.
CHECKPOINT_SECONDS = 10.0
#: The largest group of runs a worker slot trains as one program (`kcnn worker --fuse`).
MAX_FUSE = 64

#: The exit code of a child that ended itself because no training step finished in `stall_seconds`.
EXIT_STALLED = 75
#: The exit code of a child that stopped because the disk holding the store is full (nothing can be recorded).
EXIT_DISK_FULL = 74
#: The exit code of a child that stopped claiming because the disk has no room for the next run's files.
EXIT_LOW_SPACE = 73


@dataclass(frozen=True)
class WorkerSettings:
    """What every executor of one worker shares: the store, leases, polling, stalls, checkpoints, `once`.

    It crosses into a child process as one JSON argument (`to_json`/`from_json`), never as a list of flags.
    """

    store_path: Path
    """The store folder."""
    once: bool = False
    """Exit when the queue is empty and no study is running."""
    lease_seconds: float = 60.0
    """How long a claim lasts without a heartbeat."""
    poll_seconds: float = 1.0
    """How often an idle slot looks for work."""
    stall_seconds: float = 0.0
    """End a local child whose run makes no step for this long (0: never)."""
    checkpoint_seconds: float = CHECKPOINT_SECONDS
    """Seconds of training between checkpoints (0: every epoch)."""
    fuse: int = 0
    """Runs a slot claims at a time to train as one program, when they can (`kcnn.queue.fusion.group_size`):
    at most this many; 0 lets kcnn choose (fused on a GPU as memory allows, one at a time on a CPU); 1: off."""

    def __post_init__(self) -> None:
        for name, positive in (("lease_seconds", True), ("poll_seconds", True), ("stall_seconds", False),
                               ("checkpoint_seconds", False)):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0 or (positive and not value):
                bound = "greater than 0" if positive else "0 or more"
                raise ConfigError(f"`{name}` must be a finite number of seconds, {bound}; got {value!r}.")
        if isinstance(self.fuse, bool) or not isinstance(self.fuse, int) or not 0 <= self.fuse <= MAX_FUSE:
            raise ConfigError(f"`fuse` must be a whole number from 0 (kcnn chooses) to {MAX_FUSE}; got {self.fuse!r}.")
        object.__setattr__(self, "store_path", Path(self.store_path))

    def to_json(self) -> str:
        """The settings as one JSON object (for a child's command line)."""
        return json.dumps({**asdict(self), "store_path": str(self.store_path)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WorkerSettings:
        """The settings `to_json` wrote.

        Raises:
            ConfigError: If the text is not such an object.
        """
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(**{f.name: data[f.name] for f in fields(cls)})
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"Worker settings must be `WorkerSettings` as JSON; got {text!r} ({error}).") from None
