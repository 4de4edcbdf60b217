"""`kcnn store info` and `kcnn store upgrade`: what a store holds, and the one way its schema changes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from kcnn.api import default_store_path
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option
from kcnn.cli.output import add_format_option, output_console, print_fitted


def register(commands: Any) -> None:
    """Add `store` and its sub-commands."""
    store = commands.add_parser("store", help="store info, and schema upgrades (backup first)")
    actions = store.add_subparsers(dest="store_command", metavar="ACTION", required=True, parser_class=type(store))
    info = actions.add_parser("info", help="path, schema version, run counts and size of a store")
    add_format_option(info, help="table (default) or json: JSON")
    add_store_option(info)
    info.set_defaults(handler=run_info)
    upgrade = actions.add_parser(
        "upgrade",
        help="back the store up, then bring it to this kcnn's schema in one transaction",
        description="Copy kcnn.sqlite to kcnn.sqlite.vN.bak, then migrate and re-key every run in one "
        "transaction. Other commands refuse an older store until this has run.",
    )
    add_store_option(upgrade)
    upgrade.set_defaults(handler=run_upgrade)


def run_info(args: argparse.Namespace) -> int:
    """Print what the store holds (any schema version; changes nothing)."""
    from kcnn.api import store_info

    info = store_info(args.store or default_store_path())
    if args.format == "json":
        print(json.dumps(info.to_dict(), indent=2))
        return 0
    table = Table(title="Store", title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    version = f"{info.schema_version}" + (
        f" [yellow](this kcnn: {info.current_version}; run `kcnn store upgrade`)[/]" if info.needs_upgrade else ""
    )
    runs = ", ".join(f"{count} {state}" for state, count in sorted(info.runs_by_state.items())) or "none"
    for name, value in (
        ("path", safe(str(info.path.resolve()))),
        ("schema version", version),
        ("runs", runs),
        ("epochs recorded", f"{info.epochs:,}"),
        ("events", f"{info.events:,}"),
        ("database", f"{info.database_bytes / 1e6:,.1f} MB"),
        ("artifacts", f"{info.artifacts_bytes / 1e6:,.1f} MB"),
    ):
        table.add_row(name, value)
    print_fitted(output_console(), table)
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    """Upgrade the store's schema (backup first)."""
    from kcnn.api import upgrade_store

    report = upgrade_store(args.store or default_store_path())
    if report.backup is None:
        print(f"{report.path}: already at schema version {report.to_version}; nothing to do")
        return 0
    print(
        f"{report.path}: upgraded schema {report.from_version} → {report.to_version}; "
        f"{report.rekeyed} run(s) re-keyed; backup at {report.backup}"
    )
    return 0
