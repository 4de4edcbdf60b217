"""`Store`: the SQLite file and artifacts folder that hold every experiment.

The class is assembled from one mixin per job, each in its own module: the connection and schema check
(`connection`), the user's actions (`actions`), studies (`studies`), a worker's fenced writes (`claims`),
the queries (`reads`) and the removal of model files (`retention`). Schema upgrades live apart, in `upgrade`.
"""

from __future__ import annotations

from kcnn.store.claim_handle import ClaimHandle
from kcnn.store.claims import WorkerWrites
from kcnn.store.connection import default_store_path
from kcnn.store.reads import Reads
from kcnn.store.records import Claim
from kcnn.store.retention import Retention
from kcnn.store.studies import StudyRecords

__all__ = ["Store", "default_store_path"]


class Store(StudyRecords, WorkerWrites, Reads, Retention):
    """The experiment store: one SQLite file plus an ``artifacts/`` folder.

    Contract:
        * The SQLite file is the single source of truth. Every write is one
          short ``BEGIN IMMEDIATE`` transaction in WAL mode with a busy
          timeout; no training and no file I/O happen inside one.
        * A `Store` object (one connection) belongs to one thread. Open one
          per thread or process; any number may share a store folder.
        * A claim is one guarded ``UPDATE … RETURNING``: two workers never
          claim the same run. Each claim increments the run's ``attempt``.
        * Every write on behalf of a claim is fenced by ``(run id, attempt)``
          and the ``running`` state, and must change exactly one row, else it
          raises `LeaseLost` and changes nothing. A worker presumed dead can
          never overwrite its successor.
        * Finished runs (done, failed, cancelled) are never changed by a
          worker; users may retry failed or cancelled ones.
        * Times come from SQLite's clock, in Unix seconds.
        * ``events`` is append-only (triggers refuse updates and deletes).
        * Artifacts are written atomically (temp file, fsync, rename) before
          the store records them.
        * Opening never changes the schema: an older store is refused until
          ``kcnn store upgrade`` (backup first); read-only users open with
          ``create=False`` and never create a store.
    """

    def handle(self, claim: Claim) -> ClaimHandle:
        """The claim with every write its worker may make (`ClaimHandle`), bound to this connection."""
        return ClaimHandle(self, claim)
