"""Advance every running study: called by workers between runs, so studies need no process of their own."""

from __future__ import annotations

import sqlite3
import sys

from kcnn.errors import KcnnError
from kcnn.queue.race import decide_race
from kcnn.store import Store, Study, StudyKind, StudyState, StudyStep


def _advance(store: Store, study: Study) -> StudyStep | None:
    """One study's next step, decided by its kind (an Optuna study imports Optuna only when it has work)."""
    if study.kind is StudyKind.RACE:
        return store.advance_study(study.id, decide_race)
    if study.kind is StudyKind.ANSWER:
        from kcnn.queue.answer import decide_answer

        return store.advance_study(study.id, decide_answer)
    if study.kind is StudyKind.OPTIMIZE:
        from kcnn.queue.optimize import decide_optimize

        return store.advance_study_outside_lock(study.id, decide_optimize(store.path))  # Optuna's own I/O
    return None


#: Errors already printed and recorded by this process.
_REPORTED: set[str] = set()
#: Running studies this process could not advance for a cause of its own (a missing extra, a full disk).
_STUCK_HERE: set[int] = set()


def this_machine_is_the_cause(error: BaseException) -> bool:
    """Whether a study's failed step is this process's problem (another worker, or later, may succeed).

    A missing extra (`KcnnError`), an I/O error or a locked or full database (SQLite's or SQLAlchemy's
    ``OperationalError``) is; anything else is the study's own (its settings cannot be used) and ends it.
    """
    environment = (KcnnError, OSError, sqlite3.OperationalError)
    return isinstance(error, environment) or type(error).__name__ == "OperationalError"


def advance_studies(store: Store, worker_id: str = "") -> list[StudyStep]:
    """Give every running study its next step (if it has one); the steps applied.

    A study whose decision raises is never left running for nothing: when the cause is the study itself,
    it is stopped with the error as its verdict (its queued runs cancelled); when the cause is this
    process (`this_machine_is_the_cause`), it is left running for a worker that can advance it, and this
    process stops waiting on it (`studies_to_wait_for`). Either way the error is printed (with the worker's
    id) and recorded in the event log once per process (workers poll every second); the other studies and
    the worker's runs go on.
    """
    applied = []
    for study in store.studies(state=StudyState.RUNNING):
        try:
            step = _advance(store, study)
        except Exception as error:  # a study's bug (or a missing extra) must not stop the worker's training
            message = f"study {study.id} could not advance: {type(error).__name__}: {error}"
            if this_machine_is_the_cause(error):
                _STUCK_HERE.add(study.id)
            else:
                store.stop_study(study.id, f"ended: it could not advance ({type(error).__name__}: {error})")
                message += "; the study is ended"
            if message not in _REPORTED:  # said once per process, not at every poll
                _REPORTED.add(message)
                print(f"[{worker_id}] {message}", file=sys.stderr, flush=True)
                store.record_event("study_error", message)
            continue
        _STUCK_HERE.discard(study.id)
        if step is not None:
            applied.append(step)
    return applied


def studies_to_wait_for(store: Store) -> list[Study]:
    """The running studies a draining worker (``--once``) waits on: all but those this process cannot advance."""
    return [study for study in store.studies(state=StudyState.RUNNING) if study.id not in _STUCK_HERE]
