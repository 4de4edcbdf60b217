"""Command-line flags for every `ExperimentConfig` field, shared by the commands that take a config."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kcnn.config import ACTIVATIONS, COLOR_MODES, OPTIMIZERS, PADDINGS, RESIZE_POLICIES, ExperimentConfig


@dataclass(frozen=True)
class ConfigFlag:
    """One command-line flag that sets one config field."""

    flag: str
    field: str
    kind: type
    help: str
    per_layer: bool = False
    choices: tuple[str, ...] | None = None


CONFIG_FLAGS = (
    ConfigFlag("--input-size", "input_size", int, "side of the square input images in pixels"),
    ConfigFlag("--batch-size", "batch_size", int, "images per training step"),
    ConfigFlag("--channels", "channels", int, "output channels of each conv layer (one number per layer)", True),
    ConfigFlag("--kernel", "kernel_size", int, "kernel side: one for all conv layers, or one per layer", True),
    ConfigFlag("--dilation", "dilation", int, "dilation: one for all conv layers, or one per layer", True),
    ConfigFlag("--stride", "stride", int, "stride: one for all conv layers, or one per layer", True),
    ConfigFlag("--padding", "padding", str, "conv padding", choices=PADDINGS),
    ConfigFlag("--pool-size", "pool_size", int, "max-pooling window after each conv layer (1: none)"),
    ConfigFlag("--dense-units", "dense_units", int, "units of the hidden Dense layer"),
    ConfigFlag("--activation", "activation", str, "activation function", choices=ACTIVATIONS),
    ConfigFlag("--epochs", "epochs", int, "passes over the training images"),
    ConfigFlag("--learning-rate", "learning_rate", float, "optimizer step size"),
    ConfigFlag("--optimizer", "optimizer", str, "optimizer", choices=OPTIMIZERS),
    ConfigFlag("--seed", "seed", int, "seed of weights and batch order"),
    ConfigFlag("--val-split", "val_split", float, "fraction of each class held out for validation"),
    ConfigFlag("--split-seed", "split_seed", int, "seed of the train/validation split"),
    ConfigFlag("--data", "dataset", str, "builtin:shapes, or a folder of class sub-folders"),
    ConfigFlag("--color-mode", "color_mode", str, "colour mode of the images", choices=COLOR_MODES),
    ConfigFlag("--resize", "resize", str, "how images become square", choices=RESIZE_POLICIES),
)


def _number(flag: str, kind: type, layered: bool = False) -> Callable[[str], Any]:
    """An argparse `type` that explains what the flag expects; `layered` accepts ``2,1`` (one per layer)."""
    example = "0.001" if kind is float else "16"
    noun = "a number" if kind is float else "a whole number"

    def parse(text: str) -> Any:
        try:
            if layered:
                return tuple(kind(part) for part in text.split(","))
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects {noun} such as `{flag} {example}`; got {text!r}") from None

    return parse


def add_config_flags(parser: argparse.ArgumentParser, grid: bool = False) -> None:
    """Add one flag per config field; unset flags keep the field's default.

    Args:
        parser: The (sub-)command's parser.
        grid: Every flag takes several values, one grid point each (``queue add``). A comma joins
            per-layer values: ``--dilation 2,1 1`` tries (2, 1) and 1.
    """
    defaults = ExperimentConfig()
    group = parser.add_argument_group(
        "experiment (several values each: a grid; `2,1` = one value per conv layer)" if grid else "experiment"
    )
    for option in CONFIG_FLAGS:
        default = getattr(defaults, option.field)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        if grid and isinstance(default, tuple):
            shown = ",".join(map(str, default))
        if option.per_layer and isinstance(default, tuple) and len(set(default)) == 1 and option.field != "channels":
            shown = default[0]
        kwargs: dict[str, Any] = {
            "dest": option.field,
            "default": None,
            "help": f"{option.help} (default: {shown})",
            "metavar": option.field.upper() if not option.choices else None,
        }
        if option.choices:
            kwargs["choices"] = option.choices
        elif option.kind is not str:
            kwargs["type"] = _number(option.flag, option.kind, layered=option.per_layer)
        if option.per_layer or grid:
            kwargs["nargs"] = "+"
        group.add_argument(option.flag, **kwargs)
    group.add_argument(
        "--skip-bad",
        dest="skip_bad",
        action="store_const",
        const=[True] if grid else True,
        default=None,
        help="train without unreadable image files (listed with the run) instead of refusing",
    )


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """Build the config the flags describe (unset flags keep the defaults).

    Raises:
        ConfigError: If the combination is invalid.
    """
    values: dict[str, Any] = {}
    for option in CONFIG_FLAGS:
        value = getattr(args, option.field)
        if value is None:
            continue
        if option.per_layer:
            value = tuple(item for token in value for item in token)
            if option.field != "channels" and len(value) == 1:
                value = value[0]
        values[option.field] = value
    if getattr(args, "skip_bad", None):
        values["skip_bad"] = True
    return ExperimentConfig(**values)


def grid_from_args(args: argparse.Namespace) -> dict[str, list[Any]]:
    """The grid the multi-valued flags describe: field → list of values (given flags only)."""
    grid: dict[str, list[Any]] = {}
    for option in CONFIG_FLAGS:
        values = getattr(args, option.field)
        if values is None:
            continue
        if option.per_layer:
            values = [v if len(v) > 1 or option.field == "channels" else v[0] for v in values]
        grid[option.field] = list(dict.fromkeys(values))
    if getattr(args, "skip_bad", None):
        grid["skip_bad"] = [True]
    return grid


def flagify(message: str) -> str:
    """Rewrite backticked config field names in `message` as the flags that set them."""
    for option in CONFIG_FLAGS:
        message = message.replace(f"`{option.field}`", f"`{option.flag}`")
    return message
