"""Studies in the store: races and Optuna studies are rows that own their runs, advanced in one transaction.

A study never needs a process of its own. Whichever worker is running calls `advance_study` (through
`kcnn.queue.studies`): a *decide* function, given the study and the runs it owns, says what to do next —
queue runs, record progress, finish with a verdict — and the store applies it in one ``BEGIN IMMEDIATE``
transaction. Two workers never advance a study twice:

- a decision that needs no I/O (a race) is taken inside that transaction, on what it reads there, so the
  second worker reads the first one's result and decides nothing;
- a decision that needs I/O (an Optuna study asks and tells its own storage) is taken on a plain read,
  **outside** the write lock (`advance_study_outside_lock`), and applied only if the study's progress is
  still the one it was decided on (compare-and-set). A worker that loses that race drops its step; what
  its decision did in Optuna is idempotent (a tell is skipped when the trial is already finished) or
  repaired by the next advance (a trial asked for but never recorded is told failed).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kcnn.errors import StoreError
from kcnn.store.actions import UserActions
from kcnn.store.records import NewRun, Run, run_columns, run_reader
from kcnn.store.schema import NOW
from kcnn.store.states import StudyKind, StudyState

STUDY_KINDS = tuple(kind.value for kind in StudyKind)


@dataclass(frozen=True)
class Study:
    """One study: a row of the ``studies`` table."""

    id: int
    kind: StudyKind
    """A race or an Optuna study."""
    state: StudyState
    """Running, done or stopped."""
    settings: dict[str, Any]
    """What the user asked for (fixed at creation)."""
    progress: dict[str, Any]
    """What the study has decided so far (its own bookkeeping)."""
    verdict: str | None
    """The study's conclusion in words, once done (or stopped)."""
    created: float
    finished: float | None

    def to_dict(self) -> dict[str, Any]:
        """Every field, for scripts."""
        return dict(self.__dict__)


@dataclass
class StudyStep:
    """What one advance of a study does, applied by `StudyRecords.advance_study` in one transaction."""

    new_runs: list[NewRun] = field(default_factory=list)
    """Runs to queue for the study (their ``trial`` is `NewRun.trial`)."""
    progress: dict[str, Any] | None = None
    """The study's new progress (`None`: unchanged)."""
    finish: str | None = None
    """A verdict: the study is done."""
    note: str | None = None
    """A line for the event log."""
    cancel: list[int] = field(default_factory=list)
    """Queued runs of the study to cancel (a stopped or finished study's leftovers)."""
    prune: list[int] = field(default_factory=list)
    """Queued runs of a pruned trial: they end ``pruned`` without training."""

    def __bool__(self) -> bool:
        return bool(self.new_runs or self.progress is not None or self.finish or self.note or self.cancel or self.prune)


#: ``decide(study, runs the study owns, runs_of)``: the next step, or `None` when there is nothing to do.
#: ``runs_of(keys)`` returns every run (any state, any owner) of those config keys. Given to `advance_study`,
#: it must be quick and do no I/O of its own (it runs while the store's write lock is held); a decision that
#: needs I/O goes to `advance_study_outside_lock`.
Decide = Callable[[Study, list[Run], Callable[[Iterable[str]], list[Run]]], StudyStep | None]

_STUDY_COLUMNS = "id, kind, state, settings, progress, verdict, created, finished"


class StudyRecords(UserActions):
    """Create, read, advance and stop studies."""

    def create_study(self, kind: str, settings: dict[str, Any]) -> int:
        """Record a new running study; its id.

        Raises:
            StoreError: For an unknown kind.
        """
        if kind not in STUDY_KINDS:
            raise StoreError(f"Unknown study kind {kind!r}; kinds are {', '.join(STUDY_KINDS)}.")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO studies (kind, settings) VALUES (?, ?)", (kind, json.dumps(settings, sort_keys=True))
            )
            study_id = int(cursor.lastrowid or 0)
            self._event(conn, None, "study_created", message=f"study {study_id} ({kind})")
        return study_id

    def get_study(self, study_id: int) -> Study:
        """One study.

        Raises:
            StoreError: If there is no such study.
        """
        row = self._conn.execute(f"SELECT {_STUDY_COLUMNS} FROM studies WHERE id = ?", (study_id,)).fetchone()
        if row is None:
            raise StoreError(f"There is no study {study_id}; `kcnn studies` lists them.")
        return _study(row)

    def studies(self, state: str | None = None) -> list[Study]:
        """Every study (or those in `state`), oldest first."""
        where, params = ("WHERE state = ?", (state,)) if state else ("", ())
        return [
            _study(row)
            for row in self._conn.execute(f"SELECT {_STUDY_COLUMNS} FROM studies {where} ORDER BY id", params)
        ]

    def runs_with_keys(self, keys: Iterable[str]) -> list[Run]:
        """Every run (any state, any owner) of these config keys, oldest first."""
        return self._runs_of_keys(self._conn, keys)

    def study_runs(self, study_id: int) -> list[Run]:
        """The runs a study queued, oldest first."""
        return self._runs_where(self._conn, "study_id = ?", (study_id,))

    def advance_study(self, study_id: int, decide: Decide, probe: Decide | None = None) -> StudyStep | None:
        """Ask `decide` for the study's next step and apply it, atomically; the step applied, or `None`.

        Whether there is anything to do is first asked on a plain read (most calls find nothing and take no
        lock), of `probe` when given (a decision with side effects, such as asking Optuna for a trial, must
        only be taken once, inside the transaction), else of `decide`; then `decide` decides inside the write
        transaction, on what is there at that moment, and its step is applied there.
        """
        if not self._decide(self._conn, study_id, probe or decide):
            return None
        with self._write() as conn:
            step = self._decide(conn, study_id, decide)
            if step:
                self._apply(conn, study_id, step)
            return step or None

    def advance_study_outside_lock(self, study_id: int, decide: Decide) -> StudyStep | None:
        """Decide the study's next step on a plain read (I/O allowed), then apply it if nothing moved meanwhile.

        The step is applied in one write transaction, and only if the study is still running with the
        progress `decide` saw; otherwise another worker advanced it first and this step is dropped (`None`).
        """
        study = self._study_in(self._conn, study_id)
        if study.state is not StudyState.RUNNING:
            return None
        own = self._runs_where(self._conn, "study_id = ?", (study_id,))
        step = decide(study, own, lambda keys: self._runs_of_keys(self._conn, keys))
        if not step:
            return None
        with self._write() as conn:
            now = self._study_in(conn, study_id)
            if now.state is not StudyState.RUNNING or now.progress != study.progress:
                return None
            self._apply(conn, study_id, step)
        return step

    def stop_study(self, study_id: int, verdict: str) -> int:
        """Stop a running study: its queued runs are cancelled (running ones finish); how many were cancelled.

        Raises:
            StoreError: If there is no such study.
        """
        with self._write() as conn:
            study = self._study_in(conn, study_id)
            if study.state is not StudyState.RUNNING:
                return 0
            queued = [run.id for run in self._runs_where(conn, "study_id = ? AND state = 'queued'", (study_id,))]
            self._apply(conn, study_id, StudyStep(cancel=queued, note="stopped by the user"))
            conn.execute(
                f"UPDATE studies SET state = 'stopped', verdict = ?, finished = {NOW} WHERE id = ?", (verdict, study_id)
            )
        return len(queued)

    def record_event(self, kind: str, message: str) -> None:
        """Append an event that belongs to no run (a study's error, say)."""
        with self._write() as conn:
            self._event(conn, None, kind, message=message)

    # -- inside a transaction ----------------------------------------------------------------------

    def _decide(self, conn: sqlite3.Connection, study_id: int, decide: Decide) -> StudyStep | None:
        study = self._study_in(conn, study_id)
        if study.state is not StudyState.RUNNING:
            return None
        own = self._runs_where(conn, "study_id = ?", (study_id,))
        return decide(study, own, lambda keys: self._runs_of_keys(conn, keys))

    def _apply(self, conn: sqlite3.Connection, study_id: int, step: StudyStep) -> None:
        if step.new_runs:
            ids = self._insert(conn, step.new_runs, 0, 3, "study")
            conn.executemany(
                "UPDATE runs SET study_id = ?, trial = ? WHERE id = ?",
                [(study_id, run.trial, run_id) for run, run_id in zip(step.new_runs, ids, strict=True)],
            )
        for run_id in step.cancel:
            cursor = conn.execute(
                f"UPDATE runs SET state = 'cancelled', finished = {NOW} WHERE id = ? AND state = 'queued'", (run_id,)
            )
            if cursor.rowcount:
                self._event(conn, run_id, "cancelled", message=f"study {study_id}")
        for run_id in step.prune:
            cursor = conn.execute(
                f"UPDATE runs SET state = 'pruned', finished = {NOW} WHERE id = ? AND state = 'queued'", (run_id,)
            )
            if cursor.rowcount:
                self._event(conn, run_id, "pruned", message=f"study {study_id}: its trial was pruned")
        if step.progress is not None:
            conn.execute("UPDATE studies SET progress = ? WHERE id = ?", (json.dumps(step.progress), study_id))
        if step.finish is not None:
            conn.execute(
                f"UPDATE studies SET state = 'done', verdict = ?, finished = {NOW} WHERE id = ?",
                (step.finish, study_id),
            )
        if step.note or step.finish:
            self._event(conn, None, "study", message=f"study {study_id}: {step.finish or step.note}")

    def _study_in(self, conn: sqlite3.Connection, study_id: int) -> Study:
        row = conn.execute(f"SELECT {_STUDY_COLUMNS} FROM studies WHERE id = ?", (study_id,)).fetchone()
        if row is None:
            raise StoreError(f"There is no study {study_id}; `kcnn studies` lists them.")
        return _study(row)

    def _runs_of_keys(self, conn: sqlite3.Connection, keys: Iterable[str]) -> list[Run]:
        wanted = sorted(set(keys))
        if not wanted:
            return []
        return self._runs_where(conn, f"config_key IN ({','.join('?' * len(wanted))})", wanted)

    def _runs_where(self, conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[Run]:
        cursor = conn.cursor()
        cursor.row_factory = None
        columns = run_columns()
        query = f"SELECT {', '.join(columns)} FROM runs WHERE {where} ORDER BY id"
        read = run_reader(columns, self.artifacts)
        return [read(row) for row in cursor.execute(query, tuple(params)).fetchall()]


def _study(row: Sequence[Any]) -> Study:
    return Study(
        int(row[0]),
        StudyKind(row[1]),
        StudyState(row[2]),
        json.loads(row[3]),
        json.loads(row[4] or "{}"),
        row[5],
        row[6],
        row[7],
    )
