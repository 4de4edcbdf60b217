"""Queueing a sweep streams: all runs or none, every invalid point listed, repeats found, few rows kept."""

import pytest

from kcnn.config import ExperimentConfig
from kcnn.errors import DataError, InvalidSweep
from kcnn.queue.enqueue import SAMPLE_ROWS, queue_sweep
from kcnn.queue.sweep import SweepSpec
from kcnn.store import Store


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "runs") as opened:
        yield opened


def test_streamed_runs_equal_what_the_configs_would_store(store):
    spec = SweepSpec(grid={"kernel_size": [2, 3], "dilation": [1, 2]}, repeats=3)
    report = queue_sweep(store, spec)
    assert (report.points, report.seeds, report.runs, report.created) == (4, 3, 12, 12)
    for run in store.runs():
        config = ExperimentConfig.from_json(run.config)
        assert run.config == config.to_json() and run.config_key == config.config_key  # byte for byte
        assert run.config_problem is None and config.color_mode == "rgb"  # `auto` settled before storing


def test_a_second_add_and_a_repeated_value_are_found_not_added(store):
    spec = SweepSpec(grid={"kernel_size": [2, 2, 3]}, repeats=2)
    first = queue_sweep(store, spec)
    assert (first.runs, first.created, first.existing) == (6, 4, 2)  # kernel 2 twice in the grid
    again = queue_sweep(store, spec)
    assert (again.created, again.existing) == (0, 6) and again.existing_ids[:2] == [1, 2]
    assert len(store.runs()) == 4


def test_an_invalid_point_queues_nothing_and_every_invalid_point_is_listed(store):
    spec = SweepSpec(grid={"kernel_size": [2, 9, 11], "input_size": [16]})
    with pytest.raises(InvalidSweep) as caught:
        queue_sweep(store, spec)
    assert len(caught.value.invalid) == 2 and store.runs() == []
    report = queue_sweep(store, spec, skip_invalid=True)
    assert (report.created, len(report.invalid)) == (1, 2)


def test_a_dataset_that_cannot_be_used_queues_nothing(store, tmp_path):
    spec = SweepSpec(grid={"kernel_size": [2, 3]}, fixed={"dataset": str(tmp_path / "missing")})
    with pytest.raises(DataError, match="no such folder"):
        queue_sweep(store, spec)
    assert store.runs() == []


def test_a_dry_run_counts_without_a_store_and_only_a_sample_is_kept(store):
    report = queue_sweep(None, SweepSpec(grid={"kernel_size": [2, 3]}, repeats=50))
    assert (report.runs, report.created, len(report.sample)) == (100, 0, SAMPLE_ROWS)
    assert report.sample[0].run_id is None and store.runs() == []


def test_each_table_row_shows_its_own_configuration(store):
    report = queue_sweep(store, SweepSpec(grid={"kernel_size": [2, 3, 4]}))
    assert [row.config.kernel_size for row in report.sample] == [(2, 2), (3, 3), (4, 4)]
    assert all(row.config.config_key == row.config_key for row in report.sample)


def test_cross_validation_queues_every_fold_of_every_seed_once(store):
    spec = SweepSpec(grid={"kernel_size": [2, 3]}, fixed={"folds": 3, "test_split": 0.2}, repeats=2)
    report = queue_sweep(store, spec)
    assert (report.points, report.seeds, report.runs, report.created) == (2, 2, 12, 12)
    runs = store.runs()
    assert [(run.seed, run.fold) for run in runs[:6]] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    for run in runs:
        config = ExperimentConfig.from_json(run.config)
        assert config.fold == run.fold and run.config_key == config.config_key and run.config_problem is None
    assert len({run.config_key for run in runs}) == 2  # the folds are repeats of one configuration
    again = queue_sweep(store, spec)
    assert (again.created, again.existing) == (0, 12)  # deduplicated by key, seed and fold
    assert [(row.seed, row.fold) for row in report.sample[:3]] == [(0, 0), (0, 1), (0, 2)]


def test_a_fold_is_not_a_sweep_value():
    from kcnn.errors import ConfigError

    with pytest.raises(ConfigError, match="Unknown field `fold`"):
        queue_sweep(None, SweepSpec(grid={"fold": [0, 1]}))
