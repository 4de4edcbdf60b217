"""The field list of `ExperimentConfig` and the one parser and formatter of its values.

Every face (CLI flags, TUI forms, sweep files, ``--filter``, reports) reads and writes a config value
through this module, so ``2,1`` means the same thing everywhere and a value is compared as a value,
never as the text it is displayed with.

Per-layer fields (`kernel_size`, `dilation`, `stride`) hold one int per conv layer; one int means
"the same for every layer". `channels` holds one int per layer and sets the number of layers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kcnn.errors import ConfigError

ACTIVATIONS = ("relu", "elu", "gelu", "leaky_relu", "selu", "silu", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
PADDINGS = ("valid", "same")
COLOR_MODES = ("auto", "grayscale", "rgb")
RESIZE_POLICIES = ("stretch", "crop", "pad")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

#: Fields that hold one int for all conv layers or one int per layer.
PER_LAYER_FIELDS = ("kernel_size", "dilation", "stride")
#: Fields that hold one int per conv layer (their length is the number of layers).
LAYER_LIST_FIELDS = ("channels", *PER_LAYER_FIELDS)

#: Value = what one config field holds once normalized: an int, a float, a str, a bool or a tuple of ints.
Value = int | float | str | bool | tuple[int, ...]


@dataclass(frozen=True)
class Field:
    """One hyperparameter: its name, type, command-line flag and help."""

    name: str
    kind: type
    """``int``, ``float``, ``str`` or ``bool`` (of each entry, for layer lists)."""
    flag: str
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def layered(self) -> bool:
        """Whether the field holds one value per conv layer."""
        return self.name in LAYER_LIST_FIELDS


FIELDS = (
    Field("input_size", int, "--input-size", "side of the square input images in pixels"),
    Field("batch_size", int, "--batch-size", "images per training step"),
    Field("channels", int, "--channels", "output channels of each conv layer (one number per layer)"),
    Field("kernel_size", int, "--kernel", "kernel side: one for all conv layers, or one per layer"),
    Field("dilation", int, "--dilation", "dilation: one for all conv layers, or one per layer"),
    Field("stride", int, "--stride", "stride: one for all conv layers, or one per layer"),
    Field("padding", str, "--padding", "conv padding", PADDINGS),
    Field("pool_size", int, "--pool-size", "max-pooling window after each conv layer (1: none)"),
    Field("dense_units", int, "--dense-units", "units of the hidden Dense layer"),
    Field("activation", str, "--activation", "activation function", ACTIVATIONS),
    Field("epochs", int, "--epochs", "passes over the training images"),
    Field("learning_rate", float, "--learning-rate", "optimizer step size"),
    Field("optimizer", str, "--optimizer", "optimizer", OPTIMIZERS),
    Field("seed", int, "--seed", "seed of weights and batch order"),
    Field("val_split", float, "--val-split", "fraction of each class held out for validation"),
    Field("split_seed", int, "--split-seed", "seed of the train/validation split (and of the test set and folds)"),
    Field(
        "test_split",
        float,
        "--test-split",
        "fraction of each class set aside as a test set, before anything else (0: none)",
    ),
    Field(
        "folds",
        int,
        "--folds",
        "stratified K-fold cross-validation: K runs per seed, run i validates on fold i (1: one split)",
    ),
    Field("dataset", str, "--data", "builtin:shapes, or a folder of class sub-folders"),
    Field("color_mode", str, "--color-mode", "colour mode of the images", COLOR_MODES),
    Field("resize", str, "--resize", "how images become square", RESIZE_POLICIES),
    Field("skip_bad", bool, "--skip-bad", "train without unreadable image files (listed with the run)"),
    Field("precision", str, "--precision", "numeric precision of training", PRECISIONS),
)
FIELDS_BY_NAME: Mapping[str, Field] = {f.name: f for f in FIELDS}
FIELD_NAMES = tuple(f.name for f in FIELDS)

#: Short names users may type in --filter and --by, beside the field names and flag spellings.
ALIASES = {"kernel": "kernel_size", "input": "input_size", "batch": "batch_size", "lr": "learning_rate",
           "data": "dataset", "dense": "dense_units", "pool": "pool_size"}  # fmt: skip


def field_name(name: str) -> str:
    """Resolve a user-typed hyperparameter name (field, flag spelling or alias) to its field.

    Raises:
        ConfigError: For an unknown name (the seed is not a hyperparameter here).
    """
    cleaned = name.strip().lstrip("-").replace("-", "_")
    cleaned = ALIASES.get(cleaned, cleaned)
    for field in FIELDS:
        if field.flag.lstrip("-").replace("-", "_") == cleaned:
            cleaned = field.name
    if cleaned not in FIELDS_BY_NAME or cleaned == "seed":
        known = ", ".join(n for n in FIELD_NAMES if n != "seed")
        raise ConfigError(f"Unknown hyperparameter {name!r}; use one of {known} (or kernel, input, batch, lr).")
    return cleaned


def parse_value(name: str, text: str) -> Value:
    """Parse one value of field `name` as a user types it.

    ``"2,1"`` (or ``"2 1"``) is one int per conv layer; ``"2"`` is one int (for every layer of a
    per-layer field, or one layer of `channels`). Choices are returned as typed: the config checks them.

    Raises:
        ConfigError: If the text is not a number where one is needed, naming the field.
    """
    field = FIELDS_BY_NAME[field_name(name) if name != "seed" else name]
    text = text.strip()
    if field.kind is str:
        return text
    if field.kind is bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"`{field.name}` must be true or false; got {text!r}.")
    try:
        if field.layered:
            values = tuple(int(part) for part in text.replace(",", " ").split())
            if not values:
                raise ValueError
            return values if field.name == "channels" or len(values) > 1 else values[0]
        return float(text) if field.kind is float else int(text)
    except ValueError:
        expected = (
            "a number such as 0.001"
            if field.kind is float
            else "whole numbers, one per conv layer, such as 16,32"
            if field.layered
            else "a whole number"
        )
        raise ConfigError(f"`{field.name}` must be {expected}; got {text!r}.") from None


def file_value(name: str, value: Any) -> Value:
    """One value of field `name` as a TOML file (a sweep, a space) gives it, checked and normalized.

    Text for a number field (``"2,1"``) goes through `parse_value`; a per-layer field takes a whole number
    or a flat list of whole numbers; ``true``/``false`` only where the field is a switch; a float field any
    finite number.

    Raises:
        ConfigError: Naming the field, the value and the shape it needs.
    """
    field = FIELDS_BY_NAME[name]
    if isinstance(value, str) and field.kind is not str:
        return parse_value(name, value)
    if field.kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"`{name}` must be true or false; got {value!r}.")
    if field.kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"`{name}` must be text, such as {_example(field)}; got {value!r}.")
    if field.layered:
        entries = value if isinstance(value, list | tuple) else [value]
        if not entries or not all(_whole(entry) for entry in entries):
            raise ConfigError(
                f"`{name}` must be a whole number or a flat list of whole numbers (one per conv layer), "
                f"such as 2 or [2, 1]; got {value!r}."
            )
        return normalize(name, tuple(entries) if isinstance(value, list | tuple) else value)
    if field.kind is int and not _whole(value):
        raise ConfigError(f"`{name}` must be a whole number; got {value!r}.")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if field.kind is float and not (number and math.isfinite(value)):
        raise ConfigError(f"`{name}` must be a finite number, such as 0.001; got {value!r}.")
    return normalize(name, value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _example(field: Field) -> str:
    return repr(field.choices[0]) if field.choices else "'builtin:shapes'"


def normalize(name: str, value: Any) -> Value:
    """A stored or typed value in its one comparable form (lists become tuples, ints stay ints)."""
    if isinstance(value, list | tuple):
        return tuple(value)
    if name in LAYER_LIST_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return (value,) if name == "channels" else value
    if FIELDS_BY_NAME.get(name) is not None and FIELDS_BY_NAME[name].kind is float and isinstance(value, int):
        return float(value)
    return value  # type: ignore[no-any-return]


def group_value(name: str, value: Any) -> Value:
    """The value runs are grouped and compared by: a per-layer field equal on every layer is that int."""
    value = normalize(name, value)
    if name in PER_LAYER_FIELDS and isinstance(value, tuple) and len(set(value)) == 1:
        return value[0]
    return value


def matches(name: str, stored: Any, wanted: Any) -> bool:
    """Whether a stored value matches a wanted one (``dilation=2`` matches 2 on every layer; ``2,1`` exactly)."""
    return group_value(name, stored) == group_value(name, wanted)


def format_value(name: str, value: Any) -> str:
    """A value as users type it: ``2`` for 2 on every layer, ``2,1`` per layer, ``16,32`` channels; missing: empty."""
    if value is None:
        return ""
    value = group_value(name, value)
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sort_key(value: Any) -> tuple[int, tuple[float, ...], str]:
    """Order values by value: numbers numerically (``2`` before ``10``), layer lists by their entries."""
    if isinstance(value, bool):
        return (2, (float(value),), "")
    if isinstance(value, int | float):
        return (0, (float(value),), "")
    if isinstance(value, tuple):
        return (1, tuple(float(v) for v in value), "")
    return (3, (), str(value))
