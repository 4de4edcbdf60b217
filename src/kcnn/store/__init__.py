"""The experiment store: runs, epochs and events in SQLite, artifacts on disk."""

from __future__ import annotations

from kcnn.files import atomic_link, atomic_write, remove_stale_temporaries
from kcnn.store.claim_handle import ClaimHandle
from kcnn.store.records import CLASSES_FILE, AddResult, Claim, FinishedRun, NewRun, Run
from kcnn.store.states import FailureKind, RunState, StudyKind, StudyState, TrialState
from kcnn.store.store import Store, default_store_path
from kcnn.store.studies import Study, StudyStep

__all__ = [
    "CLASSES_FILE",
    "AddResult",
    "Claim",
    "ClaimHandle",
    "FailureKind",
    "FinishedRun",
    "NewRun",
    "Run",
    "RunState",
    "Store",
    "Study",
    "StudyKind",
    "StudyState",
    "StudyStep",
    "TrialState",
    "atomic_link",
    "atomic_write",
    "default_store_path",
    "remove_stale_temporaries",
]
