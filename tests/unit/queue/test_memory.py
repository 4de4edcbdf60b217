"""The memory estimate: it grows with what sizes a run, and refuses, in one line, what this machine cannot hold."""

import pytest

from kcnn.config import ExperimentConfig
from kcnn.errors import ConfigError
from kcnn.queue import memory
from kcnn.queue.memory import check_fits, estimate_memory


def test_the_estimate_grows_with_input_size_batch_and_images():
    small = estimate_memory(ExperimentConfig(input_size=32), images=100)
    assert estimate_memory(ExperimentConfig(input_size=64), images=100).activations > 3 * small.activations
    assert estimate_memory(ExperimentConfig(input_size=32, batch_size=64), images=100).activations == pytest.approx(
        2 * small.activations, rel=1e-6
    )
    assert estimate_memory(ExperimentConfig(input_size=32), images=200).images == 2 * small.images
    assert small.total > memory.RUNTIME_BYTES


def test_a_run_too_large_for_the_machine_is_refused_in_one_line():
    """Issue 23, case 4: TPE drew input_size 2765 and the run swapped for 8 minutes before the OOM killer."""
    huge = ExperimentConfig(input_size=2765)
    with pytest.raises(ConfigError) as raised:
        check_fits(huge, images=400, available=24 * 2**30)
    message = str(raised.value)
    assert message.startswith("input_size 2765 with batch_size 32 needs about ") and "\n" not in message
    assert "more than this machine's 24.0 GiB; lower `input_size` or `batch_size`." in message
    check_fits(ExperimentConfig(input_size=64), images=400, available=24 * 2**30)  # the seed's sizes fit


def test_the_machines_memory_is_known_here():
    assert memory.machine_memory() > 2**30
