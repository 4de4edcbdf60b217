"""`Store`: the SQLite file and artifacts folder that hold every experiment."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kcnn.config import ExperimentConfig
from kcnn.errors import FinishedRunError, LeaseLost, StoreError
from kcnn.store.schema import MIGRATIONS, NOW, SCHEMA_VERSION
from kcnn.store.states import FailureKind, RunState
from kcnn.training.throughput import training_flops_per_second

DB_NAME = "kcnn.sqlite"
DEFAULT_STORE = "kcnn-runs"
BUSY_TIMEOUT_MS = 30_000
_LOCK_RETRIES = 20
#: Model and device facts a finished run keeps.
SUMMARY_FIELDS = ("params", "flops_per_image", "device", "device_name", "peak_flops", "train_loop")


def default_store_path() -> Path:
    """``$KCNN_STORE`` if set, else ``./kcnn-runs``."""
    return Path(os.environ.get("KCNN_STORE") or DEFAULT_STORE)


@dataclass(frozen=True)
class Claim:
    """The right of one worker to write one attempt of one run."""

    run_id: int
    attempt: int
    worker_id: str
    config_json: str
    checkpoint_epoch: int
    checkpoint: str | None = None
    """File name (in the run's artifacts folder) of the checkpoint to resume from."""

    @property
    def config(self) -> ExperimentConfig:
        """The run's config (raises `ConfigError` if it no longer validates)."""
        return ExperimentConfig.from_json(self.config_json)


@dataclass(frozen=True)
class RunRecord:
    """One row of the ``runs`` table."""

    id: int
    config: str
    config_key: str
    seed: int
    state: str
    priority: int
    attempt: int
    retries: int
    max_attempts: int
    worker_id: str | None
    lease_expires: float | None
    created: float
    started: float | None
    finished: float | None
    heartbeat: float | None
    epochs_total: int
    epochs_done: int
    checkpoint_epoch: int
    checkpoint: str | None
    model: str | None
    best_val_accuracy: float | None
    final_val_accuracy: float | None
    train_seconds: float | None
    images_per_second: float | None
    params: int | None
    flops_per_image: int | None
    device: str | None
    error_kind: str | None
    error_message: str | None
    source: str
    device_name: str | None = None
    peak_flops: float | None = None
    train_loop: str | None = None

    @property
    def flops_per_second(self) -> float | None:
        """Achieved training FLOP/s (3× forward FLOPs per image × images per second)."""
        return training_flops_per_second(self.flops_per_image, self.images_per_second)

    @property
    def run_state(self) -> RunState:
        """The state as an enum."""
        return RunState(self.state)

    @property
    def config_dict(self) -> dict[str, Any]:
        """The config as stored (not re-validated)."""
        data: dict[str, Any] = json.loads(self.config)
        return data

    def to_dict(self) -> dict[str, Any]:
        """Every column, the config parsed."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["config"] = self.config_dict
        return data


@dataclass(frozen=True)
class AddResult:
    """What happened to one config+seed given to `Store.add_runs`."""

    run_id: int
    created: bool
    """False if a run with the same config and seed already existed."""


_RUN_COLUMNS = ", ".join(f.name for f in fields(RunRecord))


class Store:
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
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        """Open (creating if needed) the store in folder `path`.

        Args:
            path: The store folder. Defaults to `default_store_path()`.

        Raises:
            StoreError: If the folder or database cannot be opened.
        """
        self.path = Path(path) if path is not None else default_store_path()
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"The store path {str(self.path)!r} is a file; `--store` must name a folder.")
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path / DB_NAME, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._retry_locked(lambda: self._conn.execute("PRAGMA journal_mode = WAL"))
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (OSError, sqlite3.DatabaseError) as error:
            raise StoreError(f"Cannot open the store at {str(self.path)!r}: {error}.") from None

    # -- plumbing ---------------------------------------------------------

    @property
    def artifacts(self) -> Path:
        """The folder of per-run artifacts."""
        return self.path / "artifacts"

    def run_folder(self, run_id: int) -> Path:
        """The artifacts folder of one run."""
        return self.artifacts / str(run_id)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retry_locked(self, action: Any) -> Any:
        for attempt in range(_LOCK_RETRIES):
            try:
                return action()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                time.sleep(min(0.05 * 2**attempt, 1.0))
        raise StoreError(f"The store at {str(self.path)!r} stayed locked; is a process stuck holding it?")

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error."""
        self._retry_locked(lambda: self._conn.execute("BEGIN IMMEDIATE"))
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._retry_locked(lambda: self._conn.execute("COMMIT"))

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One short read transaction (a consistent snapshot)."""
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The store at {str(self.path)!r} has schema version {version}, newer than this kcnn "
                f"({SCHEMA_VERSION}). Upgrade kcnn."
            )
        if version == SCHEMA_VERSION:
            return
        with self._write() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for script in MIGRATIONS[current:]:
                for statement in _statements(script):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    def _event(
        conn: sqlite3.Connection,
        run_id: int | None,
        kind: str,
        attempt: int | None = None,
        worker_id: str | None = None,
        message: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO events (run_id, kind, attempt, worker_id, message) VALUES (?, ?, ?, ?, ?)",
            (run_id, kind, attempt, worker_id, message),
        )

    @staticmethod
    def _fenced(conn: sqlite3.Connection, claim: Claim, assignments: str, values: Sequence[Any]) -> None:
        cursor = conn.execute(
            f"UPDATE runs SET {assignments} WHERE id = ? AND attempt = ? AND state = 'running'",
            (*values, claim.run_id, claim.attempt),
        )
        if cursor.rowcount != 1:
            raise LeaseLost(f"Run {claim.run_id} attempt {claim.attempt} is no longer owned by {claim.worker_id}.")

    def now(self) -> float:
        """SQLite's clock, in Unix seconds."""
        return float(self._conn.execute(f"SELECT {NOW}").fetchone()[0])

    # -- adding runs ------------------------------------------------------

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
                    "INSERT INTO runs (config, config_key, seed, priority, max_attempts, epochs_total, source) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (config.to_json(), key, config.seed, priority, max_attempts, config.epochs, source),
                )
                run_id = int(cursor.lastrowid or 0)
                self._event(conn, run_id, "queued", message=f"priority {priority}")
                results.append(AddResult(run_id, created=True))
        return results

    # -- claims and fenced writes ------------------------------------------

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
                f"RETURNING id, attempt, config, checkpoint_epoch, checkpoint",
                (worker_id, lease_seconds, *([run_id] if run_id is not None else [])),
            ).fetchone()
            if row is None:
                return None
            claim = Claim(int(row[0]), int(row[1]), worker_id, str(row[2]), int(row[3]), row[4])
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

    def record_epoch(self, claim: Claim, record: Mapping[str, Any], checkpoint: str | None = None) -> None:
        """Record one finished epoch (and the checkpoint written for it), fenced.

        Args:
            claim: The claim writing.
            record: ``epoch``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``seconds``,
                ``images_per_second``.
            checkpoint: File name of the checkpoint written for this epoch (already on disk), if any.

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        epoch = int(record["epoch"])
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
                    record.get("loss"),
                    record.get("accuracy"),
                    record.get("val_loss"),
                    record.get("val_accuracy"),
                    record.get("seconds"),
                    record.get("images_per_second"),
                ),
            )
            conn.execute(
                "UPDATE runs SET best_val_accuracy = (SELECT MAX(val_accuracy) FROM epochs WHERE run_id = ?), "
                "final_val_accuracy = ? WHERE id = ?",
                (claim.run_id, record.get("val_accuracy"), claim.run_id),
            )

    def finish(self, claim: Claim, summary: Mapping[str, Any], model: str | None = None) -> None:
        """Mark the claim's run done, fenced.

        Args:
            claim: The claim finishing.
            summary: ``params``, ``flops_per_image``, ``device``, ``device_name``, ``peak_flops``,
                ``train_loop`` (missing ones are stored as NULL). Training time and images per second
                are summed and averaged from the recorded epochs, so resumed runs count every attempt.
            model: File name of the final model (already on disk).

        Raises:
            LeaseLost: If the claim is no longer valid.
        """
        with self._write() as conn:
            self._fenced(
                conn,
                claim,
                f"state = 'done', finished = {NOW}, lease_expires = NULL, model = ?, "
                "train_seconds = (SELECT SUM(seconds) FROM epochs WHERE run_id = ?), "
                "images_per_second = (SELECT AVG(images_per_second) FROM epochs WHERE run_id = ?), "
                "params = ?, flops_per_image = ?, device = ?, device_name = ?, peak_flops = ?, train_loop = ?",
                [model, claim.run_id, claim.run_id, *(summary.get(name) for name in SUMMARY_FIELDS)],
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
            "SELECT id, attempt, worker_id, config, checkpoint_epoch, checkpoint FROM runs "
            "WHERE state = 'running' AND worker_id = ?",
            (worker_id,),
        ).fetchall()
        return [Claim(int(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4]), r[5]) for r in rows]

    # -- user actions -----------------------------------------------------

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

    # -- reading ----------------------------------------------------------

    def get_run(self, run_id: int) -> RunRecord:
        """One run.

        Raises:
            StoreError: If it does not exist.
        """
        row = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"There is no run {run_id} in this store; `kcnn runs` lists them.")
        return RunRecord(*row)

    def list_runs(self, states: Sequence[str] | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally filtered by state and limited."""
        query = f"SELECT {_RUN_COLUMNS} FROM runs"
        params: list[Any] = []
        if states:
            query += f" WHERE state IN ({', '.join('?' * len(states))})"
            params.extend(states)
        query += " ORDER BY id DESC"
        if limit:
            query += " LIMIT ?"
            params.append(limit)
        return [RunRecord(*row) for row in self._conn.execute(query, params).fetchall()]

    def finished_metrics(self) -> list[tuple[int, str, str, int, float | None, float | None, float | None, int]]:
        """``(id, config, config_key, seed, best, final, train_seconds, epochs_done)`` of every done run."""
        return [
            tuple(row)  # type: ignore[misc]
            for row in self._conn.execute(
                "SELECT id, config, config_key, seed, best_val_accuracy, final_val_accuracy, train_seconds, "
                "epochs_done FROM runs WHERE state = 'done' ORDER BY id"
            )
        ]

    def count_by_state(self) -> dict[str, int]:
        """How many runs are in each state."""
        counts = {state.value: 0 for state in RunState}
        for state, count in self._conn.execute("SELECT state, COUNT(*) FROM runs GROUP BY state"):
            counts[state] = count
        return counts

    def epochs(self, run_id: int) -> list[dict[str, Any]]:
        """Per-epoch metrics of a run, in epoch order."""
        rows = self._conn.execute(
            "SELECT epoch, attempt, loss, accuracy, val_loss, val_accuracy, seconds, images_per_second "
            "FROM epochs WHERE run_id = ? ORDER BY epoch",
            (run_id,),
        ).fetchall()
        return [dict(row) for row in rows]

    _EPOCH_EXPORT = (
        ("run_id", "r.id"), ("config_key", "r.config_key"), ("seed", "r.seed"), ("state", "r.state"),
        ("epoch", "e.epoch"), ("attempt", "e.attempt"), ("loss", "e.loss"), ("accuracy", "e.accuracy"),
        ("val_loss", "e.val_loss"), ("val_accuracy", "e.val_accuracy"), ("seconds", "e.seconds"),
        ("images_per_second", "e.images_per_second"),
    )  # fmt: skip

    def _epoch_export_query(self, select: str, states: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
        where = f" WHERE r.state IN ({', '.join('?' * len(states))})" if states else ""
        query = f"SELECT {select} FROM epochs e JOIN runs r ON r.id = e.run_id{where} ORDER BY e.run_id, e.epoch"
        return query, tuple(states or ())

    def epoch_export_rows(self, states: Sequence[str] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Header and rows of every recorded epoch (of runs in `states`), by run then epoch."""
        query, params = self._epoch_export_query(", ".join(sql for _, sql in self._EPOCH_EXPORT), states)
        cursor = self._conn.cursor()
        cursor.row_factory = None
        return [name for name, _ in self._EPOCH_EXPORT], cursor.execute(query, params).fetchall()

    def epoch_export_json(self, states: Sequence[str] | None = None) -> str:
        """The same rows as `epoch_export_rows`, as a JSON array of objects built by SQLite itself (fast)."""
        fields = ", ".join(f"'{name}', {sql}" for name, sql in self._EPOCH_EXPORT)
        inner, params = self._epoch_export_query(f"json_object({fields}) AS item", states)
        row = self._conn.execute(f"SELECT json_group_array(json(item)) FROM ({inner})", params).fetchone()
        return str(row[0] or "[]")

    def events(self, run_id: int | None = None) -> list[dict[str, Any]]:
        """The event log, oldest first (of one run, or all)."""
        query = "SELECT id, run_id, time, kind, attempt, worker_id, message FROM events"
        rows = self._conn.execute(
            query + (" WHERE run_id = ? ORDER BY id" if run_id is not None else " ORDER BY id"),
            (run_id,) if run_id is not None else (),
        ).fetchall()
        return [dict(row) for row in rows]

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``ok`` for a healthy file."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (triggers keep their bodies)."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements
