"""Messages posted by background store reads back to the screens (small dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message
from textual.notifications import SeverityLevel


@dataclass
class RunsLoaded(Message):
    """A fresh snapshot of the run list."""

    runs: list[Any]
    counts: dict[str, int]
    workers: int
    now: float


@dataclass
class LeaderboardLoaded(Message):
    """Leaderboard summaries and, optionally, an effect table."""

    summaries: list[Any]
    excluded: Any
    effects: list[Any] = field(default_factory=list)
    tests: Any = None
    """The `kcnn.reports.effects.EffectAnalysis`, or the one line that says why there is none."""
    plot: Any = None
    """Every run against the effect table's hyperparameter (Rich text), when the plot is on."""


@dataclass
class RunEvaluated(Message):
    """What the Run screen asked of a done run's model: an evaluation, predictions, or why there are none.

    `evaluation` is a `kcnn.inference.evaluation.Evaluation`, a list of `Prediction`, or one line of text.
    """

    evaluation: Any


@dataclass
class RunLoaded(Message):
    """One run with its epochs and events."""

    run: Any
    epochs: list[dict[str, Any]]
    events: list[dict[str, Any]]


@dataclass
class WorkersLoaded(Message):
    """Live worker supervisors and the runs they train."""

    workers: list[Any]
    running: list[Any]


@dataclass
class StudiesLoaded(Message):
    """Every study's summary, and the selected study's runs."""

    summaries: list[Any]
    runs: list[Any]


@dataclass
class StoreActionDone(Message):
    """A store write finished in a background thread; shown as a notification."""

    text: str
    severity: SeverityLevel = "information"
    close: bool = False
    """Whether the screen that asked should close (a form whose runs were queued)."""


@dataclass
class StoreFailed(Message):
    """A store operation failed; shown as a notification."""

    text: str


@dataclass
class SweepCounted(Message):
    """What the Sweep form's values make, counted in a background thread.

    `spec` is the `kcnn.api.SweepSpec` counted (`None` when the form is invalid), `report` the dry run's
    `kcnn.api.QueueReport`, and `error` the one line that says why nothing can be queued.
    """

    spec: Any
    report: Any
    error: str = ""


@dataclass
class StoreInfoLoaded(Message):
    """What the store holds (a `kcnn.api.store_info` answer)."""

    info: Any


@dataclass
class PrunePlanned(Message):
    """A prune's dry run (a `kcnn.api.PruneReport`), to confirm before anything is removed."""

    report: Any
