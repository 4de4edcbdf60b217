"""Export runs and per-epoch histories as CSV or JSON, one row per run or per epoch (what pandas loads)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from kcnn.report_runs import run_rows
from kcnn.store import RunRecord, Store

FORMATS = ("csv", "json")


def epoch_rows(store: Store, runs: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One flat dict per recorded epoch of `runs`: run id, config key, seed, state, config fields, metrics."""
    by_id = {run.id: run for run in runs}
    rows = []
    for epoch in store.all_epochs():
        run = by_id.get(epoch["run_id"])
        if run is None:
            continue
        row: dict[str, Any] = {"run_id": run.id, "config_key": run.config_key, "seed": run.seed, "state": run.state}
        for name, value in run.config_dict.items():
            if name != "seed":
                row[f"config.{name}"] = ",".join(map(str, value)) if isinstance(value, list) else value
        row.update({k: v for k, v in epoch.items() if k != "run_id"})
        rows.append(row)
    return rows


def render(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    """Rows as CSV (header from the first row) or a JSON array."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2) + "\n"
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def export_runs(runs: Sequence[RunRecord], fmt: str) -> str:
    """One row per run: state, metrics, and every hyperparameter."""
    return render(run_rows(runs), fmt)
