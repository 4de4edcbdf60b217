"""`kcnn store info` and `kcnn store upgrade`: what a store holds, and the one way its schema changes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kcnn.api import default_store_path
from kcnn.api.arguments import whole
from kcnn.api.views import store_info_table
from kcnn.cli.common import add_store_option, open_store
from kcnn.cli.output import add_format_option, output_console, print_fitted


def register(commands: Any) -> None:
    """Add `store` and its sub-commands."""
    store = commands.add_parser("store", help="store info, schema upgrades (backup first), pruning model files")
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
    prune = actions.add_parser(
        "prune",
        help="remove the model files of every run outside the leaderboard's top N configurations",
        description="Keep the final models (or --keep best|final+best) of the done runs of the leaderboard's top "
        "N configurations; remove the model files and checkpoints of every other finished run (queued and running "
        "runs are never touched). Every number stays in the store: reports, effects, races and exports are "
        "unchanged.",
        epilog="Examples: kcnn store prune --keep-top 5 --dry-run · kcnn store prune --keep-top 5 · "
        "kcnn store prune --keep-top 3 --keep final+best",
    )
    prune.add_argument("--keep-top", type=whole("--keep-top", 0, example=5), required=True, metavar="N",
                       help="configurations whose models are kept (0: none)")  # fmt: skip
    prune.add_argument("--metric", choices=("best", "final"), default="best", help="the ranking (default best)")
    prune.add_argument("--keep", choices=("final", "best", "final+best"), default="final",
                       help="what the top configurations' runs keep (default final: the model evaluate, predict "
                       "and export use)")  # fmt: skip
    prune.add_argument("--dry-run", action="store_true", help="say what would be freed; remove nothing")
    add_format_option(prune, help="table (default) or json: JSON")
    add_store_option(prune)
    prune.set_defaults(handler=run_prune)


def run_info(args: argparse.Namespace) -> int:
    """Print what the store holds (any schema version; changes nothing)."""
    from kcnn.api import store_info

    info = store_info(args.store or default_store_path())
    if args.format == "json":
        print(json.dumps(info.to_dict(), indent=2))
        return 0
    table = store_info_table(info)
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


def run_prune(args: argparse.Namespace) -> int:
    """Remove (or count) the model files outside the top configurations."""
    from kcnn import api

    with open_store(args, create=False) as store:
        report = api.prune(store, args.keep_top, metric=args.metric, keep=args.keep, dry_run=args.dry_run)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(report.text)
    return 0
