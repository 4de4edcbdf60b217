"""What a store holds, as a Rich table (`kcnn store info` and the TUI's Store screen)."""

from __future__ import annotations

from rich.table import Table

from kcnn.reports.text import safe
from kcnn.store.upgrade import StoreInfo


def store_info_table(info: StoreInfo) -> Table:
    """Path, schema, runs by state, the database's and the artifacts' bytes by kind, the largest runs, the cache."""
    table = Table(title="Store", title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    version = f"{info.schema_version}" + (
        f" [yellow](this kcnn: {info.current_version}; run `kcnn store upgrade`)[/]" if info.needs_upgrade else ""
    )
    runs = ", ".join(f"{count} {state}" for state, count in sorted(info.runs_by_state.items())) or "none"
    cache = f"{info.data_cache_bytes / 1e6:,.1f} MB in {safe(str(info.data_cache))} (shared by stores)"
    for name, value in (
        ("path", safe(str(info.path.resolve()))),
        ("schema version", version),
        ("runs", runs),
        ("epochs recorded", f"{info.epochs:,}"),
        ("events", f"{info.events:,}"),
        ("database", f"{info.database_bytes / 1e6:,.1f} MB"),
        ("artifacts", f"{info.artifacts_bytes / 1e6:,.1f} MB"),
        *((f"  {kind}", f"{size / 1e6:,.1f} MB") for kind, size in info.artifacts_by_kind.items() if size),
        ("largest runs", ", ".join(f"run {run_id} {size / 1e6:,.1f} MB" for run_id, size in info.largest_runs)),
        *((("data cache", cache),) if info.data_cache is not None else ()),
    ):
        table.add_row(name, value)
    return table
