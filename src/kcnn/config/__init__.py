"""The config layer: `ExperimentConfig`, its field list, the one parser and formatter of values, the key."""

from __future__ import annotations

from kcnn.config.experiment import (
    BUILTIN_PREFIX,
    MAX_CONV_LAYERS,
    ExperimentConfig,
    absolute_dataset,
    stored_config_problem,
)
from kcnn.config.fields import (
    ACTIVATIONS,
    COLOR_MODES,
    FIELD_NAMES,
    FIELDS,
    OPTIMIZERS,
    PADDINGS,
    PER_LAYER_FIELDS,
    PRECISIONS,
    RESIZE_POLICIES,
    Field,
    Value,
    field_name,
    file_value,
    format_value,
    group_value,
    matches,
    normalize,
    parse_value,
    sort_key,
)
from kcnn.config.key import KEY_DEFAULTS, KEY_VERSION, key_of

__all__ = [
    "ACTIVATIONS",
    "BUILTIN_PREFIX",
    "COLOR_MODES",
    "FIELDS",
    "FIELD_NAMES",
    "KEY_DEFAULTS",
    "KEY_VERSION",
    "MAX_CONV_LAYERS",
    "OPTIMIZERS",
    "PADDINGS",
    "PER_LAYER_FIELDS",
    "PRECISIONS",
    "RESIZE_POLICIES",
    "ExperimentConfig",
    "Field",
    "Value",
    "absolute_dataset",
    "field_name",
    "file_value",
    "format_value",
    "group_value",
    "key_of",
    "matches",
    "normalize",
    "parse_value",
    "sort_key",
    "stored_config_problem",
]
