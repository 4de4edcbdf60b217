"""The Python API's argument checks: a wrong type or value is the same one-line `KcnnError` the CLI gives.

Python callers pass anything (``kcnn.train("abc")``, ``store.cancel(5)``, ``repeats="3"``); without these
checks they met an ``AttributeError`` or a ``TypeError`` from deep inside, or silently got nothing
(``store.runs(state="bogus")``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kcnn.config import ExperimentConfig
from kcnn.errors import ConfigError
from kcnn.store import RunState
from kcnn.store.schema import MAX_INTEGER


def config_argument(value: Any, caller: str) -> ExperimentConfig:
    """`value` if it is an `ExperimentConfig`.

    Raises:
        ConfigError: Naming what was given and how to make a config.
    """
    if isinstance(value, ExperimentConfig):
        return value
    raise ConfigError(
        f"`{caller}` takes an ExperimentConfig, such as kcnn.ExperimentConfig(kernel_size=2, dilation=2); "
        f"got {_shown(value)}."
    )


def configs_argument(value: Any, caller: str) -> list[ExperimentConfig]:
    """One config or an iterable of them, as a list.

    Raises:
        ConfigError: If anything in it is not an `ExperimentConfig`.
    """
    if isinstance(value, ExperimentConfig):
        return [value]
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return [config_argument(value, caller)]
    return [config_argument(item, caller) for item in value]


def whole_argument(name: str, value: Any, low: int, high: int = MAX_INTEGER) -> int:
    """A whole-number argument within ``low..high`` (booleans and text are not numbers).

    Raises:
        ConfigError: Naming the argument, the range and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bound = f"at least {low}" if high == MAX_INTEGER else f"from {low} to {high}"
        raise ConfigError(f"`{name}` must be a whole number {bound}; got {_shown(value)}.")
    return value


def states_argument(state: str | Sequence[str] | None) -> list[str] | None:
    """Run states as given (one or several), each checked.

    Raises:
        ConfigError: For a state that does not exist (naming the states that do).
    """
    if state is None:
        return None
    states = [state] if isinstance(state, str) else list(state)
    known = [member.value for member in RunState]
    for name in states:
        if name not in known:
            raise ConfigError(f"Unknown run state {name!r}; use one of {', '.join(known)}.")
    return states


def run_ids_argument(run_ids: Any, caller: str) -> list[int]:
    """One run id or several, as a list of positive whole numbers.

    Raises:
        ConfigError: For anything that is not a run id.
    """
    ids = [run_ids] if isinstance(run_ids, int) and not isinstance(run_ids, bool) else run_ids
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise ConfigError(f"`{caller}` takes a run id or a list of them, such as {caller}([3, 4]); got {_shown(ids)}.")
    return [whole_argument("run id", run_id, 1) for run_id in ids]


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}" if not isinstance(value, int | float | str) else text[:60]
