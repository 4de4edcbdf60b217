"""kcnn: find the best small CNN for an image-classification problem.

The public API (see `kcnn.api`). Importing `kcnn` is cheap: keras and torch are imported only where a
model is built, trained or loaded. Modules not re-exported here are internal.
"""

from __future__ import annotations

from kcnn.api import (
    Comparison,
    ConfigSummary,
    EpochRecord,
    KcnnStore,
    Run,
    RunResult,
    RunState,
    ShapePlan,
    compare,
    conv_out,
    leaderboard,
    load_model,
    open_store,
    plan_network,
    pool_out,
    train,
)
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

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "ConfigError",
    "ConfigSummary",
    "DataError",
    "DeviceError",
    "DivergedError",
    "EpochRecord",
    "ExperimentConfig",
    "KcnnError",
    "KcnnStore",
    "Run",
    "RunFailed",
    "RunResult",
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
