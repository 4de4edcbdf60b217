"""Rich tables of stored runs: the run list, one run's epochs and events. Returned, never printed."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

from kcnn.config import format_value
from kcnn.reports.text import safe
from kcnn.store import Run
from kcnn.store.retention import removed_text
from kcnn.throughput import describe_throughput

#: Narrow terminals: run-list columns in the order they are hidden (id, state and best val always stay).
RUNS_HIDE_ORDER = ("time", "epoch", "seed", "channels", "note", "d", "k", "input")
STATE_STYLES = {"queued": "cyan", "running": "yellow", "done": "green", "failed": "red", "cancelled": "dim",
                "pruned": "magenta"}  # fmt: skip


def _percent(value: float | None) -> str:
    return _number(value, ".2%")


def _number(value: float | None, spec: str) -> str:
    """A metric as text; a missing one (NULL in an upgraded store, NaN) is an empty cell."""
    return "" if value is None or not math.isfinite(value) else format(value, spec)


def _seconds(run: Run, now: float) -> str:
    if run.state == "running" and run.started:
        return f"{now - run.started:,.0f}s…"
    return "" if run.train_seconds is None else f"{run.train_seconds:,.1f}s"


def training_text(runs: Sequence[Run]) -> str:
    """What a worker trains, e.g. ``run 12 (3/10), run 14 (1/10)``, or ``idle``."""
    return ", ".join(f"run {run.id} ({run.epochs_done}/{run.epochs_total})" for run in runs) or "idle"


def runs_table(runs: Sequence[Run], counts: Mapping[str, int], now: float | None = None) -> Table:
    """The run list: one row per run, newest first; the caption counts runs per state."""
    now = time.time() if now is None else now
    total = sum(counts.values())
    summary = " · ".join(f"{count} {state}" for state, count in counts.items() if count)
    shown = f"showing {len(runs)} of {total}" if len(runs) < total else f"{total} runs"
    table = Table(title="Runs", title_justify="left", caption=f"{shown} · {summary}", caption_justify="left")
    for column in ("id", "state", "input", "k", "d", "channels", "seed", "epoch", "best val", "time", "note"):
        table.add_column(
            column, justify="right" if column not in ("state", "channels", "note") else "left",
            no_wrap=column != "note",
        )  # fmt: skip
    for run in runs:
        damaged = run.config_problem is not None
        config = {} if damaged else run.config_dict
        note = "damaged config" if damaged else run.error_kind or ""
        if run.state == "queued" and run.attempt:
            note = f"resumes at {run.checkpoint_epoch + 1}" if run.checkpoint_epoch else note
        if run.study_id is not None:
            trial = f" trial {run.trial}" if run.trial is not None else ""
            note = f"study {run.study_id}{trial}" + (f" · {note}" if note else "")
        table.add_row(
            str(run.id),
            f"[{STATE_STYLES.get(run.state, '')}]{run.state}[/]",
            str(config.get("input_size", "")),
            format_value("kernel_size", config.get("kernel_size")),
            format_value("dilation", config.get("dilation")),
            format_value("channels", config.get("channels", ())),
            str(run.seed),
            f"{run.epochs_done}/{run.epochs_total}",
            _percent(run.best_val_accuracy),
            _seconds(run, now),
            safe(note),
        )
    return table


def run_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One flat dict per run: the main columns plus every config field (prefixed ``config.``)."""
    from kcnn.reports.export import run_table

    header, rows = run_table(runs)
    return [dict(zip(header, row, strict=True)) for row in rows]


def run_summary_table(run: Run) -> Table:
    """The headline facts of one run."""
    table = Table(title=f"Run {run.id}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("state", f"[{STATE_STYLES.get(run.state, '')}]{run.state}[/]")
    table.add_row("epochs", f"{run.epochs_done}/{run.epochs_total} (checkpoint after epoch {run.checkpoint_epoch})")
    table.add_row("best / final val acc", f"{_percent(run.best_val_accuracy)} / {_percent(run.final_val_accuracy)}")
    if run.test_accuracy is not None or run.best_test_accuracy is not None:
        table.add_row(
            "test acc (best / final)",
            f"{_percent(run.best_test_accuracy)} / {_percent(run.test_accuracy)} (the test set chose nothing)",
        )
    folds = run.config_dict.get("folds")
    if isinstance(folds, int) and folds > 1:
        table.add_row("fold", f"{run.fold} of {folds} (validates on fold {run.fold}, trains on the others)")
    if run.train_seconds is not None:
        table.add_row("training time", f"{run.train_seconds:,.1f} s")
    if run.images_per_second is not None:
        table.add_row("images / s", f"{run.images_per_second:,.0f}")
    if run.flops_per_image is not None:
        table.add_row("FLOPs / image", f"{run.flops_per_image:,} (forward)")
    if run.flops_per_second is not None:
        table.add_row("training FLOP/s", describe_throughput(run.flops_per_second, run.peak_flops, run.device_name))
    if run.params is not None:
        table.add_row("params", f"{run.params:,}")
    config = run.experiment_config
    removed = removed_text(run.folder, config.train_command() if config is not None else None)
    if removed is not None:
        table.add_row("model", f"[yellow]{safe(removed)}[/]")
    elif run.model:
        table.add_row("model", safe(run.model))
    table.add_row("attempt", f"{run.attempt} (crashes {run.retries} of {run.max_attempts} allowed)")
    table.add_row("priority", str(run.priority))
    if run.worker_id:
        table.add_row("worker", safe(run.worker_id))
    if run.device:
        table.add_row(
            "device",
            " · ".join(filter(None, (run.device, run.device_name, run.train_loop and f"{run.train_loop} loop"))),
        )
    together = fused_with(run)
    if together:
        table.add_row("trained with", f"runs {safe(together)}, as one program (fused)")
    if run.error_kind:
        table.add_row("error", f"[red]{run.error_kind}[/]: {safe((run.error_message or '').splitlines()[0])}")
    table.add_row("config_key", run.config_key)
    return table


def fused_with(run: Run) -> str | None:
    """The runs a fused run was trained with, as its loop's reason names them (``2, 3``); `None` otherwise."""
    reason = run.train_loop_reason or ""
    prefix = "trained as one program with runs "
    if run.train_loop != "fused" or not reason.startswith(prefix):
        return None
    return reason[len(prefix) :].partition(";")[0]


def epochs_table(epochs: Sequence[Mapping[str, Any]]) -> Table:
    """Per-epoch metrics from the store."""
    table = Table(title="Epochs", title_justify="left")
    for column in ("epoch", "attempt", "loss", "acc", "val loss", "val acc", "s", "img/s"):
        table.add_column(column, justify="right")
    best = max((row["val_accuracy"] for row in epochs if _number(row["val_accuracy"], "g")), default=None)
    for row in epochs:
        table.add_row(
            str(row["epoch"]),
            str(row["attempt"]),
            _number(row["loss"], ".4f"),
            _percent(row["accuracy"]),
            _number(row["val_loss"], ".4f"),
            _percent(row["val_accuracy"]),
            _number(row["seconds"], ".2f"),
            _number(row["images_per_second"], ",.0f"),
            style="bold green" if row["val_accuracy"] == best else None,
        )
    return table


def events_table(events: Sequence[Mapping[str, Any]]) -> Table:
    """The event log of a run."""
    table = Table(title="Events", title_justify="left")
    for column in ("time", "event", "attempt", "worker", "message"):
        table.add_column(column)
    for event in events:
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event["time"])),
            event["kind"],
            "" if event["attempt"] is None else str(event["attempt"]),
            safe(event["worker_id"] or ""),
            safe((event["message"] or "").splitlines()[0] if event["message"] else ""),
        )
    return table
