"""Reading the store: runs, counts, epochs, events and the epoch export (no writes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kcnn.contract import run_metrics
from kcnn.errors import StoreError
from kcnn.store.connection import StoreConnection
from kcnn.store.records import FinishedRun, Run, run_columns, run_from_row, run_reader
from kcnn.store.states import RunState


class Reads(StoreConnection):
    """Queries of runs, epochs and events."""

    def get_run(self, run_id: int) -> Run:
        """One run.

        Raises:
            StoreError: If it does not exist.
        """
        columns = run_columns()
        row = self._conn.execute(f"SELECT {', '.join(columns)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"There is no run {run_id} in this store; `kcnn runs` lists them.")
        return run_from_row(row, self.artifacts, columns)

    def list_runs(self, states: Sequence[str] | None = None, limit: int | None = None) -> list[Run]:
        """Runs, newest first, optionally filtered by state and limited."""
        columns = run_columns()
        query = f"SELECT {', '.join(columns)} FROM runs"
        params: list[Any] = []
        if states:
            query += f" WHERE state IN ({', '.join('?' * len(states))})"
            params.extend(states)
        query += " ORDER BY id DESC"
        if limit:
            query += " LIMIT ?"
            params.append(limit)
        artifacts = self.artifacts
        read = run_reader(columns, artifacts)
        return [read(row) for row in self._conn.execute(query, params).fetchall()]

    def runs(self, state: str | Sequence[str] | None = None) -> list[Run]:
        """Every run (oldest first), or those in `state` (one state or several)."""
        states = [state] if isinstance(state, str) else state
        return list(reversed(self.list_runs(states)))

    def finished_runs(self) -> list[FinishedRun]:
        """Every done run as the reports group it (oldest first): config, seed, fold, accuracies, numeric metrics.

        The input of `kcnn.reports.grouping.load_points`; the Python API's `kcnn.leaderboard` reads it for you.
        """
        names = [metric.name for metric in run_metrics() if metric.numeric]  # what the reports average
        base = ("id, config, config_key, seed, best_val_accuracy, final_val_accuracy, train_seconds, epochs_done, "
                "fold, best_test_accuracy, test_accuracy")  # fmt: skip
        query = (
            f"SELECT {base}, {', '.join(names)} FROM runs WHERE state = 'done' ORDER BY id"
            if names
            else (f"SELECT {base} FROM runs WHERE state = 'done' ORDER BY id")
        )
        finished = []
        for row in self._conn.execute(query):
            run_id, config, key, seed, best, final, seconds, epochs, fold, best_test, test = row[:11]
            metrics = dict(zip(names, row[11:], strict=True))
            finished.append(FinishedRun(run_id, config, key, seed, best, final, seconds, epochs, fold, best_test, test,
                                        metrics))  # fmt: skip
        return finished

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
        ("run_id", "r.id"), ("config_key", "r.config_key"), ("seed", "r.seed"), ("fold", "r.fold"),
        ("state", "r.state"),
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
