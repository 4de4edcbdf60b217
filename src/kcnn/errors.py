"""The one exception hierarchy of kcnn.

Every mistake a user can make raises a subclass of `KcnnError` whose message
is one line: what is wrong, which value, and how to fix it. The CLI prints
that line and exits with code 2; anything else reaching the CLI is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class KcnnError(Exception):
    """Base class of every error kcnn raises on purpose."""


class ConfigError(KcnnError, ValueError):
    """An experiment configuration is out of range or cannot be built."""


class FileContentError(ConfigError):
    """A sweep or space file says something wrong; the message names the file's keys (not command-line flags)."""


class DataError(KcnnError, ValueError):
    """A dataset cannot be found, read or split."""


class DeviceError(KcnnError, ValueError):
    """A requested device or precision is not available on this machine."""


class TrainingError(KcnnError, RuntimeError):
    """Training could not finish (for example, the loss diverged)."""


class StoreError(KcnnError):
    """The experiment store cannot be opened, or refuses a change."""


class InvalidSweep(ConfigError):
    """Grid points of a sweep that do not make a valid config: nothing was queued. `invalid` lists them all."""

    def __init__(self, message: str, invalid: Sequence[object]) -> None:
        super().__init__(message)
        self.invalid = list(invalid)
        """The `kcnn.queue.sweep.InvalidCombination` of every invalid point."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.invalid))


class StoreFull(StoreError):
    """The disk holding the store is full: the change was not made (the store is intact)."""


class FinishedRunError(StoreError):
    """A change was asked of a run that is already finished (done, failed or cancelled)."""


class LeaseLost(StoreError):
    """A fenced write found that this worker no longer owns the run (its lease passed to another)."""


class DivergedError(TrainingError):
    """The training loss became NaN or infinite."""

    def __init__(self, message: str, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        """The epoch (from 1) whose loss was not finite."""

    def __reduce__(self) -> tuple[Any, ...]:  # errors cross processes (Ray slots) with their fields
        return (type(self), (str(self), self.epoch))


class StopRequested(KcnnError):
    """Raised inside training to abandon the current epoch when a stop was requested."""


class Pruned(KcnnError):
    """Raised between epochs when a study's pruner stops a run (it ends in state ``pruned``, not failed)."""


class BadFilesError(DataError):
    """Some image files cannot be decoded; `bad` lists them with the reason."""

    def __init__(self, message: str, bad: Sequence[tuple[str, str]]) -> None:
        super().__init__(message)
        self.bad = list(bad)
        """``(path, reason)`` of every unreadable file."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.bad))


class RunFailed(TrainingError):
    """A run trained in the foreground did not finish; the store records why (`kcnn run show RUN`)."""

    def __init__(self, message: str, run_id: int, kind: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        """The run's id in the store."""
        self.kind = kind
        """The failure kind: ``invalid_config``, ``data_error``, ``diverged``, ``out_of_memory``, ``crashed``, …"""

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.run_id, self.kind))

    @property
    def user_fixable(self) -> bool:
        """Whether the cause is the config or the data (not the machine)."""
        return self.kind in ("invalid_config", "data_error", "diverged")
