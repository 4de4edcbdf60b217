"""Advance every running study: called by workers between runs, so studies need no process of their own."""

from __future__ import annotations

import sys

from kcnn.queue.race import decide_race
from kcnn.store import Store, StudyStep
from kcnn.store.studies import Decide

#: How each kind of study decides its next step.
DECIDERS: dict[str, Decide] = {"race": decide_race}


def advance_studies(store: Store, worker_id: str = "") -> list[StudyStep]:
    """Give every running study its next step (if it has one); the steps applied.

    A study whose decision raises is left as it is and the error is printed (with the worker's id) and
    recorded in the event log; the other studies and the worker's runs go on.
    """
    applied = []
    for study in store.studies(state="running"):
        decide = DECIDERS.get(study.kind)
        if decide is None:
            continue
        try:
            step = store.advance_study(study.id, decide)
        except Exception as error:  # a study's bug must not stop the worker's training
            message = f"study {study.id} could not advance: {type(error).__name__}: {error}"
            print(f"[{worker_id}] {message}", file=sys.stderr, flush=True)
            store.record_event("study_error", message)
            continue
        if step is not None:
            applied.append(step)
    return applied
