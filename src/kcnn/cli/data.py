"""`kcnn data info PATH`: what kcnn sees in an image folder, before any training."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console, Group
from rich.table import Table

from kcnn.reports.text import safe


def register(commands: Any) -> None:
    """Add `data` and its sub-commands."""
    data = commands.add_parser("data", help="inspect image folders and the decode cache")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True, parser_class=type(data))
    info = actions.add_parser(
        "info",
        help="classes, counts, image sizes and modes, skipped and unreadable files, cache entries",
        description="Scan and decode every file of an image folder (PATH/<class>/… or PATH/train|val/<class>/…).",
    )
    info.add_argument("path", metavar="PATH")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    """Print a folder dataset's report."""
    from kcnn.api import folder_report

    report = folder_report(args.path)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "presplit"}, indent=2))
        return 0
    Console().print(Group(*_tables(report, report["presplit"])))
    return 0


def _tables(report: dict[str, Any], presplit: bool) -> list[Any]:
    classes = Table(title=f"{safe(report['path'])} · {report['layout']}", title_justify="left")
    classes.add_column("class")
    classes.add_column("images", justify="right")
    if presplit:
        classes.add_column("train", justify="right")
        classes.add_column("val", justify="right")
    for name, counts in report["classes"].items():
        total = counts["train"] + counts["val"]
        row = [safe(name), str(total)] + ([str(counts["train"]), str(counts["val"])] if presplit else [])
        classes.add_row(*row)
    files = Table(title="Files", title_justify="left", show_header=False)
    files.add_column("what", style="bold")
    files.add_column("value")
    sizes = ", ".join(f"{size} ({n})" for size, n in list(report["sizes"].items())[:5])
    more = f", … {len(report['sizes']) - 5} more" if len(report["sizes"]) > 5 else ""
    files.add_row("images", str(report["images"]))
    files.add_row("sizes", sizes + more)
    files.add_row("modes", ", ".join(f"{mode} ({n})" for mode, n in report["modes"].items()))
    files.add_row("default --color-mode", report["default_color_mode"])
    files.add_row("ignored", f"{report['hidden_ignored']} hidden, {len(report['non_images_ignored'])} not images")
    unreadable = report["unreadable"]
    files.add_row("unreadable", f"[red]{len(unreadable)}[/]" if unreadable else "0")
    parts: list[Any] = [classes, files]
    if unreadable:
        table = Table(
            title="Unreadable files (refused unless --skip-bad)", title_justify="left", title_style="bold red"
        )
        table.add_column("file")
        table.add_column("reason")
        for path, reason in unreadable:
            table.add_row(safe(path), safe(reason))
        parts.append(table)
    cache = Table(title="Cache entries", title_justify="left")
    for column in ("file", "images", "color mode", "skipped"):
        cache.add_column(column)
    for entry in report["cache_entries"]:
        shape = entry["shape"]
        cache.add_row(
            safe(entry["file"]),
            f"{shape[0]} × {shape[1]}×{shape[2]}×{shape[3]}",
            entry["color_mode"],
            str(entry["skipped"]),
        )
    if not report["cache_entries"]:
        cache.add_row("(none yet: the first training run decodes and caches)", "", "", "")
    parts.append(cache)
    return parts
