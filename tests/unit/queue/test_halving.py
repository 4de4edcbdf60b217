"""Issue 25: successive halving in a budgeted study's focus phase prunes a configuration by its seeds' mean, whole
(scripted epochs, no training)."""

import pytest

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunSummary
from kcnn.errors import Pruned
from kcnn.queue import answer
from kcnn.queue.answer import AnswerSettings, decide_answer
from kcnn.queue.halving import expected_share, goes_on, halving_check, rung_means, rungs
from kcnn.store import NewRun, Store, StudyStep

EPOCHS = 15
GRID = {"kernel_size": [2, 3, 4, 5, 6, 7], "input_size": [32]}


def test_rungs_are_a_third_apart_and_never_before_two_epochs():
    assert rungs(15) == [2, 5] and rungs(10) == [3] and rungs(27) == [3, 9] and rungs(3) == []
    assert expected_share(15) == pytest.approx(2 / 15 + 3 / 15 / 3 + 10 / 15 / 9)
    assert expected_share(3) == 1.0  # no rung: every run trains in full


def test_a_configuration_goes_on_only_in_the_top_third_ties_included():
    means = {"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.5, "e": 0.4, "f": 0.3, "g": 0.2}
    assert [key for key in means if goes_on(key, means)] == ["a", "b", "c"]  # ceil(7 / 3) = 3
    assert goes_on("only", {"only": 0.1})


def _config(kernel: int, seed: int = 0) -> ExperimentConfig:
    return ExperimentConfig(kernel_size=kernel, input_size=32, epochs=EPOCHS, seed=seed)


def _study(store: Store) -> tuple[int, str]:
    """A budgeted study whose screening trained kernels 2-6 (two seeds each, accuracies 0.9 … 0.5 at every
    epoch) and whose focus queued kernel 7 with two seeds under halving; the study id and its key."""
    settings = AnswerSettings(GRID, {"epochs": EPOCHS}, budget_seconds=3600, train_images=100)
    study_id = store.create_study("answer", settings.to_dict())
    screen = [NewRun.of(_config(kernel, seed)) for kernel in (2, 3, 4, 5, 6) for seed in (0, 1)]
    store.advance_study(study_id, lambda *_: StudyStep(new_runs=screen, progress={"phase": "screen"}))
    for _ in screen:
        claim = store.claim("w", lease_seconds=60)
        accuracy = 0.9 - 0.1 * (claim.config.kernel_size[0] - 2)
        for epoch in range(1, EPOCHS + 1):
            store.record_epoch(claim, EpochRecord(epoch=epoch, val_accuracy=accuracy))
        store.finish(claim, RunSummary({}))
    key = _config(7).config_key
    focus = [NewRun.of(_config(7, seed)) for seed in (0, 1)]
    store.advance_study(study_id, lambda *_: StudyStep(new_runs=focus, progress={"phase": "focus", "halving": [key]}))
    return study_id, key


def _check(store: Store, claim):
    run = store.get_run(claim.run_id)
    check = halving_check(store, store.get_study(run.study_id), run)
    assert check is not None

    def record(epoch: int, accuracy: float) -> None:
        entry = EpochRecord(epoch=epoch, val_accuracy=accuracy)
        store.record_epoch(claim, entry)
        check(entry)

    return record


def test_a_configuration_is_pruned_by_its_seeds_mean_never_by_one_seed(tmp_path):
    with Store(tmp_path / "store") as store:
        _study(store)
        first, second = store.claim("w", lease_seconds=60), store.claim("w", lease_seconds=60)
        first_epoch, second_epoch = _check(store, first), _check(store, second)
        first_epoch(1, 0.3)
        first_epoch(2, 0.3)  # rung 2: its sibling has not reached it — one seed alone decides nothing
        first_epoch(3, 0.3)
        second_epoch(1, 0.75)
        with pytest.raises(Pruned, match=r"mean 52\.50% is not in the top 1/3 of 6 configurations"):
            second_epoch(2, 0.75)  # both seeds at epoch 2: mean 0.525, below the top two (0.9, 0.8)
        store.prune(second, "pruned")
        with pytest.raises(Pruned, match="a sibling seed"):
            first_epoch(4, 0.3)  # the seed ahead stops at its next epoch
        assert store.get_run(first.run_id).state == "running"  # (the worker records it pruned on Pruned)


def test_a_seed_whose_siblings_keep_up_goes_on_and_screening_runs_are_never_halved(tmp_path):
    with Store(tmp_path / "store") as store:
        study_id, key = _study(store)
        first, second = store.claim("w", lease_seconds=60), store.claim("w", lease_seconds=60)
        first_epoch, second_epoch = _check(store, first), _check(store, second)
        for epoch in range(1, EPOCHS + 1):  # mean 0.85 at every rung: second of six, in the top third
            first_epoch(epoch, 0.8)
            second_epoch(epoch, 0.9)
        screened = store.study_runs(study_id)[0]
        assert halving_check(store, store.get_study(study_id), screened) is None
        race = [NewRun.of(_config(7, 2))]  # the race adds a third seed to the configuration: it is never halved
        store.advance_study(study_id, lambda study, *_: StudyStep(new_runs=race, progress=study.progress))
        assert halving_check(store, store.get_study(study_id), store.study_runs(study_id)[-1]) is None
        means = rung_means(
            store.study_runs(study_id), lambda run: [0.5] * 2 if run.config_key == key else [], 2, "best"
        )
        assert means == {key: 0.5}  # configurations whose seeds have not reached the epoch are not compared


def test_a_queued_seed_of_a_pruned_configuration_ends_pruned_untrained(tmp_path, monkeypatch):
    with Store(tmp_path / "store") as store:
        study_id, _ = _study(store)
        first, second = store.claim("w", lease_seconds=60), store.claim("w", lease_seconds=60)
        first_epoch, second_epoch = _check(store, first), _check(store, second)
        first_epoch(1, 0.3)
        first_epoch(2, 0.3)
        store.release(first, "worker stopped")  # its worker went away: back in the queue after epoch 2
        second_epoch(1, 0.4)
        with pytest.raises(Pruned):
            second_epoch(2, 0.4)
        store.prune(second, "pruned")
        monkeypatch.setattr(answer, "clock", lambda: store.get_study(study_id).created + 10)
        step = store.advance_study(study_id, decide_answer)
        assert step is not None and step.prune == [first.run_id]
        assert store.get_run(first.run_id).state == "pruned" and store.claim("w", lease_seconds=60) is None


@pytest.mark.slow
def test_a_worker_prunes_a_real_focus_run_at_its_rung(tmp_path):
    """Through the runner (`execute_claim`), as a worker trains: the first seed trains in full (its sibling has not
    reached the rung), the second decides for the configuration at epoch 2 and ends pruned there."""
    from kcnn.queue.runner import Outcome, RunSettings, execute_claim

    tiny = ExperimentConfig(input_size=24, channels=(4, 8), kernel_size=2, dense_units=16, epochs=6)
    settings = AnswerSettings({"kernel_size": [2, 3, 4]}, {"input_size": 24, "epochs": 6}, budget_seconds=3600)
    with Store(tmp_path / "store") as store:
        study_id = store.create_study("answer", settings.to_dict())
        screen = [NewRun.of(tiny.replace(kernel_size=kernel, seed=seed)) for kernel in (3, 4) for seed in (0, 1)]
        store.advance_study(study_id, lambda *_: StudyStep(new_runs=screen, progress={"phase": "screen"}))
        for _ in screen:  # scripted: the screened configurations were perfect at every epoch
            claim = store.claim("w", lease_seconds=60)
            for epoch in range(1, 7):
                store.record_epoch(claim, EpochRecord(epoch=epoch, val_accuracy=1.0))
            store.finish(claim, RunSummary({}))
        focus = [NewRun.of(tiny.replace(seed=seed)) for seed in (0, 1)]
        progress = {"phase": "focus", "halving": [tiny.config_key]}
        store.advance_study(study_id, lambda *_: StudyStep(new_runs=focus, progress=progress))
        first = execute_claim(store, store.claim("w"), RunSettings(device="cpu"))
        second = execute_claim(store, store.claim("w"), RunSettings(device="cpu"))
        runs = store.study_runs(study_id)[-2:]
    assert first.outcome is Outcome.DONE and runs[0].epochs_done == 6
    assert second.outcome is Outcome.PRUNED and runs[1].state == "pruned" and runs[1].epochs_done == 2
    assert "successive halving after epoch 2 of 6" in second.message
