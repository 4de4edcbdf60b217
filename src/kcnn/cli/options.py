"""Command-line flags for every `ExperimentConfig` field, shared by the commands that take a config."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from kcnn.config import FIELDS, ExperimentConfig, Field, format_value, parse_value
from kcnn.errors import ConfigError

#: The fields the CLI sets with a flag (``--skip-bad`` is a switch, added apart).
CONFIG_FLAGS = tuple(field for field in FIELDS if field.kind is not bool)


def _value_parser(field: Field) -> Callable[[str], Any]:
    """An argparse `type` that parses with the config's one parser (``2,1``: one value per conv layer)."""
    if field.kind is float:
        expected = f"a number such as `{field.flag} 0.001`"
    elif field.layered and field.name != "channels":
        expected = f"a whole number, or one per conv layer, such as `{field.flag} 2` or `{field.flag} 2,1`"
    else:
        expected = f"a whole number such as `{field.flag} 16`"

    def parse(text: str) -> Any:
        try:
            return parse_value(field.name, text)
        except ConfigError:
            raise argparse.ArgumentTypeError(f"expects {expected}; got {text!r}") from None

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
    for field in CONFIG_FLAGS:
        kwargs: dict[str, Any] = {
            "dest": field.name,
            "default": None,
            "help": f"{field.help} (default: {format_value(field.name, getattr(defaults, field.name))})",
            "metavar": field.name.upper() if not field.choices else None,
        }
        if field.choices:
            kwargs["choices"] = field.choices
        elif field.kind is not str:
            kwargs["type"] = _value_parser(field)
        if field.layered or grid:
            kwargs["nargs"] = "+"
        group.add_argument(field.flag, **kwargs)
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
    for field in CONFIG_FLAGS:
        value = getattr(args, field.name)
        if value is None:
            continue
        if field.layered:  # `--dilation 2 1` or `--dilation 2,1`: one value per conv layer
            value = tuple(item for token in value for item in (token if isinstance(token, tuple) else (token,)))
            if field.name != "channels" and len(value) == 1:
                value = value[0]
        values[field.name] = value
    if getattr(args, "skip_bad", None):
        values["skip_bad"] = True
    return ExperimentConfig(**values)


def grid_from_args(args: argparse.Namespace) -> dict[str, list[Any]]:
    """The grid the multi-valued flags describe: field → list of values (given flags only)."""
    grid: dict[str, list[Any]] = {}
    for field in CONFIG_FLAGS:
        values = getattr(args, field.name)
        if values is not None:
            grid[field.name] = list(dict.fromkeys(values))
    if getattr(args, "skip_bad", None):
        grid["skip_bad"] = [True]
    return grid


def flagify(message: str) -> str:
    """Rewrite backticked config field names in `message` as the flags that set them (and `fold` as `--fold`)."""
    for field in CONFIG_FLAGS:
        message = message.replace(f"`{field.name}`", f"`{field.flag}`")
    return message.replace("`fold`", "`--fold`")
