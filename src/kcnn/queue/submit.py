"""Prepare configs for the store: check each dataset once, settle what ``auto`` colour mode means, check memory.

Every way of adding runs (``kcnn queue add``/``sweep``, ``kcnn train``, the TUI, the Python API)
goes through `prepare_configs`, so a run's stored config and key say what it will train on.
"""

from __future__ import annotations

from collections.abc import Iterable

from kcnn.config import ExperimentConfig
from kcnn.data import check_dataset, resolve_color_mode
from kcnn.queue.memory import check_fits, dataset_images


class ConfigPreparer:
    """Checks datasets and settles ``auto`` colour modes, reading each dataset once however many configs use it."""

    def __init__(self) -> None:
        self._checked: set[tuple[str, bool]] = set()
        self._resolved: dict[str, str] = {}

    def prepare(self, config: ExperimentConfig) -> ExperimentConfig:
        """`config` with its dataset checked and an ``auto`` colour mode resolved.

        Raises:
            DataError: If the dataset cannot be found or used.
            ConfigError: If training it cannot fit this machine's memory (`kcnn.queue.memory.check_fits`).
        """
        if (config.dataset, config.skip_bad) not in self._checked:
            check_dataset(config.dataset, config.skip_bad)
            self._checked.add((config.dataset, config.skip_bad))
        if config.color_mode == "auto":
            if config.dataset not in self._resolved:  # reads every file's header: only when a config needs it
                self._resolved[config.dataset] = resolve_color_mode(config.dataset, "auto")
            config = config.replace(color_mode=self._resolved[config.dataset])
        check_fits(config, dataset_images(config.dataset))
        return config


def prepare_configs(configs: Iterable[ExperimentConfig]) -> list[ExperimentConfig]:
    """The configs with every dataset checked and ``auto`` colour modes resolved (each dataset read once).

    Raises:
        DataError: If a dataset cannot be found or used.
    """
    preparer = ConfigPreparer()
    return [preparer.prepare(config) for config in configs]
