"""`prune`: keep the model files of the leaderboard's top configurations, remove the rest (numbers stay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kcnn.api.analysis import _check_metric, leaderboard
from kcnn.api.checks import whole_argument
from kcnn.api.workspace import StoreLike, engine_store
from kcnn.store import RunState
from kcnn.store.retention import RESUMABLE, Removal


@dataclass(frozen=True)
class PruneReport:
    """What `prune` removed (or, in a dry run, would remove)."""

    keep_top: int
    metric: str
    dry_run: bool
    kept: list[str] = field(default_factory=list)
    """The config keys whose done runs keep their models, best first."""
    removal: Removal = field(default_factory=Removal)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"keep_top": self.keep_top, "metric": self.metric, "dry_run": self.dry_run, "kept": self.kept,
                "runs": self.removal.runs, "files": self.removal.files, "bytes": self.removal.bytes}  # fmt: skip

    @property
    def text(self) -> str:
        """One line: what was (or would be) freed, and what was kept."""
        verb = "would free" if self.dry_run else "freed"
        freed = f"{verb} {self.removal.bytes / 1e6:,.1f} MB: the model files of {len(self.removal.runs)} run(s)"
        return f"{freed}; kept those of the top {len(self.kept)} configuration(s) by {self.metric} accuracy"


def prune(store: StoreLike, keep_top: int, *, metric: str = "best", dry_run: bool = False) -> PruneReport:
    """Remove the model files of every run outside the leaderboard's top `keep_top` configurations.

    Done runs of the top configurations keep their final and best models; every other finished run (done
    elsewhere in the ranking, failed, cancelled, pruned, or with a damaged config) loses its model files and
    checkpoints. Queued and running runs are never touched. Every number stays in the store, so reports,
    effects, races and exports are unchanged; a removed model says so where it would be used.

    Args:
        store: The store.
        keep_top: How many of the leaderboard's configurations keep their models (0: none).
        metric: ``best`` or ``final``: the ranking. Defaults to ``best``.
        dry_run: Count what would be freed; remove nothing.

    Raises:
        ConfigError: For a negative `keep_top` or an unknown metric.
    """
    whole_argument("keep_top", keep_top, 0)
    _check_metric(metric)
    engine = engine_store(store)
    kept = [summary.config_key for summary in leaderboard(engine, metric)[:keep_top]]
    keep = set(kept)
    targets = [run.id for run in engine.runs() if run.run_state not in RESUMABLE
               and not (run.state == RunState.DONE and run.config_key in keep)]  # fmt: skip
    reason = f"kcnn store prune --keep-top {keep_top}"
    return PruneReport(keep_top, metric, dry_run, kept, engine.remove_model_files(targets, reason, dry_run=dry_run))
