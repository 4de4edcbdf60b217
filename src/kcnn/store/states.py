"""Run states and failure kinds."""

from __future__ import annotations

import enum


class RunState(enum.StrEnum):
    """Where a run is in its life cycle: ``queued → running → done | failed | cancelled | pruned``.

    ``running → queued`` happens when a lease expires or a worker stops politely. ``pruned``: a study's
    pruner stopped the run between epochs because it was unlikely to beat the others; its epochs are kept
    and counted, and it never counts as failed.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PRUNED = "pruned"

    def is_finished(self) -> bool:
        """Whether the run can no longer change (until a user retries it)."""
        return self in (RunState.DONE, RunState.FAILED, RunState.CANCELLED, RunState.PRUNED)


class FailureKind(enum.StrEnum):
    """Why a run failed, in terms a user can act on."""

    INVALID_CONFIG = "invalid_config"
    DATA_ERROR = "data_error"
    DIVERGED = "diverged"
    OUT_OF_MEMORY = "out_of_memory"
    CRASHED = "crashed"
    INTERRUPTED = "interrupted"

    @property
    def retryable(self) -> bool:
        """Whether a worker should requeue the run by itself (only crashes are)."""
        return self is FailureKind.CRASHED


class StudyKind(enum.StrEnum):
    """What drives a study: a race between configurations, an Optuna search, or a budgeted answer."""

    RACE = "race"
    OPTIMIZE = "optimize"
    ANSWER = "answer"


class StudyState(enum.StrEnum):
    """Where a study is: ``running`` (workers advance it) until ``done`` (a verdict) or ``stopped`` (by a user)."""

    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"

    def is_finished(self) -> bool:
        """Whether no worker advances it any more."""
        return self is not StudyState.RUNNING


class TrialState(enum.StrEnum):
    """An Optuna study's trial as kcnn keeps it in the study's progress.

    ``running`` until its runs end: ``complete`` (told the mean of its seeds), ``pruned``, ``failed`` (no run
    finished), or ``invalid`` (an impossible configuration, told failed at no compute).
    """

    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"
    INVALID = "invalid"
