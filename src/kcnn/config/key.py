"""`config_key`: the stable identity of a configuration (every field but the seed and the fold).

Runs with equal keys are repeats of one configuration. The key must survive kcnn's growth, so it
hashes only the fields whose value differs from a **frozen** per-field default, `KEY_DEFAULTS`: a
field added later with a default, or a default changed later, leaves every existing key as it was.

Rules (they never change within a `KEY_VERSION`):
    * `KEY_DEFAULTS` entries are never edited or removed; a new field adds its entry, set to the
      value that reproduces what runs did before the field existed.
    * Values are normalized first (`fields.normalize`): per-layer lists are tuples, floats are floats.
    * ``seed`` and ``fold`` are not part of the key: runs that differ only in them are repeats.
    * The canonical text is ``kcnn-config-v{KEY_VERSION}`` + sorted, compact JSON of the differing
      fields; the key is the first 16 hex digits of its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kcnn.config.fields import normalize

KEY_VERSION = 2

#: The frozen defaults of key version 2. Never edit an entry: add one per new field.
KEY_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "input_size": 64,
        "batch_size": 32,
        "channels": (16, 32),
        "kernel_size": (3, 3),
        "dilation": (1, 1),
        "stride": (1, 1),
        "padding": "valid",
        "pool_size": 2,
        "dense_units": 64,
        "activation": "relu",
        "epochs": 15,
        "learning_rate": 1e-3,
        "optimizer": "adam",
        "val_split": 0.2,
        "split_seed": 0,
        "dataset": "builtin:shapes",
        "color_mode": "rgb",
        "resize": "stretch",
        "skip_bad": False,
        "precision": "float32",
        "test_split": 0.0,
        "folds": 1,
    }
)
#: Fields that tell repeats of one configuration apart: the model seed and, under cross-validation, the fold.
NOT_KEYED = frozenset({"seed", "fold"})


def key_of(values: Mapping[str, Any], defaults: Mapping[str, Any] = KEY_DEFAULTS) -> str:
    """The config key of a config's field values.

    Args:
        values: Field name → value (as `ExperimentConfig.to_dict` gives them).
        defaults: The frozen defaults. Defaults to `KEY_DEFAULTS`.

    Returns:
        16 hex digits.
    """
    normalized = _NORMALIZED_DEFAULTS if defaults is KEY_DEFAULTS else _normalized(defaults)
    differing = {}
    for name, value in values.items():
        if name in NOT_KEYED:
            continue
        value = normalize(name, value)
        if name in normalized and normalized[name] == value:
            continue
        differing[name] = list(value) if isinstance(value, tuple) else value
    canonical = f"kcnn-config-v{KEY_VERSION}" + json.dumps(differing, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _normalized(defaults: Mapping[str, Any]) -> dict[str, Any]:
    return {name: normalize(name, value) for name, value in defaults.items()}


_NORMALIZED_DEFAULTS = _normalized(KEY_DEFAULTS)
