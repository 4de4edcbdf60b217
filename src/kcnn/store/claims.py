"""A worker's side of the store: claims, heartbeats, and every write fenced by ``(run id, attempt)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kcnn.contract import EpochRecord, RunSummary, run_metrics
from kcnn.store.connection import StoreConnection
from kcnn.store.records import Claim
from kcnn.store.schema import NOW
from kcnn.store.states import FailureKind, RunState


class WorkerWrites(StoreConnection):
    """Claims and the fenced writes of the worker holding a claim."""

    def queued_in_order(self, limit: int = 1000) -> list[tuple[int, str, int]]:
        """``(run id, config JSON, checkpoint epoch)`` of the queued runs in claim order, at most `limit`."""
        rows = self._conn.execute(
            "SELECT id, config, checkpoint_epoch FROM runs WHERE state = 'queued' ORDER BY priority DESC, id LIMIT ?",
            (limit,),
        ).fetchall()
        return [(int(run_id), str(config), int(epoch)) for run_id, config, epoch in rows]

    def claim(self, worker_id: str, lease_seconds: float = 60.0, run_id: int | None = None) -> Claim | None:
        """Atomically take the next queued run (highest priority, then oldest).

        Args:
            worker_id: Who claims.
            lease_seconds: How long the claim lasts without a heartbeat.
            run_id: Claim this run only (it must be queued).

        Returns:
            The claim, or `None` if nothing is queued.
        """
        target = (
            "?"
            if run_id is not None
            else ("(SELECT id FROM runs WHERE state = 'queued' ORDER BY priority DESC, id LIMIT 1)")
        )
        with self._write() as conn:
            row = conn.execute(
                f"UPDATE runs SET state = 'running', attempt = attempt + 1, worker_id = ?, "
                f"lease_expires = {NOW} + ?, heartbeat = {NOW}, started = COALESCE(started, {NOW}), "
                f"error_kind = NULL, error_message = NULL "
                f"WHERE id = {target} AND state = 'queued' "
                f"RETURNING id, attempt, config, checkpoint_epoch, checkpoint, config_key, keep",
                (worker_id, lease_seconds, *([run_id] if run_id is not None else [])),
            ).fetchone()
            if row is None:
                return None
            claim = Claim(int(row[0]), int(row[1]), worker_id, str(row[2]), int(row[3]), row[4], row[5], row[6])
            detail = f"resume after epoch {claim.checkpoint_epoch}" if claim.checkpoint_epoch else None
            self._event(conn, claim.run_id, "claimed", claim.attempt, worker_id, detail)
        return claim

    def heartbeat(self, claim: Claim, lease_seconds: float = 60.0) -> None:
        """Renew the claim's lease.

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        with self._write() as conn:
            self._fenced(conn, claim, f"lease_expires = {NOW} + ?, heartbeat = {NOW}", (lease_seconds,))

    def record_epoch(self, claim: Claim, record: EpochRecord, checkpoint: str | None = None) -> None:
        """Record one finished epoch (and the checkpoint written for it), fenced.

        Args:
            claim: The claim writing.
            record: The epoch's metrics (NaN ones are stored as NULL).
            checkpoint: File name of the checkpoint written for this epoch (already on disk), if any.

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        epoch = int(record.epoch)
        with self._write() as conn:
            assignments = f"epochs_done = ?, heartbeat = {NOW}"
            values: list[Any] = [epoch]
            if checkpoint is not None:
                assignments += ", checkpoint_epoch = ?, checkpoint = ?"
                values.extend([epoch, checkpoint])
            self._fenced(conn, claim, assignments, values)
            conn.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, attempt, loss, accuracy, val_loss, val_accuracy, "
                "seconds, images_per_second) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    claim.run_id,
                    epoch,
                    claim.attempt,
                    record.loss,
                    record.accuracy,
                    record.val_loss,
                    record.val_accuracy,
                    record.seconds,
                    record.images_per_second,
                ),
            )
            conn.execute(
                "UPDATE runs SET best_val_accuracy = (SELECT MAX(val_accuracy) FROM epochs WHERE run_id = ?), "
                "final_val_accuracy = ? WHERE id = ?",
                (claim.run_id, record.val_accuracy, claim.run_id),
            )

    def finish(self, claim: Claim, summary: RunSummary | None = None, model: str | None = None) -> None:
        """Mark the claim's run done, fenced.

        Args:
            claim: The claim finishing.
            summary: A value per metric of the run contract (`kcnn.contract.run_metrics`; a missing one is
                stored as NULL). Training time is summed and images per second is the median over the
                recorded epochs (as `RunResult` computes it), so resumed runs count every attempt.
            model: File name of the final model (already on disk).

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        names = [metric.name for metric in run_metrics()]
        values = (summary or RunSummary()).values
        with self._write() as conn:
            rates = [row[0] for row in conn.execute(
                "SELECT images_per_second FROM epochs WHERE run_id = ? AND images_per_second IS NOT NULL",
                (claim.run_id,),
            )]  # fmt: skip
            self._fenced(
                conn,
                claim,
                f"state = 'done', finished = {NOW}, lease_expires = NULL, model = ?, "
                "train_seconds = (SELECT SUM(seconds) FROM epochs WHERE run_id = ?), images_per_second = ?, "
                + ", ".join(f"{name} = ?" for name in names),
                [model, claim.run_id, median_rate(rates), *(values.get(name) for name in names)],
            )
            self._event(conn, claim.run_id, "done", claim.attempt, claim.worker_id)

    def fail(self, claim: Claim, kind: FailureKind, message: str) -> RunState:
        """Record a failure of the claim's attempt, fenced.

        A crash is requeued while the run has attempts left; every other kind
        fails the run.

        Returns:
            The run's new state (``queued`` or ``failed``).

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        with self._write() as conn:
            row = conn.execute("SELECT retries, max_attempts FROM runs WHERE id = ?", (claim.run_id,)).fetchone()
            requeue = kind.retryable and row is not None and row[0] + 1 < row[1]
            state = RunState.QUEUED if requeue else RunState.FAILED
            self._fenced(
                conn,
                claim,
                f"state = ?, retries = retries + ?, worker_id = NULL, lease_expires = NULL, error_kind = ?, "
                f"error_message = ?, finished = CASE WHEN ? = 'failed' THEN {NOW} ELSE NULL END",
                (state.value, 1 if kind.retryable else 0, kind.value, message, state.value),
            )
            self._event(
                conn,
                claim.run_id,
                "requeued" if requeue else "failed",
                claim.attempt,
                claim.worker_id,
                f"{kind.value}: {message}",
            )
        return state

    def note(self, claim: Claim, kind: str, message: str) -> None:
        """Append an event about the claim's run (e.g. the files it skipped), fenced.

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        with self._write() as conn:
            self._fenced(conn, claim, "heartbeat = heartbeat", ())
            self._event(conn, claim.run_id, kind, claim.attempt, claim.worker_id, message)

    def prune(self, claim: Claim, message: str) -> None:
        """Mark the claim's run ``pruned``: a study's pruner stopped it between epochs (its epochs are kept), fenced.

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        with self._write() as conn:
            self._fenced(
                conn,
                claim,
                f"state = 'pruned', finished = {NOW}, lease_expires = NULL, "
                "train_seconds = (SELECT SUM(seconds) FROM epochs WHERE run_id = ?)",
                (claim.run_id,),
            )
            self._event(conn, claim.run_id, "pruned", claim.attempt, claim.worker_id, message)

    def release(self, claim: Claim, reason: str = "worker stopped") -> None:
        """Put the claim's run back in the queue without counting a failure (polite stop), fenced.

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        with self._write() as conn:
            self._fenced(conn, claim, "state = 'queued', worker_id = NULL, lease_expires = NULL", ())
            self._event(
                conn,
                claim.run_id,
                "requeued",
                claim.attempt,
                claim.worker_id,
                f"{FailureKind.INTERRUPTED.value}: {reason}",
            )

    def reap(self) -> list[int]:
        """Requeue (or fail, when out of attempts) every running run whose lease has expired.

        Returns:
            The ids of the runs reaped.
        """
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT id, attempt, worker_id, retries, max_attempts FROM runs "
                f"WHERE state = 'running' AND lease_expires < {NOW}"
            ).fetchall()
            for run_id, attempt, worker_id, retries, max_attempts in rows:
                requeue = retries + 1 < max_attempts
                message = f"{FailureKind.CRASHED.value}: lease of {worker_id} expired"
                conn.execute(
                    f"UPDATE runs SET state = ?, retries = retries + 1, worker_id = NULL, lease_expires = NULL, "
                    f"error_kind = ?, error_message = ?, finished = CASE WHEN ? = 'failed' THEN {NOW} END "
                    f"WHERE id = ? AND attempt = ?",
                    (
                        "queued" if requeue else "failed",
                        "crashed",
                        message,
                        "queued" if requeue else "failed",
                        run_id,
                        attempt,
                    ),
                )
                self._event(conn, run_id, "requeued" if requeue else "failed", attempt, worker_id, message)
        return [int(row[0]) for row in rows]

    def running_claims(self, worker_id: str) -> list[Claim]:
        """The claims a worker currently holds (for its supervisor, after the worker died)."""
        rows = self._conn.execute(
            "SELECT id, attempt, worker_id, config, checkpoint_epoch, checkpoint, config_key, keep FROM runs "
            "WHERE state = 'running' AND worker_id = ?",
            (worker_id,),
        ).fetchall()
        return [Claim(int(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4]), r[5], r[6], r[7]) for r in rows]


def median_rate(rates: Sequence[float]) -> float | None:
    """The median of per-epoch images per second (the upper median for an even count, as `RunResult`)."""
    ordered = sorted(rates)
    return ordered[len(ordered) // 2] if ordered else None
