"""`ExperimentConfig`: every hyperparameter of one training run, validated.

A config is checked when it is made: ranges, names, what Keras can build,
and the whole network's geometry (no feature map may vanish). An invalid
config never exists, so it can never cost compute.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcnn.config.fields import (
    ACTIVATIONS,
    COLOR_MODES,
    FIELDS,
    OPTIMIZERS,
    PADDINGS,
    PER_LAYER_FIELDS,
    PRECISIONS,
    RESIZE_POLICIES,
    format_value,
)
from kcnn.config.key import key_of
from kcnn.errors import ConfigError
from kcnn.geometry import ShapePlan, plan_network

MAX_CONV_LAYERS = 8
MAX_FOLDS = 50
BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class ExperimentConfig:
    """Every hyperparameter of one run. Frozen, validated at construction.

    `kernel_size`, `dilation` and `stride` accept one int (for every conv
    layer) or one int per conv layer; they are stored as tuples with one
    entry per layer, so ``kernel_size=2`` and ``kernel_size=(2, 2)`` are the
    same config.
    """

    input_size: int = 64
    """Side in pixels of the square images the model sees."""
    batch_size: int = 32
    """Images per training step."""
    channels: tuple[int, ...] = (16, 32)
    """Output channels of each conv layer; its length is the number of conv layers."""
    kernel_size: tuple[int, ...] | int = 3
    """Kernel side of every conv layer, or one per layer."""
    dilation: tuple[int, ...] | int = 1
    """Dilation of every conv layer, or one per layer (the original study dilated only the first)."""
    stride: tuple[int, ...] | int = 1
    """Stride of every conv layer, or one per layer. Keras cannot combine stride > 1 with dilation > 1."""
    padding: str = "valid"
    """``valid`` (no padding) or ``same`` (keep the size at stride 1)."""
    pool_size: int = 2
    """Max-pooling window and stride after each conv layer; 1 means no pooling."""
    dense_units: int = 64
    """Units of the hidden fully connected layer."""
    activation: str = "relu"
    """Activation after each conv layer and the hidden Dense layer."""
    epochs: int = 15
    """Passes over the training images."""
    learning_rate: float = 1e-3
    """Optimizer step size."""
    optimizer: str = "adam"
    """One of ``adam``, ``adamw``, ``sgd`` (momentum 0.9), ``rmsprop``."""
    seed: int = 0
    """Seed of weight initialisation and batch order; the only field a repeat changes."""
    val_split: float = 0.2
    """Fraction of each class held out for validation."""
    split_seed: int = 0
    """Seed of the train/validation split, fixed so that seeds are compared on the same split."""
    dataset: str = "builtin:shapes"
    """``builtin:NAME`` or a path to an image folder (made absolute: ``x`` and ``./x`` are one dataset)."""
    color_mode: str = "auto"
    """``grayscale`` (1 channel), ``rgb`` (3 channels) or ``auto`` (what most of the dataset's files are)."""
    resize: str = "stretch"
    """How images become square: ``stretch``, ``crop`` (centre square) or ``pad`` (letterbox)."""
    skip_bad: bool = False
    """Train without unreadable image files (listed with the run) instead of refusing to start."""
    precision: str = "float32"
    """Keras dtype policy: ``float32``, ``mixed_bfloat16`` or ``mixed_float16`` (needs a GPU)."""
    test_split: float = 0.0
    """Fraction of each class set aside as a test set before anything else (fixed by `split_seed`; 0: none).
    No epoch and no configuration is chosen on it: it measures the chosen model without selection bias."""
    folds: int = 1
    """Stratified K-fold cross-validation when above 1: the images outside the test set are dealt into K
    folds (fixed by `split_seed`) and the run of fold *i* validates on fold *i*; `val_split` is not used."""
    fold: int = 0
    """Which fold this run validates on (0 … `folds` − 1). Like `seed`, not part of the config key."""

    def __post_init__(self) -> None:
        layers = self._check_channels()
        for name in PER_LAYER_FIELDS:
            object.__setattr__(self, name, _per_layer(name, getattr(self, name), layers))
        self._check_ranges()
        object.__setattr__(self, "dataset", absolute_dataset(self.dataset))
        self._check_buildable()
        self.plan()

    # -- validation -------------------------------------------------------

    def _check_channels(self) -> int:
        channels = self.channels
        if isinstance(channels, int) and not isinstance(channels, bool):
            channels = (channels,)
        if not isinstance(channels, (tuple, list)) or not channels:
            raise ConfigError(
                f"`channels` must be one or more positive integers, one per conv layer; got {self.channels!r}."
            )
        if len(channels) > MAX_CONV_LAYERS:
            raise ConfigError(f"`channels` may list at most {MAX_CONV_LAYERS} conv layers; got {len(channels)}.")
        for index, value in enumerate(channels, start=1):
            _check_int("channels", value, 1, 4096, layer=index)
        object.__setattr__(self, "channels", tuple(channels))
        return len(channels)

    def _check_ranges(self) -> None:
        _check_int("input_size", self.input_size, 1, 4096)
        _check_int("batch_size", self.batch_size, 1, 65536)
        _check_int("pool_size", self.pool_size, 1, 64)
        _check_int("dense_units", self.dense_units, 1, 65536)
        _check_int("epochs", self.epochs, 1, 100000)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("split_seed", self.split_seed, 0, 2**31 - 1)
        _check_choice("padding", self.padding, PADDINGS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("color_mode", self.color_mode, COLOR_MODES)
        _check_choice("resize", self.resize, RESIZE_POLICIES)
        _check_choice("precision", self.precision, PRECISIONS)
        if not isinstance(self.skip_bad, bool):
            raise ConfigError(f"`skip_bad` must be true or false; got {self.skip_bad!r}.")
        _check_float("learning_rate", self.learning_rate, low=0.0, high=10.0)
        _check_float("val_split", self.val_split, low=0.0, high=1.0)
        self._check_test_and_folds()
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise ConfigError(f"`dataset` must be `builtin:NAME` or a folder path; got {self.dataset!r}.")

    def _check_test_and_folds(self) -> None:
        if (
            isinstance(self.test_split, bool)
            or not isinstance(self.test_split, (int, float))
            or not (math.isfinite(self.test_split) and 0.0 <= self.test_split < 1.0)
        ):
            raise ConfigError(f"`test_split` must be 0 (no test set) or more and less than 1; got {self.test_split!r}.")
        object.__setattr__(self, "test_split", float(self.test_split))
        _check_int("folds", self.folds, 1, MAX_FOLDS)
        if self.folds == 1 and self.test_split + self.val_split >= 1.0:
            raise ConfigError(
                f"`test_split` ({self.test_split:g}) and `val_split` ({self.val_split:g}) leave no training images; "
                "their sum must be less than 1."
            )
        if isinstance(self.fold, bool) or not isinstance(self.fold, int) or not 0 <= self.fold < self.folds:
            allowed = "0 (there are no folds: `folds` is 1)" if self.folds == 1 else f"from 0 to {self.folds - 1}"
            raise ConfigError(f"`fold` must be {allowed}; got {self.fold!r}.")

    def _check_buildable(self) -> None:
        for index, (dilation, stride) in enumerate(zip(self.dilations, self.strides, strict=True), start=1):
            if dilation > 1 and stride > 1:
                raise ConfigError(
                    f"Conv layer {index} combines `stride`={stride} with `dilation`={dilation}, which Keras cannot "
                    "build. Use `stride` 1 on dilated layers, or `dilation` 1 on strided ones."
                )

    # -- derived values ---------------------------------------------------

    @property
    def kernel_sizes(self) -> tuple[int, ...]:
        """Kernel side per conv layer."""
        return _as_tuple(self.kernel_size)

    @property
    def dilations(self) -> tuple[int, ...]:
        """Dilation per conv layer."""
        return _as_tuple(self.dilation)

    @property
    def strides(self) -> tuple[int, ...]:
        """Stride per conv layer."""
        return _as_tuple(self.stride)

    @property
    def in_channels(self) -> int:
        """Channels of one input image: 1 for grayscale, 3 for RGB (and for ``auto``, until the data decides)."""
        return 1 if self.color_mode == "grayscale" else 3

    def plan(self, num_classes: int | None = None, in_channels: int | None = None) -> ShapePlan:
        """The shape plan of this config's network.

        Args:
            num_classes: Classes of the output layer; `None` leaves it out.
            in_channels: Channels of the images, once the data is known. Defaults to `in_channels`.

        Raises:
            ConfigError: If a feature map would vanish.
        """
        return plan_network(
            self.input_size,
            in_channels or self.in_channels,
            self.channels,
            self.kernel_sizes,
            self.dilations,
            self.strides,
            self.padding,
            self.pool_size,
            self.dense_units,
            num_classes,
        )

    # -- serialisation ----------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentConfig:
        """Build a config from `to_dict` output (or any subset of fields).

        Raises:
            ConfigError: For an unknown field or an invalid value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown config field `{unknown[0]}`; known fields are {', '.join(sorted(known))}.")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        """Inverse of `to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"A config must be a JSON object; the text is not valid JSON ({error}).") from None
        if not isinstance(data, dict):
            raise ConfigError(f"A config must be a JSON object; got {type(data).__name__}.")
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def train_command(self) -> str:
        """The ``kcnn train`` command that trains this config (its seed and fold included).

        Flags only where it differs from the defaults: what a user types to train a run again.
        """
        default = ExperimentConfig(dataset=self.dataset)
        words = ["kcnn", "train"]
        for field in FIELDS:
            value = getattr(self, field.name)
            if field.name == "dataset":
                if value != ExperimentConfig().dataset:
                    words += [field.flag, value]
                continue
            if format_value(field.name, value) == format_value(field.name, getattr(default, field.name)):
                continue
            if field.kind is bool:
                words += [field.flag] if value else []
                continue
            words += [field.flag, format_value(field.name, value)]
        if self.fold:
            words += ["--fold", str(self.fold)]
        return " ".join(shlex.quote(word) for word in words)

    @property
    def config_key(self) -> str:
        """The stable key of every field but `seed` and `fold` (see `kcnn.config.key`): equal keys are repeats."""
        return key_of(self.to_dict())


def absolute_dataset(dataset: str) -> str:
    """A folder dataset as an absolute path (``~`` expanded, ``..`` resolved); built-in names unchanged."""
    if dataset.startswith(BUILTIN_PREFIX):
        return dataset
    return str(Path(dataset).expanduser().resolve())


def _as_tuple(value: tuple[int, ...] | int) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value,)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _per_layer(name: str, value: Any, layers: int) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        values = tuple(value)
        if len(values) == 1:
            values = values * layers
        elif len(values) != layers:
            raise ConfigError(
                f"`{name}` needs one value for all conv layers or one per layer ({layers}); got {len(values)} values "
                f"{list(values)}."
            )
    else:
        _check_int(name, value, 1, 1024)
        values = (value,) * layers
    for index, item in enumerate(values, start=1):
        _check_int(name, item, 1, 1024, layer=index if layers > 1 else None)
    return values


def _check_int(name: str, value: Any, low: int, high: int, layer: int | None = None) -> None:
    where = f" for conv layer {layer}" if layer is not None else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"`{name}` must be a whole number{where}; got {value!r}.")
    if not low <= value <= high:
        expected = f"a positive integer (at most {high})" if low == 1 else f"between {low} and {high}"
        raise ConfigError(f"`{name}` must be {expected}{where}; got {value}.")


def _check_float(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"`{name}` must be a number; got {value!r}.")
    if not low < value < high:
        raise ConfigError(f"`{name}` must be greater than {low:g} and less than {high:g}; got {value:g}.")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"`{name}` must be one of {', '.join(choices)}; got {value!r}.")


@functools.lru_cache(maxsize=4096)
def stored_config_problem(text: str, key: str | None = None) -> str | None:
    """Why a config as stored is not one this kcnn can use, in one line; `None` when it is usable.

    A store row can be damaged (edited by hand, a disk fault, another program): text that is not JSON, JSON
    that is not an object, values no field takes (``{"channels": "x"}``), or a config that no longer matches
    the key it was stored under (``{"channels": 5}`` written over a full config). Readers show such a run as
    damaged and go on. Cached: the runs of one configuration share their text and key.

    Args:
        text: The stored config JSON.
        key: The key stored with it; checked against the config when given.
    """
    try:
        config = ExperimentConfig.from_json(text)
    except ConfigError as error:
        return str(error)
    except Exception as error:  # a value of a type no validation expected (e.g. a dict where a number goes)
        return f"{type(error).__name__}: {error}"
    if key is not None and config.config_key != key:
        return f"the config does not match its key {key} (edited or damaged in the store)"
    return None
