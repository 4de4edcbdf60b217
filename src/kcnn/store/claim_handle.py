"""`ClaimHandle`: one claimed attempt of one run, and every write its worker may make — each fenced.

A worker holds one per run it trains. A backend that trains several runs as one program (a fused GPU group)
holds one per member, so each member heartbeats, records its epochs, checkpoints, finishes, is pruned or
fails on its own; a lost lease or a cancel raises `LeaseLost` on that member's handle alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kcnn.store.records import Claim
from kcnn.store.states import FailureKind, RunState

if TYPE_CHECKING:
    from typing import Any

    from kcnn.contract import EpochRecord, RunSummary
    from kcnn.store.store import Store


@dataclass(frozen=True)
class ClaimHandle:
    """One claimed attempt of one run, bound to the store connection that writes it.

    Every method is fenced by ``(run id, attempt)`` and the ``running`` state.

    Raises (every write):
        LeaseLost: If the claim is no longer this worker's (cancelled, reaped, or taken over).
    """

    store: Store
    claim: Claim

    @property
    def run_id(self) -> int:
        """The run."""
        return self.claim.run_id

    @property
    def attempt(self) -> int:
        """The attempt this claim writes."""
        return self.claim.attempt

    @property
    def folder(self) -> Path:
        """The run's artifacts folder."""
        return self.store.run_folder(self.claim.run_id)

    def epochs(self) -> list[dict[str, Any]]:
        """The run's recorded epochs (every attempt's), in epoch order."""
        return self.store.epochs(self.claim.run_id)

    def heartbeat(self, lease_seconds: float = 60.0) -> None:
        """Renew the lease."""
        self.store.heartbeat(self.claim, lease_seconds)

    def record_epoch(self, record: EpochRecord, checkpoint: str | None = None) -> None:
        """Record a finished epoch (and the checkpoint file already written for it)."""
        self.store.record_epoch(self.claim, record, checkpoint)

    def note(self, kind: str, message: str) -> None:
        """Append an event about this run to the log."""
        self.store.note(self.claim, kind, message)

    def finish(self, summary: RunSummary | None = None, model: str | None = None) -> None:
        """Mark the run done with its metrics and final model file."""
        self.store.finish(self.claim, summary, model)

    def fail(self, kind: FailureKind, message: str) -> RunState:
        """Record this attempt's failure; the run's new state (``queued`` while a crash has attempts left)."""
        return self.store.fail(self.claim, kind, message)

    def prune(self, message: str) -> None:
        """End the run as ``pruned`` (a study's pruner stopped it)."""
        self.store.prune(self.claim, message)

    def release(self, reason: str = "worker stopped") -> None:
        """Put the run back in the queue, resumable from its last checkpoint."""
        self.store.release(self.claim, reason)
