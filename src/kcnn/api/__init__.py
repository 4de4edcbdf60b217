"""The Python API: the one facade the CLI, the TUI and notebooks reach the engine through.

Everything here is typed and documented, and stays stable; modules not re-exported by `kcnn` are
internal. Importing this module is cheap: keras and torch load only when a model is trained or loaded.

- `Workspace` (`open_store`): a store as a user works with it — queue, cancel, retry, runs, reports,
  models, studies, workers — never the worker protocol;
- functions over a workspace (or the engine's store): reports (`analysis`), a done run's model (`models`),
  studies (`studies`), workers (`workers`), training, queueing and the store's upkeep (`setup`);
- `kcnn.api.views`: the Rich tables and charts the CLI and the TUI print.

Example:
    >>> import kcnn
    >>> config = kcnn.ExperimentConfig(input_size=16, channels=(4,), dense_units=8, epochs=1)
    >>> with kcnn.open_store("kcnn-runs") as store:
    ...     result = kcnn.train(config, store=store, progress=False)
    ...     store.queue([config.replace(kernel_size=2)], repeats=3)
    ...     board = store.leaderboard()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kcnn.api.analysis import (
    Filters,
    by_fields,
    compare,
    curves,
    effect_tests,
    effects,
    excluded,
    export_runs,
    figure,
    leaderboard,
)
from kcnn.api.models import evaluate, export_model, load_model, predict
from kcnn.api.retention import PruneReport, prune
from kcnn.api.setup import (
    check_setup,
    dataset_classes,
    folder_report,
    prepare_configs,
    queue_sweep,
    store_info,
    train,
    upgrade_store,
)
from kcnn.api.studies import answer, answer_budget_line, optimize, race, stop_study, study_summary
from kcnn.api.workers import live_workers, run_workers, stop_worker
from kcnn.api.workspace import StoreLike, Workspace, open_store
from kcnn.contract import EpochRecord, Metric, RunResult, RunSummary
from kcnn.errors import InvalidSweep, RunFailed
from kcnn.geometry import ShapePlan, conv_out, plan_network, pool_out
from kcnn.queue.settings import CHECKPOINT_SECONDS, MAX_FUSE
from kcnn.queue.sweep import MAX_RUNS, Expansion, InvalidCombination, SweepPoints, SweepSpec, load_sweep
from kcnn.queue.sweep import expand as expand_sweep
from kcnn.reports.comparison import Comparison
from kcnn.reports.grouping import ConfigSummary, EffectCell, Excluded
from kcnn.store import AddResult, Run, RunState, Study, default_store_path
from kcnn.store.retention import DEFAULT_KEEP, KEEP_POLICIES
from kcnn.store.schema import MAX_INTEGER

if TYPE_CHECKING:
    from kcnn.data.report import FolderReport, ProblemEntry

#: The name of `Workspace` in kcnn 1.0 (then a `Store` with the worker protocol); kept for one release.
KcnnStore = Workspace

__all__ = [
    "CHECKPOINT_SECONDS",
    "DEFAULT_KEEP",
    "KEEP_POLICIES",
    "MAX_FUSE",
    "MAX_INTEGER",
    "MAX_RUNS",
    "AddResult",
    "Comparison",
    "ConfigSummary",
    "EffectCell",
    "EpochRecord",
    "Excluded",
    "Expansion",
    "Filters",
    "FolderReport",
    "InvalidCombination",
    "InvalidSweep",
    "KcnnStore",
    "Metric",
    "ProblemEntry",
    "PruneReport",
    "Run",
    "RunFailed",
    "RunResult",
    "RunState",
    "RunSummary",
    "ShapePlan",
    "StoreLike",
    "Study",
    "SweepPoints",
    "SweepSpec",
    "Workspace",
    "answer",
    "answer_budget_line",
    "by_fields",
    "check_setup",
    "compare",
    "conv_out",
    "curves",
    "dataset_classes",
    "default_store_path",
    "effect_tests",
    "effects",
    "evaluate",
    "excluded",
    "expand_sweep",
    "export_model",
    "export_runs",
    "figure",
    "folder_report",
    "leaderboard",
    "live_workers",
    "load_model",
    "load_sweep",
    "open_store",
    "optimize",
    "plan_network",
    "pool_out",
    "predict",
    "prepare_configs",
    "prune",
    "queue_sweep",
    "race",
    "run_workers",
    "stop_study",
    "stop_worker",
    "store_info",
    "study_summary",
    "train",
    "upgrade_store",
]


def __getattr__(name: str) -> object:
    """`FolderReport` and `ProblemEntry` on first use: their module imports the image decoders."""
    if name in ("FolderReport", "ProblemEntry"):
        from kcnn.data import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
