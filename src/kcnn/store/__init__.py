"""The experiment store: runs, epochs and events in SQLite, artifacts on disk."""

from __future__ import annotations

from kcnn.store.artifacts import atomic_link, atomic_write
from kcnn.store.records import AddResult, Claim, Run
from kcnn.store.states import FailureKind, RunState
from kcnn.store.store import Store, default_store_path

__all__ = [
    "AddResult",
    "Claim",
    "FailureKind",
    "Run",
    "RunState",
    "Store",
    "atomic_link",
    "atomic_write",
    "default_store_path",
]
