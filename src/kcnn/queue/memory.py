"""Will a run fit in this machine's memory? An estimate from its shape plan, checked before it is queued.

A configuration far too large for the machine (an Optuna range that reaches ``input_size`` 2765, say)
does not fail cleanly: the kernel swaps for minutes, then its out-of-memory killer sends SIGKILL, and the
run is retried at the same size. So every way of adding runs checks the estimate first (`check_fits`):
``kcnn queue add``/``sweep`` and ``kcnn train`` refuse in one line, an Optuna trial is told ``FAIL`` at no
compute. The estimate counts what one training process holds at its peak:

* the decoded images, uint8, ``N × size² × colour channels``, twice (the whole dataset stays in memory,
  and loading it holds a second copy for a while);
* one batch's activations, float32: the input as the model scales it and every layer's output, 2.5 times
  (kept for the backward pass, their gradients, and the convolutions' workspace);
* the weights four times over (weights, gradients and an optimizer's two moments);
* `RUNTIME_BYTES` for the runtime itself (torch, Keras, Python).

Measured against the peak resident memory of ``kcnn train`` on the CPU (``bench/memory_estimate.py``;
``docs/benchmarks.md``), it is within about 25% from 64 to 512 px — enough to refuse a run that needs
34 GiB on a 24 GiB machine, while only refusing what could not train.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from kcnn.config import ExperimentConfig
from kcnn.errors import ConfigError

#: What torch, Keras and Python hold before the first batch, measured on the CPU build (about 0.6 GiB).
RUNTIME_BYTES = 640 * 2**20
_FLOAT = 4


@dataclass(frozen=True)
class MemoryEstimate:
    """The peak memory one run needs, by part (bytes)."""

    images: int
    activations: int
    weights: int

    @property
    def total(self) -> int:
        """Everything, with the runtime."""
        return self.images + self.activations + self.weights + RUNTIME_BYTES


def estimate_memory(config: ExperimentConfig, images: int, num_classes: int = 2) -> MemoryEstimate:
    """The peak memory of training `config` on a dataset of `images` images.

    Raises:
        ConfigError: If a feature map would vanish (the geometry's own message).
    """
    plan = config.plan(num_classes=num_classes)
    side, _, colours = plan.input_shape
    per_image = side * side * colours + sum(_elements(layer.output_shape) for layer in plan.layers)
    return MemoryEstimate(
        images=2 * images * side * side * colours,
        activations=5 * _FLOAT * config.batch_size * per_image // 2,
        weights=4 * _FLOAT * plan.params,
    )


def machine_memory() -> int | None:
    """This machine's memory in bytes: the physical memory, or the cgroup's limit when lower; `None` if unknown."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    limit = _cgroup_limit()
    return min(physical, limit) if limit else physical


def check_fits(config: ExperimentConfig, images: int, available: int | None = None) -> None:
    """Refuse a configuration whose training cannot fit this machine's memory.

    Args:
        config: The configuration.
        images: Images in its dataset.
        available: Bytes to fit in; defaults to `machine_memory` (nothing is refused when that is unknown).

    Raises:
        ConfigError: One line: what it needs, by part, what the machine has, and what to lower.
    """
    available = machine_memory() if available is None else available
    if not available:
        return
    estimate = estimate_memory(config, images)
    if estimate.total <= available:
        return
    raise ConfigError(
        f"input_size {config.input_size} with batch_size {config.batch_size} needs about "
        f"{_gib(estimate.total)} to train ({_gib(estimate.activations)} of activations, {_gib(estimate.images)} "
        f"of images), more than this machine's {_gib(available)}; lower `input_size` or `batch_size`."
    )


@functools.lru_cache(maxsize=32)
def dataset_images(spec: str) -> int:
    """Images in a dataset, counted without decoding them (cached: a sweep asks once per dataset)."""
    from kcnn.data.loading import dataset_image_count

    return dataset_image_count(spec)


def oom_kills() -> int | None:
    """How many processes the kernel's out-of-memory killer has ended so far; `None` where it is not known.

    This cgroup's count, else the machine's (``/proc/vmstat``). A child killed by SIGKILL while this count
    grew was ended for memory.
    """
    for path, label in (("/sys/fs/cgroup/memory.events", "oom_kill"), ("/proc/vmstat", "oom_kill")):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            name, _, value = line.partition(" ")
            if name == label and value.strip().isdigit():
                return int(value)
    return None


def _elements(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _cgroup_limit() -> int | None:
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"
