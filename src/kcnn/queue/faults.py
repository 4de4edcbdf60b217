"""Fault injection for kcnn's own fault tests: NaN losses and out-of-memory errors on cue.

Set ``KCNN_INJECT_FAULTS`` to a ``;``-separated list of ``KIND@seed=S,epoch=E``
(``KIND`` is ``nan``, ``oom``, ``nospace`` or ``pause``). A worker child (or Ray
slot) then makes the run whose config has seed ``S`` report a NaN loss at the end
of epoch ``E``, raise an out-of-memory error when epoch ``E`` begins, fail a write
for lack of disk space at the end of epoch ``E`` (as its checkpoint would), or — ``pause``, with
``seconds=T`` — sleep T seconds at the end of epoch ``E`` (``epoch=0``: of every
epoch), so that tests can act while a run is surely in flight. Unset, nothing is
injected.
"""

from __future__ import annotations

import errno
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from kcnn.training.backend import import_keras

ENVIRONMENT_VARIABLE = "KCNN_INJECT_FAULTS"


@dataclass(frozen=True)
class Fault:
    """One fault to inject."""

    kind: str
    seed: int
    epoch: int
    seconds: float = 0.0


class InjectedOutOfMemory(MemoryError):
    """A simulated out-of-memory error."""


def parse_faults(text: str) -> list[Fault]:
    """Parse ``KIND@seed=S,epoch=E;…``."""
    faults = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        kind, _, spec = item.partition("@")
        values = dict(pair.split("=", 1) for pair in spec.split(","))
        faults.append(Fault(kind, int(values["seed"]), int(values["epoch"]), float(values.get("seconds", 0))))
    return faults


def fault_callbacks(seed: int) -> list[Any]:
    """Keras callbacks injecting the faults configured for `seed` (none when unset)."""
    faults = [fault for fault in parse_faults(os.environ.get(ENVIRONMENT_VARIABLE, "")) if fault.seed == seed]
    if not faults:
        return []
    keras = import_keras()

    class FaultInjector(keras.callbacks.Callback):  # type: ignore[name-defined,misc]
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if any(f.kind == "oom" and f.epoch == epoch + 1 for f in faults):
                raise InjectedOutOfMemory(f"injected out-of-memory error at epoch {epoch + 1}")

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            for fault in faults:
                if fault.kind == "pause" and fault.epoch in (0, epoch + 1):
                    time.sleep(fault.seconds)
            if any(f.kind == "nospace" and f.epoch == epoch + 1 for f in faults):
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            if logs is not None and any(f.kind == "nan" and f.epoch == epoch + 1 for f in faults):
                logs["loss"] = math.nan

    return [FaultInjector()]
