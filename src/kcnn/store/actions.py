"""What users do to runs: add them (deduplicated by config key and seed), cancel, retry, prioritize."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from kcnn.config import KEY_VERSION, ExperimentConfig
from kcnn.errors import FinishedRunError, StoreError
from kcnn.store.connection import StoreConnection
from kcnn.store.records import AddResult
from kcnn.store.schema import NOW
from kcnn.store.states import RunState


class UserActions(StoreConnection):
    """Queueing and the user's changes to queued, failed or cancelled runs."""

    def add_runs(
        self,
        configs: Iterable[ExperimentConfig],
        priority: int = 0,
        max_attempts: int = 3,
        source: str = "queue",
        dedupe: bool = True,
    ) -> list[AddResult]:
        """Queue runs, in one transaction.

        Args:
            configs: One config per run (the seed is part of the config).
            priority: Higher runs are claimed first. Defaults to `0`.
            max_attempts: Crashes or lost leases allowed before the run fails. Defaults to `3`.
            source: ``queue`` or ``train``. Defaults to ``queue``.
            dedupe: Return an existing run with the same config and seed instead of adding one.

        Returns:
            One `AddResult` per config, in order.
        """
        results = []
        with self._write() as conn:
            for config in configs:
                key = config.config_key
                if dedupe:
                    row = conn.execute(
                        "SELECT id FROM runs WHERE config_key = ? AND seed = ? ORDER BY id LIMIT 1", (key, config.seed)
                    ).fetchone()
                    if row is not None:
                        results.append(AddResult(int(row[0]), created=False))
                        continue
                cursor = conn.execute(
                    "INSERT INTO runs (config, config_key, key_version, seed, priority, max_attempts, epochs_total, "
                    "source, precision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        config.to_json(), key, KEY_VERSION, config.seed, priority, max_attempts, config.epochs, source,
                        config.precision,
                    ),
                )  # fmt: skip
                run_id = int(cursor.lastrowid or 0)
                self._event(conn, run_id, "queued", message=f"priority {priority}")
                results.append(AddResult(run_id, created=True))
        return results

    def cancel(self, run_ids: Sequence[int]) -> list[int]:
        """Cancel queued or running runs (a running run's worker stops at its next write).

        Raises:
            FinishedRunError: If a run is already finished (nothing is changed).
            StoreError: If a run does not exist.
        """
        with self._write() as conn:
            for run_id in run_ids:
                state = self._state(conn, run_id)
                if state.is_finished():
                    raise FinishedRunError(
                        f"Run {run_id} is {state.value}; only queued or running runs can be cancelled."
                    )
            for run_id in run_ids:
                conn.execute(
                    f"UPDATE runs SET state = 'cancelled', finished = {NOW}, lease_expires = NULL WHERE id = ?",
                    (run_id,),
                )
                self._event(conn, run_id, "cancelled")
        return list(run_ids)

    def cancel_all_queued(self) -> list[int]:
        """Cancel every queued run."""
        with self._write() as conn:
            ids = [int(r[0]) for r in conn.execute("SELECT id FROM runs WHERE state = 'queued'").fetchall()]
            conn.execute(f"UPDATE runs SET state = 'cancelled', finished = {NOW} WHERE state = 'queued'")
            for run_id in ids:
                self._event(conn, run_id, "cancelled")
        return ids

    def retry(self, run_ids: Sequence[int] | None = None, fresh: bool = False) -> list[int]:
        """Queue failed or cancelled runs again (all failed runs when `run_ids` is None).

        Args:
            run_ids: Runs to retry; `None` retries every failed run.
            fresh: Start from epoch 0 instead of the last checkpoint.

        Raises:
            StoreError: If a run is not failed or cancelled, or does not exist.
        """
        with self._write() as conn:
            if run_ids is None:
                ids = [int(r[0]) for r in conn.execute("SELECT id FROM runs WHERE state = 'failed'").fetchall()]
            else:
                ids = list(run_ids)
                for run_id in ids:
                    state = self._state(conn, run_id)
                    if state not in (RunState.FAILED, RunState.CANCELLED):
                        raise StoreError(
                            f"Run {run_id} is {state.value}; only failed or cancelled runs can be retried."
                        )
            for run_id in ids:
                reset = (
                    ", checkpoint_epoch = 0, checkpoint = NULL, epochs_done = 0, best_val_accuracy = NULL, "
                    "final_val_accuracy = NULL"
                )
                conn.execute(
                    "UPDATE runs SET state = 'queued', retries = 0, finished = NULL, worker_id = NULL, "
                    f"lease_expires = NULL{reset if fresh else ''} WHERE id = ?",
                    (run_id,),
                )
                if fresh:
                    conn.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
                self._event(conn, run_id, "queued", message="retry" + (" from epoch 0" if fresh else ""))
        return ids

    def prioritize(self, run_id: int, priority: int) -> None:
        """Set a queued run's priority (higher is claimed first).

        Raises:
            StoreError: If the run is not queued or does not exist.
        """
        with self._write() as conn:
            state = self._state(conn, run_id)
            if state is not RunState.QUEUED:
                raise StoreError(f"Run {run_id} is {state.value}; only queued runs can be prioritized.")
            conn.execute("UPDATE runs SET priority = ? WHERE id = ?", (priority, run_id))
            self._event(conn, run_id, "prioritized", message=f"priority {priority}")

    @staticmethod
    def _state(conn: sqlite3.Connection, run_id: int) -> RunState:
        row = conn.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"There is no run {run_id} in this store; `kcnn runs` lists them.")
        return RunState(row[0])
