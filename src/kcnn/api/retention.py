"""`prune`: keep the model files of the leaderboard's top configurations, remove the rest (numbers stay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kcnn.api.analysis import _check_metric, leaderboard
from kcnn.api.checks import whole_argument
from kcnn.api.workspace import StoreLike, engine_store
from kcnn.errors import ConfigError
from kcnn.store import RunState
from kcnn.store.retention import RESUMABLE, Removal

#: What the top configurations' done runs keep (`prune`'s `keep`), as name patterns of their files.
PRUNE_KEEPS = {"final": ("model-a*.keras",), "best": ("best-a*.keras",),
               "final+best": ("model-a*.keras", "best-a*.keras")}  # fmt: skip
#: How a report names what the top configurations keep, and what they lose.
_KEEP_WORDS = {"final": ("final models", "best-epoch models"), "best": ("best-epoch models", "final models"),
               "final+best": ("final and best-epoch models", "resume checkpoints")}  # fmt: skip


@dataclass(frozen=True)
class PruneReport:
    """What `prune` removed (or, in a dry run, would remove)."""

    keep_top: int
    metric: str
    dry_run: bool
    kept: list[str] = field(default_factory=list)
    """The config keys whose done runs keep their models, best first."""
    removal: Removal = field(default_factory=Removal)
    """The model files of the runs outside the top configurations (all of them)."""
    keep: str = "final"
    """What the top configurations' done runs keep (`PRUNE_KEEPS`)."""
    trimmed: Removal = field(default_factory=Removal)
    """The files of the top configurations' done runs that `keep` does not keep."""

    @property
    def freed_bytes(self) -> int:
        """Bytes freed (or that would be) in all."""
        return self.removal.bytes + self.trimmed.bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``runs`` lost every model file, ``trimmed`` (top runs) those ``keep`` does not keep."""
        return {"keep_top": self.keep_top, "metric": self.metric, "keep": self.keep, "dry_run": self.dry_run,
                "kept": self.kept, "runs": self.removal.runs, "trimmed": self.trimmed.runs,
                "files": self.removal.files + self.trimmed.files, "bytes": self.freed_bytes}  # fmt: skip

    @property
    def text(self) -> str:
        """One line: what was (or would be) freed, and what was kept."""
        verb = "would free" if self.dry_run else "freed"
        kept_words, lost_words = _KEEP_WORDS[self.keep]
        freed = f"{verb} {self.freed_bytes / 1e6:,.1f} MB: the model files of {len(self.removal.runs)} run(s)"
        if self.trimmed.runs:
            freed += f" and the {lost_words} of {len(self.trimmed.runs)} top run(s)"
        top = f"the top {len(self.kept)} configuration(s) by {self.metric} accuracy keep their {kept_words}"
        return f"{freed}; {top}" + ("" if self.keep == "final+best" else " (--keep final+best keeps both)")


def prune(
    store: StoreLike, keep_top: int, *, metric: str = "best", keep: str = "final", dry_run: bool = False
) -> PruneReport:
    """Remove the model files of every run outside the leaderboard's top `keep_top` configurations.

    Done runs of the top configurations keep what `keep` says: their final models by default (the model
    ``evaluate``, ``predict`` and ``export`` use unless told ``best``), ``best`` their best epoch's, or both;
    a run that has none of those keeps what it has. Every other finished run (done elsewhere in the ranking,
    failed, cancelled, pruned, or with a damaged config) loses its model files and checkpoints. Queued and
    running runs are never touched. Every number stays in the store, so reports, effects, races and exports
    are unchanged; a removed model says so where it would be used.

    Args:
        store: The store.
        keep_top: How many of the leaderboard's configurations keep their models (0: none).
        metric: ``best`` or ``final``: the ranking. Defaults to ``best``.
        keep: ``final``, ``best`` or ``final+best``: what the top configurations' runs keep.
        dry_run: Count what would be freed; remove nothing.

    Raises:
        ConfigError: For a negative `keep_top`, an unknown metric or an unknown `keep`.
    """
    whole_argument("keep_top", keep_top, 0)
    _check_metric(metric)
    if keep not in PRUNE_KEEPS:
        raise ConfigError(f"`keep` must be one of {', '.join(PRUNE_KEEPS)}; got {keep!r}.")
    engine = engine_store(store)
    kept = [summary.config_key for summary in leaderboard(engine, metric)[:keep_top]]
    top = set(kept)
    runs = [run for run in engine.runs() if run.run_state not in RESUMABLE]
    outside = [run.id for run in runs if not (run.state == RunState.DONE and run.config_key in top)]
    inside = [run.id for run in runs if run.state == RunState.DONE and run.config_key in top]
    reason = f"kcnn store prune --keep-top {keep_top}" + ("" if keep == "final+best" else f" --keep {keep}")
    removal = engine.remove_model_files(outside, reason, dry_run=dry_run)
    trimmed = engine.remove_model_files(inside, reason, dry_run=dry_run, spare=PRUNE_KEEPS[keep])
    return PruneReport(keep_top, metric, dry_run, kept, removal, keep, trimmed)
