"""kcnn: find the best small CNN for an image-classification problem.

The public API. Importing `kcnn` is cheap: keras and torch are imported only
where a model is built or trained.
"""

from __future__ import annotations

from kcnn.config import ExperimentConfig
from kcnn.errors import ConfigError, DataError, DeviceError, KcnnError, TrainingError
from kcnn.geometry import ShapePlan, conv_out, plan_network, pool_out

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "DeviceError",
    "ExperimentConfig",
    "KcnnError",
    "ShapePlan",
    "TrainingError",
    "__version__",
    "conv_out",
    "plan_network",
    "pool_out",
]
