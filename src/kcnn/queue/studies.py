"""Advance every running study: called by workers between runs, so studies need no process of their own."""

from __future__ import annotations

import sys

from kcnn.queue.race import decide_race
from kcnn.store import Store, Study, StudyKind, StudyState, StudyStep


def _advance(store: Store, study: Study) -> StudyStep | None:
    """One study's next step, decided by its kind (an Optuna study imports Optuna only when it has work)."""
    if study.kind is StudyKind.RACE:
        return store.advance_study(study.id, decide_race)
    if study.kind is StudyKind.OPTIMIZE:
        from kcnn.queue.optimize import decide_optimize

        return store.advance_study_outside_lock(study.id, decide_optimize(store.path))  # Optuna's own I/O
    return None


#: Errors already printed and recorded by this process.
_REPORTED: set[str] = set()


def advance_studies(store: Store, worker_id: str = "") -> list[StudyStep]:
    """Give every running study its next step (if it has one); the steps applied.

    A study whose decision raises is left as it is and the error is printed (with the worker's id) and
    recorded in the event log, once per process (workers poll every second); the other studies and the
    worker's runs go on. A later worker that can advance it (say, with the missing extra installed) does.
    """
    applied = []
    for study in store.studies(state=StudyState.RUNNING):
        try:
            step = _advance(store, study)
        except Exception as error:  # a study's bug (or a missing extra) must not stop the worker's training
            message = f"study {study.id} could not advance: {type(error).__name__}: {error}"
            if message not in _REPORTED:  # said once per process, not at every poll
                _REPORTED.add(message)
                print(f"[{worker_id}] {message}", file=sys.stderr, flush=True)
                store.record_event("study_error", message)
            continue
        if step is not None:
            applied.append(step)
    return applied
