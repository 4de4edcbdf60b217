"""Prepare configs for the store: check each dataset once and settle what ``auto`` colour mode means.

Every way of adding runs (``kcnn queue add``/``sweep``, ``kcnn train``, the TUI, the Python API)
goes through `prepare_configs`, so a run's stored config and key say what it will train on.
"""

from __future__ import annotations

from collections.abc import Iterable

from kcnn.config import ExperimentConfig
from kcnn.data import check_dataset, resolve_color_mode


def prepare_configs(configs: Iterable[ExperimentConfig]) -> list[ExperimentConfig]:
    """The configs with every dataset checked and ``auto`` colour modes resolved (each dataset read once).

    Raises:
        DataError: If a dataset cannot be found or used.
    """
    checked: set[tuple[str, bool]] = set()
    resolved: dict[str, str] = {}
    prepared = []
    for config in configs:
        if (config.dataset, config.skip_bad) not in checked:
            check_dataset(config.dataset, config.skip_bad)
            checked.add((config.dataset, config.skip_bad))
        if config.color_mode == "auto":
            if config.dataset not in resolved:  # reads every file's header: only when a config needs it
                resolved[config.dataset] = resolve_color_mode(config.dataset, "auto")
            config = config.replace(color_mode=resolved[config.dataset])
        prepared.append(config)
    return prepared
