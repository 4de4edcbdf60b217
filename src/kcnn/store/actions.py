"""What users do to runs: add them (deduplicated by config key, seed and fold), cancel, retry, prioritize."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from kcnn.config import KEY_VERSION, ExperimentConfig
from kcnn.errors import FinishedRunError, StoreError
from kcnn.store.connection import StoreConnection
from kcnn.store.records import AddResult, NewRun
from kcnn.store.retention import DEFAULT_KEEP, KEEP_POLICIES
from kcnn.store.schema import NOW
from kcnn.store.states import RunState

#: Runs inserted per batch by `UserActions.add_new_runs` (a few statements per batch, not per run).
ADD_BATCH = 500


class UserActions(StoreConnection):
    """Queueing and the user's changes to queued, failed or cancelled runs."""

    def add_runs(
        self,
        configs: Iterable[ExperimentConfig],
        priority: int = 0,
        max_attempts: int = 3,
        source: str = "queue",
        dedupe: bool = True,
        keep: str = DEFAULT_KEEP,
    ) -> list[AddResult]:
        """Queue runs, in one transaction.

        Args:
            configs: One config per run (the seed is part of the config).
            priority: Higher runs are claimed first. Defaults to `0`.
            max_attempts: Crashes or lost leases allowed before the run fails. Defaults to `3`.
            source: ``queue`` or ``train``. Defaults to ``queue``.
            dedupe: Return an existing run with the same config, seed and fold instead of adding one.
            keep: What each run keeps once done (`kcnn.store.retention.KEEP_POLICIES`).

        Returns:
            One `AddResult` per config, in order.
        """
        results: list[AddResult] = []
        self.add_new_runs(
            (NewRun.of(config) for config in configs),
            priority,
            max_attempts,
            source,
            dedupe,
            on_added=lambda _, result: results.append(result),
            keep=keep,
        )
        return results

    def add_new_runs(
        self,
        runs: Iterable[NewRun],
        priority: int = 0,
        max_attempts: int = 3,
        source: str = "queue",
        dedupe: bool = True,
        on_added: Callable[[NewRun, AddResult], None] | None = None,
        keep: str = DEFAULT_KEEP,
    ) -> int:
        """Queue runs streamed from `runs`, in one transaction, holding nothing per run.

        The iterable is consumed inside the transaction: if it raises (an invalid grid point, a dataset
        that cannot be used), nothing is added. What it yields should be cheap to make: the write lock is
        held meanwhile.

        Args:
            runs: The runs to add.
            priority: Higher runs are claimed first. Defaults to `0`.
            max_attempts: Crashes or lost leases allowed before the run fails. Defaults to `3`.
            source: ``queue`` or ``train``. Defaults to ``queue``.
            dedupe: Keep an existing run with the same config key, seed and fold instead of adding one.
            on_added: Called with each run and what happened to it, in order.
            keep: What each run keeps once done (`kcnn.store.retention.KEEP_POLICIES`).

        Returns:
            How many runs were created.

        Raises:
            StoreError: For an unknown `keep` policy.
        """
        if keep not in KEEP_POLICIES:
            raise StoreError(f"`--keep` must be one of {', '.join(KEEP_POLICIES)}; got {keep!r}.")
        created = 0
        stream = iter(runs)
        with self._write() as conn:
            while batch := list(itertools.islice(stream, ADD_BATCH)):
                results = self._add_batch(conn, batch, priority, max_attempts, source, dedupe, keep)
                created += sum(result.created for result in results)
                if on_added is not None:
                    for run, result in zip(batch, results, strict=True):
                        on_added(run, result)
        return created

    def _add_batch(
        self, conn: sqlite3.Connection, batch: list[NewRun], priority: int, max_attempts: int, source: str,
        dedupe: bool, keep: str = DEFAULT_KEEP,
    ) -> list[AddResult]:  # fmt: skip
        """Insert one batch with three statements' worth of round trips, not three per run."""
        known = self._existing_ids(conn, batch) if dedupe else {}
        fresh: list[NewRun] = []
        first_of: dict[tuple[str, int, int], int] = {}  # (key, seed, fold) → index in `fresh`: a repeat in the batch
        plan: list[tuple[str, int]] = []  # per run: ("stored", run id) | ("new" | "repeat", index in `fresh`)
        for run in batch:
            identity = run.repeat
            if identity in known:
                plan.append(("stored", known[identity]))
            elif dedupe and identity in first_of:
                plan.append(("repeat", first_of[identity]))
            else:
                first_of[identity] = len(fresh)
                plan.append(("new", len(fresh)))
                fresh.append(run)
        ids = self._insert(conn, fresh, priority, max_attempts, source, keep)
        return [
            AddResult(value, created=False) if kind == "stored" else AddResult(ids[value], created=kind == "new")
            for kind, value in plan
        ]

    @staticmethod
    def _existing_ids(conn: sqlite3.Connection, batch: list[NewRun]) -> dict[tuple[str, int, int], int]:
        """The oldest stored run of each (config key, seed, fold) of the batch."""
        seeds: dict[str, set[int]] = {}
        for run in batch:
            seeds.setdefault(run.config_key, set()).add(run.seed)
        known: dict[tuple[str, int, int], int] = {}
        for key, wanted in seeds.items():
            marks = ",".join("?" * len(wanted))
            rows = conn.execute(
                f"SELECT id, seed, fold FROM runs WHERE config_key = ? AND seed IN ({marks}) ORDER BY id DESC",
                (key, *wanted),
            )
            for run_id, seed, fold in rows:
                known[(key, seed, fold)] = run_id  # newest first: the oldest is written last
        return known

    def _insert(
        self,
        conn: sqlite3.Connection,
        runs: list[NewRun],
        priority: int,
        max_attempts: int,
        source: str,
        keep: str = DEFAULT_KEEP,
    ) -> list[int]:
        """Insert `runs` and their ``queued`` events; their ids, in order (the write lock is ours: ids ascend)."""
        if not runs:
            return []
        before = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0])
        conn.executemany(
            "INSERT INTO runs (config, config_key, key_version, seed, fold, priority, max_attempts, epochs_total, "
            "source, precision, keep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run.config_json, run.config_key, KEY_VERSION, run.seed, run.fold, priority, max_attempts, run.epochs,
              source, run.precision, keep) for run in runs],
        )  # fmt: skip
        ids = [int(row[0]) for row in conn.execute("SELECT id FROM runs WHERE id > ? ORDER BY id", (before,))]
        if len(ids) != len(runs):  # pragma: no cover - only another writer inside our transaction could do this
            raise StoreError(f"Expected {len(runs)} new run ids, found {len(ids)}; nothing was added.")
        conn.executemany(
            "INSERT INTO events (run_id, kind, message) VALUES (?, 'queued', ?)",
            [(run_id, f"priority {priority}") for run_id in ids],
        )
        return ids

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
                    "final_val_accuracy = NULL, test_accuracy = NULL, best_test_accuracy = NULL"
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
