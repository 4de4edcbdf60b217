"""kcnn: find the best small CNN for an image-classification problem.

The public API (see `kcnn.api`). Importing `kcnn` is cheap: keras and torch are imported only where a
model is built, trained or loaded. Modules not re-exported here are internal.
"""

from __future__ import annotations

from kcnn.api import KcnnStore, compare, leaderboard, load_model, open_store, train
from kcnn.config import ExperimentConfig, format_value, parse_value
from kcnn.errors import (
    ConfigError,
    DataError,
    DeviceError,
    DivergedError,
    KcnnError,
    RunFailed,
    StoreError,
    TrainingError,
)
from kcnn.geometry import ShapePlan, conv_out, plan_network, pool_out
from kcnn.reports.comparison import Comparison
from kcnn.reports.grouping import ConfigSummary
from kcnn.store import Run, RunState

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "ConfigError",
    "ConfigSummary",
    "DataError",
    "DeviceError",
    "DivergedError",
    "ExperimentConfig",
    "KcnnError",
    "KcnnStore",
    "Run",
    "RunFailed",
    "RunState",
    "ShapePlan",
    "StoreError",
    "TrainingError",
    "__version__",
    "compare",
    "conv_out",
    "format_value",
    "leaderboard",
    "load_model",
    "open_store",
    "parse_value",
    "plan_network",
    "pool_out",
    "train",
]
