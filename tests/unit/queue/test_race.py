"""Races on synthetic results where the truth is known: a scripted "training" draws each run's accuracy."""

import random

import pytest

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord
from kcnn.errors import ConfigError
from kcnn.queue.race import RaceSettings, holm_rejections, start_race
from kcnn.queue.studies import advance_studies
from kcnn.store import Store

A = ExperimentConfig(input_size=16, channels=(4,), kernel_size=2, epochs=1)
B = A.replace(kernel_size=3)
C = A.replace(dilation=2)


def finish(store, claim, accuracy):
    store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=accuracy, seconds=0.1, images_per_second=1.0))
    store.finish(claim)


def seed_leaderboard(store, configs, accuracy):
    """One done run of each config (what a race starts from)."""
    for config in configs:
        [added] = store.add_runs([config])
        finish(store, store.claim("w", run_id=added.run_id), accuracy(config.config_key))


def scripted_workers(store, accuracy, limit=1000):
    """Workers that "train" by drawing an accuracy: advance studies, claim, finish, until nothing is left."""
    for _ in range(limit):
        advance_studies(store, "test")
        claim = store.claim("w")
        if claim is None:
            return
        finish(store, claim, accuracy(claim.config.config_key))
    raise AssertionError("the race never ended")


def race(tmp_path, means, sd, seed, max_repeats=10):
    rng = random.Random(seed)
    configs = [A, B, C][: len(means)]
    truth = {config.config_key: mean for config, mean in zip(configs, means, strict=True)}

    def accuracy(key):
        return min(1.0, max(0.0, rng.gauss(truth[key], sd)))

    with Store(tmp_path / f"store-{seed}-{len(means)}-{means[0]}") as store:
        seed_leaderboard(store, configs, accuracy)
        study_id = start_race(store, RaceSettings(tuple(truth), max_repeats=max_repeats))
        scripted_workers(store, accuracy)
        study = store.get_study(study_id)
        runs = store.study_runs(study_id)
    return study, runs, truth


def test_a_real_three_point_gap_is_found_with_fewer_runs_than_ten_repeats(tmp_path):
    wins = 0
    spent = []
    studies = []
    for seed in range(10):
        study, runs, _ = race(tmp_path, [0.73, 0.70], sd=0.015, seed=seed)
        studies.append(study)
        assert study.state == "done" and all(run.state == "done" for run in runs)
        winner = study.progress.get("winner")
        wins += winner == A.config_key
        assert winner in (A.config_key, None)  # never the worse one
        spent.append(len(runs) + 2)  # the race's runs plus the two it started from
    assert wins >= 9
    assert sum(spent) / len(spent) < 20  # a fixed 10-repeat design spends 20 runs on two configurations
    study = next(study for study in studies if study.progress.get("winner"))
    assert study.verdict.startswith(f"{A.config_key[:8]} wins: better than {B.config_key[:8]} by ")
    assert "95% CI" in study.verdict and "after " in study.verdict


def test_two_equal_configurations_are_reported_as_not_separable(tmp_path):
    study, runs, _ = race(tmp_path, [0.70, 0.70], sd=0.02, seed=3, max_repeats=6)
    assert study.state == "done" and "winner" not in study.progress
    assert study.verdict.startswith("not separable within 6 repeats:")
    assert "points with 95% confidence" in study.verdict
    assert len(runs) == 2 * 6 - 2  # each brought to six runs, no more


def test_a_clearly_worse_third_configuration_is_dropped_early(tmp_path):
    study, runs, _ = race(tmp_path, [0.75, 0.74, 0.50], sd=0.01, seed=1, max_repeats=8)
    dropped = study.progress["dropped"]
    assert C.config_key in dropped and dropped[C.config_key].startswith("clearly worse than")
    c_runs = [run for run in runs if run.config_key == C.config_key]
    assert len(c_runs) == 2  # brought to the three first repeats, then dropped


def test_advancing_twice_never_queues_a_round_twice(tmp_path):
    with Store(tmp_path / "s") as store:
        seed_leaderboard(store, [A, B], lambda key: 0.5)
        study_id = start_race(store, RaceSettings((A.config_key, B.config_key)))
        first = len(store.study_runs(study_id))
        assert first == 4  # each brought to three runs
        assert advance_studies(store) == [] and advance_studies(store) == []  # its runs are pending
        assert len(store.study_runs(study_id)) == first


def test_a_killed_worker_loses_nothing(tmp_path):
    """A worker killed mid-run: the lease lapses, the run is requeued, the race goes on and ends once."""
    with Store(tmp_path / "s") as store:
        seed_leaderboard(store, [A, B], lambda key: 0.5)
        study_id = start_race(store, RaceSettings((A.config_key, B.config_key), max_repeats=4))
        dead = store.claim("dead", lease_seconds=0.01)  # claimed, then the worker died
        assert dead is not None
        import time

        time.sleep(0.05)
        assert dead.run_id in store.reap()
        scripted_workers(store, lambda key: 0.6 if key == A.config_key else 0.5)
        study = store.get_study(study_id)
        runs = store.study_runs(study_id)
    assert study.state == "done" and all(run.state == "done" for run in runs)
    seeds = [(run.config_key, run.seed) for run in runs]
    assert len(seeds) == len(set(seeds))  # no seed trained twice


def test_holm_known_answer():
    # p = 0.01, 0.04, 0.03 at alpha 0.05: 0.01 ≤ 0.05/3, then 0.03 > 0.05/2 stops; 0.04 is not tested.
    assert holm_rejections({"a": 0.01, "b": 0.04, "c": 0.03}, 0.05) == ["a"]
    assert holm_rejections({"a": 0.01, "b": 0.02}, 0.05) == ["a", "b"]  # 0.01 ≤ 0.025, 0.02 ≤ 0.05
    assert holm_rejections({"a": 0.2}, 0.05) == []


def test_race_settings_and_keys_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="at least two configurations"):
        RaceSettings(("a",))
    with pytest.raises(ConfigError, match="`--alpha` must be above 0"):
        RaceSettings(("a", "b"), alpha=0.7)
    with Store(tmp_path / "s") as store:
        seed_leaderboard(store, [A, B.replace(folds=2)], lambda key: 0.5)
        with pytest.raises(ConfigError, match="No run with config key 0000"):
            start_race(store, RaceSettings((A.config_key, "0000")))
        with pytest.raises(ConfigError, match="is cross-validated"):
            start_race(store, RaceSettings((A.config_key, B.replace(folds=2).config_key)))


def test_a_study_that_cannot_advance_is_ended_with_its_reason_and_reported_once(tmp_path, capsys, monkeypatch):
    """Issue 23, case 1: a study whose decision raises was left running, and `worker --once` waited on it forever."""
    from kcnn.queue import studies

    with Store(tmp_path / "s") as store:
        seed_leaderboard(store, [A, B], lambda key: 0.5)
        study_id = start_race(store, RaceSettings((A.config_key, B.config_key)))
        monkeypatch.setattr(studies, "decide_race", lambda *args: 1 / 0)
        monkeypatch.setattr(studies, "_REPORTED", set())
        for _ in range(3):
            assert advance_studies(store, "w1") == []
        events = [e for e in store.events() if e["kind"] == "study_error"]
        assert len(events) == 1 and f"study {study_id} could not advance: ZeroDivisionError" in events[0]["message"]
        study = store.get_study(study_id)
        assert study.state == "stopped" and "could not advance (ZeroDivisionError" in (study.verdict or "")
        assert store.count_by_state()["queued"] == 0  # its queued runs were cancelled
        assert studies.studies_to_wait_for(store) == []
    assert capsys.readouterr().err.count("could not advance") == 1


def test_a_study_this_machine_cannot_advance_stays_running_but_is_not_waited_on(tmp_path, monkeypatch):
    from kcnn.errors import KcnnError
    from kcnn.queue import studies

    def missing_extra(*args):
        raise KcnnError("Optuna studies need Optuna: pip install 'kcnn[optuna]'.")

    with Store(tmp_path / "s") as store:
        seed_leaderboard(store, [A, B], lambda key: 0.5)
        study_id = start_race(store, RaceSettings((A.config_key, B.config_key)))
        monkeypatch.setattr(studies, "decide_race", missing_extra)
        monkeypatch.setattr(studies, "_STUCK_HERE", set())
        assert [s.id for s in studies.studies_to_wait_for(store)] == [study_id]
        advance_studies(store, "w1")
        assert store.get_study(study_id).state == "running" and studies.studies_to_wait_for(store) == []


def test_a_draining_worker_returns_on_a_study_that_cannot_advance(tmp_path, monkeypatch):
    import threading

    from kcnn.queue import studies
    from kcnn.queue.serve import serve_claims

    with Store(tmp_path / "s") as store:
        seed_leaderboard(store, [A, B], lambda key: 0.5)
        start_race(store, RaceSettings((A.config_key, B.config_key)))
        store.cancel([run.id for run in store.runs(state="queued")])
        monkeypatch.setattr(studies, "decide_race", lambda *args: 1 / 0)
        done = threading.Event()
        worker = threading.Thread(
            target=lambda: (serve_claims(store, "w", lambda c: None, stop=threading.Event(), lease_seconds=60,
                                         poll_seconds=0.05, once=True), done.set()), daemon=True)  # fmt: skip
        worker.start()
        assert done.wait(20), "`--once` kept waiting on a study that cannot advance"
