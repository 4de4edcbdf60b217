"""What a study has done: the list of studies and one study in detail. Tables returned, never printed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from kcnn import stats
from kcnn.reports.text import safe
from kcnn.store import Run, Study

STUDY_STYLES = {"running": "yellow", "done": "green", "stopped": "dim"}


@dataclass(frozen=True)
class StudySummary:
    """A study and the state of its runs."""

    study: Study
    counts: dict[str, int]
    """The study's runs by state."""
    best_key: str | None
    """The configuration with the best mean metric over the study's done runs."""
    best_mean: float | None
    best_n: int

    @property
    def pending(self) -> int:
        """Runs queued or running."""
        return self.counts.get("queued", 0) + self.counts.get("running", 0)

    @property
    def budget(self) -> str:
        """Runs spent, against the study's budget when it has one."""
        used = sum(self.counts.values())
        seconds = self.study.settings.get("budget_seconds")
        if seconds is not None:
            end = self.study.finished or time.time()
            return f"{used} run(s), {end - self.study.created:.0f} s of {seconds:.0f} s"
        limit = self.study.settings.get("trials")
        return f"{used} run(s)" + (f", trials {self.study.progress.get('told', 0)} of {limit}" if limit else "")

    @property
    def duplicates(self) -> dict[str, int]:
        """An Optuna study's proposals of configurations it already had (see `duplicate_proposals`)."""
        return duplicate_proposals(self.study)

    def to_dict(self) -> dict[str, Any]:
        """Every field, for scripts."""
        return {**self.study.to_dict(), "runs_by_state": self.counts, "best_config_key": self.best_key,
                "best_mean": self.best_mean, "best_n": self.best_n,
                "duplicate_proposals": self.duplicates}  # fmt: skip


def duplicate_proposals(study: Study) -> dict[str, int]:
    """How often an Optuna study's sampler proposed a configuration it already had, and what kcnn did instead.

    ``in_flight``: asked while a trial of it was training (it took that trial's outcome, no run queued);
    ``answered``: every run it needed was already done (told at no compute); ``partly_reused``: some were.
    """
    trials = study.progress.get("trials", {}) if study.kind == "optimize" else {}
    repeats = int(study.settings.get("repeats", 1) or 1)
    found = {"in_flight": 0, "answered": 0, "partly_reused": 0}
    for info in trials.values():
        if info.get("same_as") is not None:
            found["in_flight"] += 1
        elif info.get("reused"):
            found["answered" if len(info["reused"]) >= repeats else "partly_reused"] += 1
    return found


def summarize_study(study: Study, runs: Sequence[Run]) -> StudySummary:
    """Count the study's runs and find its best configuration so far (by the study's metric)."""
    metric = study.settings.get("metric", "best")
    values: dict[str, list[float]] = {}
    for run in runs:
        value = run.best_val_accuracy if metric == "best" else run.final_val_accuracy
        if run.state == "done" and value is not None:
            values.setdefault(run.config_key, []).append(value)
    best = max(values, key=lambda key: stats.mean(values[key]), default=None)
    return StudySummary(
        study,
        dict(Counter(run.state for run in runs)),
        best,
        stats.mean(values[best]) if best else None,
        len(values[best]) if best else 0,
    )


def studies_table(summaries: Sequence[StudySummary]) -> Table:
    """One row per study: kind, state, runs done / pending / pruned, best so far, budget used."""
    table = Table(title="Studies", title_justify="left", caption="`kcnn study show ID` for one study",
                  caption_justify="left")  # fmt: skip
    for column in ("id", "kind", "state", "done", "pending", "pruned", "failed", "best so far", "budget used"):
        table.add_column(column, justify="right" if column in ("id", "done", "pending", "pruned", "failed") else "left")
    for summary in summaries:
        study = summary.study
        best = (
            "" if summary.best_key is None else f"{summary.best_key[:8]} {summary.best_mean:.2%} (n={summary.best_n})"
        )
        table.add_row(
            str(study.id),
            study.kind,
            f"[{STUDY_STYLES.get(study.state, '')}]{study.state}[/]",
            str(summary.counts.get("done", 0)),
            str(summary.pending),
            str(summary.counts.get("pruned", 0)),
            str(summary.counts.get("failed", 0)),
            best,
            summary.budget,
        )
    return table


def study_table(summary: StudySummary, runs: Sequence[Run]) -> Table:
    """One study: its settings, progress, verdict, and every run it queued."""
    study = summary.study
    settings = describe_settings(study)
    lines = [f"verdict: {study.verdict}" if study.verdict else "no verdict yet"]
    duplicates = summary.duplicates
    if any(duplicates.values()):
        lines.append(
            f"duplicate proposals: {sum(duplicates.values())} — {duplicates['answered']} answered from done runs, "
            f"{duplicates['in_flight']} took a trial in flight's outcome, {duplicates['partly_reused']} reused some "
            "runs (none trained twice)"
        )
    dropped = study.progress.get("dropped") or {}
    if isinstance(dropped, list):  # a budgeted study's race keeps the keys only
        dropped = {key: "clearly worse than the leader (Holm-corrected)" for key in dropped}
    lines += [f"left the race: {key[:8]} — {why}" for key, why in dropped.items()]
    caption = "\n".join(safe(line) for line in lines)  # each line made safe: the breaks between them stay breaks
    table = Table(
        title=f"Study {study.id} ({study.kind}, {study.state}): {safe(settings)}",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    for column in ("run", "config", "seed", "trial", "state", "epochs", "best val acc"):
        table.add_column(column, justify="left" if column in ("config", "state") else "right")
    for run in runs:
        table.add_row(
            str(run.id),
            run.config_key[:8],
            str(run.seed),
            "" if run.trial is None else str(run.trial),
            run.state,
            f"{run.epochs_done}/{run.epochs_total}",
            "" if run.best_val_accuracy is None else f"{run.best_val_accuracy:.2%}",
        )
    return table


def _shown(value: Any) -> str:
    """A grid value as users type it (``2,1`` for a per-layer list)."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def describe_settings(study: Study) -> str:
    """A study's settings in one line: what it races or searches, and how."""
    settings = study.settings
    if study.kind == "race":
        keys = " ".join(key[:8] for key in settings.get("keys", []))
        return (f"{keys} · up to {settings.get('max_repeats')} runs each · alpha {settings.get('alpha')} · "
                f"{settings.get('metric')} val acc")  # fmt: skip
    if study.kind == "answer":
        grid = " · ".join(f"{name} ∈ {{{' | '.join(map(_shown, values))}}}" for name, values in
                          sorted(settings.get("grid", {}).items()))  # fmt: skip
        return (f"{grid} · budget {settings.get('budget_seconds'):.0f} s on {settings.get('workers')} worker slot(s) · "
                f"{settings.get('seeds')} seeds · {settings.get('metric')} val acc")  # fmt: skip
    parts = []
    for param in settings.get("params", []):
        if param.get("choices"):
            parts.append(f"{param['name']} ∈ {{{' | '.join(map(str, param['choices']))}}}")
        else:
            scale = " log" if param.get("log") else ""
            parts.append(f"{param['name']} ∈ [{param.get('low'):g}, {param.get('high'):g}]{scale}")
    how = (
        f"{settings.get('trials')} trials · {settings.get('sampler')} · {settings.get('pruner')} pruner · "
        f"{settings.get('repeats')} seed(s) · {settings.get('metric')} val acc"
    )
    return " · ".join([*parts, how])
