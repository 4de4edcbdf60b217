"""`kcnn data info PATH`: what kcnn sees in an image folder, before any training."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from kcnn.api.views import safe
from kcnn.cli.output import add_format_option, output_console, print_fitted

if TYPE_CHECKING:
    from kcnn.api import FolderReport, ProblemEntry


def register(commands: Any) -> None:
    """Add `data` and its sub-commands."""
    data = commands.add_parser("data", help="inspect image folders and the decode cache")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True, parser_class=type(data))
    info = actions.add_parser(
        "info",
        help="classes, counts, image sizes and modes, every problem (empty classes, unreadable files), cache entries",
        description="Scan and decode every file of an image folder (PATH/<class>/… or PATH/train|val/<class>/…).",
    )
    info.add_argument("path", metavar="PATH")
    add_format_option(info, help="table (default) or json: JSON")
    info.set_defaults(handler=run_info)


def run_info(args: argparse.Namespace) -> int:
    """Print a folder dataset's report."""
    from kcnn.api import folder_report

    report = folder_report(args.path)
    if args.format == "json":
        print(json.dumps({k: v for k, v in report.items() if k != "presplit"}, indent=2))
        return 0
    print_fitted(output_console(), *_tables(report, report["presplit"]))
    return 0


def _tables(report: FolderReport, presplit: bool) -> list[Any]:
    return [
        _classes_table(report, presplit),
        _files_table(report),
        *_problems_table(report["problems"]),
        _cache_table(report),
    ]


def _classes_table(report: FolderReport, presplit: bool) -> Table:
    classes = Table(title=f"{safe(report['path'])} · {report['layout']}", title_justify="left")
    classes.add_column("class")
    classes.add_column("images", justify="right")
    if presplit:
        classes.add_column("train", justify="right")
        classes.add_column("val", justify="right")
    classes.add_column("unreadable", justify="right")
    for name, counts in report["classes"].items():
        total = counts["train"] + counts["val"]
        row = [safe(name), str(total) if total else "[red]0 (empty)[/]"]
        row += [str(counts["train"]), str(counts["val"])] if presplit else []
        row.append(f"[red]{counts['unreadable']}[/]" if counts["unreadable"] else "0")
        classes.add_row(*row)
    if not report["classes"]:
        classes.add_row("[red](no class folders)[/]", "", *([""] * (2 if presplit else 0)), "")
    return classes


def _files_table(report: FolderReport) -> Table:
    files = Table(title="Files", title_justify="left", show_header=False)
    files.add_column("what", style="bold")
    files.add_column("value")
    sizes = ", ".join(f"{size} ({n})" for size, n in list(report["sizes"].items())[:5])
    more = f", … {len(report['sizes']) - 5} more" if len(report["sizes"]) > 5 else ""
    files.add_row("images", str(report["images"]))
    files.add_row("sizes", sizes + more)
    files.add_row("modes", ", ".join(f"{mode} ({n})" for mode, n in report["modes"].items()))
    files.add_row("default --color-mode", report["default_color_mode"])
    ignored = [f"{report['hidden_ignored']} hidden", f"{len(report['non_images_ignored'])} not images"]
    if report["loose_images_ignored"]:
        ignored.append(f"{report['loose_images_ignored']} outside class folders")
    if report["repeated_folders_ignored"]:
        ignored.append(f"{report['repeated_folders_ignored']} folder(s) reached again through a link (read once)")
    if report["unreadable_folders_ignored"]:
        ignored.append(f"{report['unreadable_folders_ignored']} folder(s) that cannot be listed")
    files.add_row("ignored", ", ".join(ignored))
    unreadable = report["unreadable"]
    files.add_row("unreadable", f"[red]{len(unreadable)}[/]" if unreadable else "0")
    problems = report["problems"]
    files.add_row("problems", f"[red]{len(problems)}[/]" if problems else "0 (ready to train)")
    return files


def _problems_table(problems: Sequence[ProblemEntry]) -> list[Table]:
    if not problems:
        return []
    table = Table(
        title="Problems (training refuses the folder until they are fixed; --skip-bad skips those marked)",
        title_justify="left",
        title_style="bold red",
    )
    table.add_column("where")
    table.add_column("problem")
    table.add_column("--skip-bad")
    for problem in problems:
        table.add_row(safe(problem["where"]), safe(problem["what"]), "skips" if problem["skip_bad_skips"] else "—")
    return [table]


def _cache_table(report: FolderReport) -> Table:
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
    return cache
