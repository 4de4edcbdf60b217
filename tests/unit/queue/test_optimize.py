"""Optuna studies advanced by scripted workers (no training): trials asked, told once, impossible ones free."""

import time

import optuna
import pytest

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord
from kcnn.errors import ConfigError
from kcnn.queue.optimize import OptimizeSettings, optuna_study, parse_space, start_optimize
from kcnn.queue.studies import advance_studies
from kcnn.store import Store

SPACE = {
    "kernel_size": [2, 3, 4],
    "dilation": [1, [2, 1]],
    "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
    "fixed": {"input_size": 16, "channels": [4, 4], "dense_units": 8, "pool_size": 1, "epochs": 2},
}


def settings(space=SPACE, **changes):
    params, fixed = parse_space(space)
    return OptimizeSettings(tuple(params), fixed, **changes)


def scripted(store, accuracy, kill_first=False, limit=500):
    """Workers that "train": two epochs whose accuracy depends on the config; optionally one dies mid-run."""
    for _ in range(limit):
        advance_studies(store, "test")
        claim = store.claim("w", lease_seconds=0.01 if kill_first else 60)
        if claim is None:
            return
        if kill_first:  # this worker dies: its lease lapses, the run goes back to the queue
            kill_first = False
            time.sleep(0.05)
            store.reap()
            continue
        value = accuracy(claim.config)
        for epoch in (1, 2):
            store.record_epoch(claim, EpochRecord(epoch=epoch, val_accuracy=value * epoch / 2, seconds=0.1))
        store.finish(claim)
    raise AssertionError("the study never ended")


def by_kernel(config):
    return {2: 0.5, 3: 0.8, 4: 0.6}[config.kernel_sizes[0]]


@pytest.mark.slow
def test_every_trial_is_asked_queued_told_once_and_the_verdict_names_the_best(tmp_path):
    with Store(tmp_path / "s") as store:
        study_id = start_optimize(store, settings(trials=8, pruner="none", repeats=2), lambda config: config)
        assert len(store.study_runs(study_id)) == 2 * 2  # two trials in flight, two seeds each
        scripted(store, by_kernel)
        study = store.get_study(study_id)
        runs = store.study_runs(study_id)
        ostudy = optuna_study(store.path, study)
    assert study.state == "done" and study.progress["asked"] == 8 and study.progress["told"] == 8
    trials = ostudy.get_trials(deepcopy=False)
    assert len(trials) == 8 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    for trial in trials:  # the value told is the mean of the trial's seeds, as stored
        mine = [run.best_val_accuracy for run in runs if run.trial == trial.number]
        assert len(mine) == 2 and trial.value == pytest.approx(sum(mine) / 2)
    assert ostudy.best_value == pytest.approx(0.8)
    assert (
        study.verdict.startswith("best trial ") and "80.00% best validation accuracy (mean of 2 seeds)" in study.verdict
    )
    assert "kernel_size=3" in study.verdict and "8 complete, 0 pruned, 0 failed, 0 impossible of 8" in study.verdict


@pytest.mark.slow
def test_impossible_configurations_are_told_failed_at_no_compute(tmp_path):
    space = {"kernel_size": [9, 2], "fixed": {"input_size": 8, "channels": [4], "dense_units": 8, "epochs": 2}}
    with Store(tmp_path / "s") as store:
        study_id = start_optimize(store, settings(space, trials=6, sampler="grid", pruner="none"), lambda c: c)
        scripted(store, lambda config: 0.5)
        study = store.get_study(study_id)
        runs = store.study_runs(study_id)
    invalid = [info for info in study.progress["trials"].values() if info["state"] == "invalid"]
    assert invalid and all("kernel_size" in info["reason"] for info in invalid)
    assert {run.config_dict["kernel_size"][0] for run in runs} == {2}  # a 9×9 kernel on 8 px never trained
    assert study.state == "done" and "1 impossible of 2 trial(s)" in study.verdict  # the grid has two points


@pytest.mark.slow
def test_a_worker_killed_mid_study_loses_no_trial_and_tells_none_twice(tmp_path):
    with Store(tmp_path / "s") as store:
        study_id = start_optimize(store, settings(trials=5, pruner="none"), lambda config: config)
        scripted(store, by_kernel, kill_first=True)
        study = store.get_study(study_id)
        runs = store.study_runs(study_id)
        trials = optuna_study(store.path, study).get_trials(deepcopy=False)
    assert study.state == "done" and len(trials) == 5
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(run.trial for run in runs) == [0, 1, 2, 3, 4]  # one run per trial, the requeued one resumed
    assert max(run.attempt for run in runs) == 2


def test_space_mistakes_are_one_line():
    with pytest.raises(ConfigError, match="Unknown hyperparameter 'kernal'"):
        parse_space({"kernal": [2]})
    with pytest.raises(ConfigError, match="`kernel_size` in the space has no choices"):
        parse_space({"kernel_size": []})
    with pytest.raises(ConfigError, match="needs finite numbers low < high"):
        parse_space({"learning_rate": {"low": 1, "high": 0.1}})
    with pytest.raises(ConfigError, match="is both searched and fixed"):
        parse_space({"kernel_size": [2], "fixed": {"kernel": 3}})
    with pytest.raises(ConfigError, match="searches nothing"):
        parse_space({"fixed": {"epochs": 3}})
    with pytest.raises(ConfigError, match="`--sampler grid` needs a list of choices for every hyperparameter"):
        settings(sampler="grid")


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"input_size": {"low": 16, "high": 30, "step": -2}}, "`step` in the range of `input_size` must be one of the"),
        ({"input_size": {"low": 16, "high": 30, "step": 0}}, "must be one of the whole numbers above 0; got 0"),
        ({"input_size": {"low": 16, "high": 31, "step": 2}}, "does not land on high = 31; use high = 30 (or 32)"),
        ({"learning_rate": {"low": 1e-4, "high": float("inf")}}, "needs finite numbers low < high; got low = 0.0001"),
        ({"learning_rate": {"low": float("nan"), "high": 1.0}}, "needs finite numbers low < high"),
        ({"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True, "step": 1e-4}}, "cannot have a step"),
        ({"learning_rate": {"low": 1e-4, "high": 1e-2, "log": "yes"}}, "`log` in the range of `learning_rate` must be"),
        ({"input_size": {"low": 16.5, "high": 30}}, "needs whole numbers low < high"),
        ({"input_size": {"low": True, "high": 30}}, "needs whole numbers low < high"),
        ({"kernel_size": ["abc", 2]}, "`kernel_size` must be whole numbers, one per conv layer"),
        ({"kernel_size": [True, 2]}, "`kernel_size` must be a whole number or a flat list of whole numbers"),
        ({"kernel_size": [[[2]]]}, "`kernel_size` must be a whole number or a flat list of whole numbers"),
        ({"dilation": [[2, [1]]]}, "`dilation` must be a whole number or a flat list"),
        ({"learning_rate": [0.1, float("inf")]}, "`learning_rate` must be a finite number"),
        ({"kernel_size": [2], "fixed": {"epochs": 1.5}}, "`epochs` must be a whole number; got 1.5."),
    ],
)
def test_a_space_is_checked_whole_before_anything_is_written(tmp_path, space, message):
    """Issue 23, cases 1 and 20: Optuna's own errors (and a traceback) came after the study row was written."""
    with pytest.raises(ConfigError) as raised:
        parse_space(space)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_study_whose_first_step_fails_is_ended_not_left_running(tmp_path, monkeypatch):
    from kcnn.queue import optimize

    monkeypatch.setattr(optimize, "decide_optimize", lambda path: lambda *args: 1 / 0)
    with Store(tmp_path / "s") as store:
        with pytest.raises(ZeroDivisionError):
            start_optimize(store, settings(), lambda config: config)
        (study,) = store.studies()
        assert study.state == "stopped" and "its first step failed (ZeroDivisionError" in study.verdict


def test_a_trial_too_large_for_this_machine_is_told_failed_at_no_compute(tmp_path, monkeypatch):
    """Issue 23, case 4: TPE picked input_size 2765 from 16..5000 and the run was killed by the OOM killer."""
    from kcnn.queue import memory

    monkeypatch.setattr(memory, "machine_memory", lambda: 2**30)
    space = {"input_size": [16, 512], "fixed": {"channels": [4], "dense_units": 8, "pool_size": 1, "epochs": 2}}
    with Store(tmp_path / "s") as store:
        study_id = start_optimize(store, settings(space, sampler="grid", trials=2), lambda config: config)
        trials = store.get_study(study_id).progress["trials"]
        too_large = [info for info in trials.values() if info["params"]["input_size"] == "512"]
        assert too_large[0]["state"] == "invalid" and "needs about" in too_large[0]["reason"]
        assert {run.config_key for run in store.runs()} == {trials[n]["key"] for n in trials if "key" in trials[n]}
        assert all(ExperimentConfig.from_json(run.config).input_size == 16 for run in store.runs())


@pytest.mark.parametrize("parallel", [1, 3])
def test_a_configuration_asked_again_reuses_its_runs_never_trains_a_key_seed_and_fold_twice(tmp_path, parallel):
    """Issue 23, case 18: TPE asked one configuration three times and each time it trained seed 0 again."""
    space = {"kernel_size": [2, 3], "fixed": SPACE["fixed"]}
    with Store(tmp_path / "s") as store:
        study_id = start_optimize(store, settings(space, sampler="random", trials=8, repeats=2, parallel=parallel),
                                  lambda config: config)  # fmt: skip
        scripted(store, by_kernel)
        study = store.get_study(study_id)
        runs = store.runs()
        ostudy = optuna_study(store.path, study)
    triples = [(run.config_key, run.seed, run.fold) for run in runs]
    assert len(triples) == len(set(triples)) == 4  # two configurations × two seeds, each trained once
    trials = study.progress["trials"]
    assert study.state == "done" and len(trials) == 8
    assert all(info["state"] == "complete" for info in trials.values())
    for info in trials.values():  # every trial of a configuration told that configuration's mean
        kernel = int(info["params"]["kernel_size"])
        assert info["value"] == pytest.approx(by_kernel(ExperimentConfig(kernel_size=kernel)))
    assert [t.state for t in ostudy.get_trials()] == [optuna.trial.TrialState.COMPLETE] * 8


def test_per_layer_choices_reach_the_config():
    params, _ = parse_space({"dilation": [1, [2, 1]], "channels": [[16, 32], [8, 8]]})
    assert params[0].choices == (1, "2,1") and params[1].choices == ("16,32", "8,8")
    trial = optuna.create_study().ask()
    values = {param.name: param.suggest(trial) for param in params}
    ExperimentConfig(**values)  # whatever was drawn is a value the config takes


def test_optuna_is_asked_and_told_outside_the_stores_write_lock(tmp_path, monkeypatch):
    """Issue 22: a study's decision does no I/O while the store's write lock is held (Optuna has its own file)."""
    calls = []
    with Store(tmp_path / "s") as store:
        for name in ("ask", "tell", "get_trials"):
            real = getattr(optuna.Study, name)

            def recording(self, *args, _real=real, _name=name, **kwargs):
                calls.append((_name, store._conn.in_transaction))
                return _real(self, *args, **kwargs)

            monkeypatch.setattr(optuna.Study, name, recording)
        start_optimize(store, settings(trials=4, pruner="none"), lambda config: config)
        scripted(store, by_kernel)
    assert {name for name, _ in calls} == {"ask", "tell", "get_trials"}
    assert [call for call in calls if call[1]] == []


def test_a_step_decided_on_progress_that_moved_meanwhile_is_dropped(tmp_path):
    """Two workers decide at once: the second one's step (decided on the old progress) is not applied."""
    from kcnn.store.studies import StudyStep

    with Store(tmp_path / "s") as store:
        study_id = store.create_study("optimize", {"note": "scripted"})

        def first(study, own, runs_of):
            return StudyStep(progress={"asked": 1}, note="first")

        def racing(study, own, runs_of):  # another worker applies its step while this one decides
            store.advance_study_outside_lock(study_id, first)
            return StudyStep(progress={"asked": 99}, note="second")

        assert store.advance_study_outside_lock(study_id, racing) is None
        assert store.get_study(study_id).progress == {"asked": 1}
