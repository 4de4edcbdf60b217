"""The views the faces show: Rich tables, charts and plain-text helpers from `kcnn.reports`, through the facade.

The CLI and the TUI import these from here, never from `kcnn.reports` (a hygiene test says so). Each name is
imported when first used (PEP 562), so `kcnn --help` pays only for the views it prints.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

#: Each view's module.
_MODULES: dict[str, str] = {
    "LEADERBOARD_HIDE_FIRST": "kcnn.reports.analysis_tables",
    "LEADERBOARD_KEEP": "kcnn.reports.analysis_tables",
    "RUNS_HIDE_ORDER": "kcnn.reports.run_tables",
    "SHORT": "kcnn.reports.analysis_tables",
    "STATE_STYLES": "kcnn.reports.run_tables",
    "UNLIMITED_WIDTH": "kcnn.reports.fitting",
    "class_table": "kcnn.reports.evaluation_tables",
    "comparison_table": "kcnn.reports.analysis_tables",
    "config_table": "kcnn.reports.config_tables",
    "confusion_table": "kcnn.reports.evaluation_tables",
    "drop_order": "kcnn.reports.fitting",
    "effect_tests_table": "kcnn.reports.analysis_tables",
    "effects_table": "kcnn.reports.analysis_tables",
    "epochs_table": "kcnn.reports.run_tables",
    "events_table": "kcnn.reports.run_tables",
    "export_epochs": "kcnn.reports.export",
    "export_runs": "kcnn.reports.export",
    "fit_table": "kcnn.reports.fitting",
    "folds_summary": "kcnn.reports.config_tables",
    "folds_table": "kcnn.reports.config_tables",
    "kernel_footprint": "kcnn.reports.config_tables",
    "leaderboard_table": "kcnn.reports.analysis_tables",
    "line_chart": "kcnn.reports.curves",
    "more_budget_line": "kcnn.reports.effects",
    "plan_table": "kcnn.reports.config_tables",
    "result_table": "kcnn.reports.config_tables",
    "run_curves": "kcnn.reports.curves",
    "run_rows": "kcnn.reports.run_tables",
    "run_summary_table": "kcnn.reports.run_tables",
    "runs_table": "kcnn.reports.run_tables",
    "safe": "kcnn.reports.text",
    "store_info_table": "kcnn.reports.store_tables",
    "studies_table": "kcnn.reports.study_tables",
    "study_table": "kcnn.reports.study_tables",
    "training_text": "kcnn.reports.run_tables",
    "varying_fields": "kcnn.reports.grouping",
    "write_confusion_png": "kcnn.reports.evaluation_tables",
    "write_png": "kcnn.reports.curves",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    """Import a view on first use and keep it (module attributes of PEP 562)."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
