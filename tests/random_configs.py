"""Random valid `ExperimentConfig`s for property tests (importable by tests: ``pythonpath = tests``)."""

from __future__ import annotations

import random
from collections.abc import Iterator

from kcnn.config import ACTIVATIONS, ExperimentConfig
from kcnn.errors import ConfigError


def random_valid_configs(
    count: int, seed: int, max_input: int = 72, vary_activation: bool = False
) -> Iterator[ExperimentConfig]:
    """`count` valid configs of 1–3 conv layers with random geometry, the same for the same `seed`.

    With `vary_activation`, the configs cycle through every activation kcnn offers.
    """
    rng = random.Random(seed)
    found = 0
    while found < count:
        layers = rng.randint(1, 3)
        dilations = tuple(rng.randint(1, 3) for _ in range(layers))
        try:
            config = ExperimentConfig(
                input_size=rng.randint(8, max_input),
                channels=tuple(rng.randint(1, 6) for _ in range(layers)),
                kernel_size=tuple(rng.randint(1, 5) for _ in range(layers)),
                dilation=dilations,
                stride=tuple(1 if d > 1 else rng.randint(1, 3) for d in dilations),
                padding=rng.choice(["valid", "same"]),
                pool_size=rng.randint(1, 3),
                dense_units=rng.randint(1, 8),
                activation=ACTIVATIONS[found % len(ACTIVATIONS)] if vary_activation else "relu",
                color_mode=rng.choice(["rgb", "grayscale"]),
            )
        except ConfigError:
            continue
        found += 1
        yield config
