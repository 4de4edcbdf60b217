"""Issue 25: the budgeted study's planner, with scripted results (no training): a simulated worker trains each
run in the time the cost model's priors give it and scores it from a known truth (additive effects + seed
noise), on a simulated clock."""

import itertools
import os
import time
import zlib
from collections import Counter

import numpy as np
import pytest

from kcnn.config import ExperimentConfig, group_value
from kcnn.contract import EpochRecord, RunSummary
from kcnn.errors import Pruned
from kcnn.queue import answer
from kcnn.queue.answer import AnswerSettings, CostModel, balanced_fraction, start_answer
from kcnn.queue.halving import halving_check, rungs
from kcnn.queue.studies import advance_studies
from kcnn.store import Store

#: The seed's design: 2 × 4 × 2 × 4 × 2 = 128 configurations.
GRID = {"batch_size": [16, 32], "input_size": [32, 64, 90, 128], "channels": [[16, 32], [32, 64]],
        "kernel_size": [2, 3, 4, 5], "dilation": [1, [2, 1]]}  # fmt: skip
FIXED = {"epochs": 15, "test_split": 0.2}
TRAIN_IMAGES = 512
#: The truth: input size matters most, kernel size some, dilation a little, channels and batch size not at all.
EFFECTS = {"input_size": {32: 0.0, 64: 0.12, 90: 0.18, 128: 0.20}, "kernel_size": {2: 0.0, 3: 0.03, 4: 0.04, 5: 0.02},
           "dilation": {1: 0.0, (2, 1): 0.01}}  # fmt: skip
NOISE = 0.01
#: Which draw of the seed noise (KCNN_TEST_WORLD=n tries others; every one of 0–19 passes).
WORLD = int(os.environ.get("KCNN_TEST_WORLD", "0"))


def truth(config: ExperimentConfig) -> float:
    """The configuration's true mean accuracy."""
    value = 0.6
    for name, effect in EFFECTS.items():
        value += effect[group_value(name, getattr(config, name))]
    return value


def score(config: ExperimentConfig) -> float:
    """One run's accuracy: the truth plus seed noise, the same for the same configuration and seed on every machine
    (a stable digest: `hash()` of a string changes with each process's PYTHONHASHSEED)."""
    rng = np.random.default_rng([zlib.crc32(config.config_key.encode()), config.seed, WORLD])
    return float(np.clip(truth(config) + rng.normal(0, NOISE), 0, 1))


class Simulation:
    """One worker slot on a simulated clock, training each run in the time the priors predict."""

    def __init__(self, store: Store, monkeypatch, start: float) -> None:
        self.store, self.now = store, start
        monkeypatch.setattr(answer, "clock", lambda: self.now)
        self.started: list[tuple[float, float]] = []
        self.pruned: list[tuple[int, int]] = []

    def train(self, claim) -> None:
        """Train as a worker does: record each epoch, then run the study's check (successive halving)."""
        config = claim.config
        seconds = CostModel().seconds(config, TRAIN_IMAGES)
        self.started.append((self.now, seconds))
        per_epoch = (seconds - answer.PRIOR_OVERHEAD) / config.epochs
        flops = config.plan(num_classes=2).flops
        value = score(config)
        run = self.store.get_run(claim.run_id)
        check = halving_check(self.store, self.store.get_study(run.study_id), run)
        for epoch in range(1, config.epochs + 1):
            accuracy = value - 0.2 * (config.epochs - epoch) / config.epochs
            record = EpochRecord(epoch=epoch, val_accuracy=accuracy, seconds=per_epoch,
                                 images_per_second=TRAIN_IMAGES / per_epoch)  # fmt: skip
            self.store.record_epoch(claim, record)
            try:
                if check is not None:
                    check(record)
            except Pruned as error:
                self.store.prune(claim, str(error))
                self.now += answer.PRIOR_OVERHEAD + per_epoch * epoch
                self.pruned.append((claim.run_id, epoch))
                return
        self.store.finish(claim, RunSummary({"flops_per_image": flops, "best_test_accuracy": value - 0.01,
                                             "test_accuracy": value - 0.02}))  # fmt: skip
        self.now += seconds

    def run(self, study_id: int, kill: int | None = None) -> None:
        """Advance and train until the study ends; with `kill`, the kill-th claim dies mid-run (lease lapses)."""
        claims = 0
        while self.store.get_study(study_id).state == "running":
            advance_studies(self.store)
            claim = self.store.claim("sim", lease_seconds=0.05)
            if claim is None:  # a worker polls again: the study's next step (or its answer) comes then
                advance_studies(self.store)
                claim = self.store.claim("sim", lease_seconds=0.05)
            if claim is None:
                assert self.store.get_study(study_id).state != "running", "a running study queued nothing"
                break
            claims += 1
            if claims == kill:  # the worker dies: nothing recorded; its lease lapses and a reap requeues the run
                self.now += 5.0
                time.sleep(0.1)
                assert self.store.reap() == [claim.run_id]
                continue
            self.train(claim)


def _start(store, budget, seed=0):
    settings = AnswerSettings(GRID, FIXED, budget_seconds=budget, workers=1, seeds=2, plan_seed=seed,
                              train_images=TRAIN_IMAGES)  # fmt: skip
    return start_answer(store, settings)


def _best():
    points = [
        dict(zip(sorted(GRID), values, strict=True)) for values in itertools.product(*(GRID[n] for n in sorted(GRID)))
    ]
    return max(truth(ExperimentConfig(**FIXED, **point)) for point in points)


@pytest.mark.parametrize("budget", [1500, 4000])
def test_the_study_answers_within_its_budget_with_a_balanced_screen_and_no_repeated_training(
    tmp_path, monkeypatch, budget
):
    with Store(tmp_path / "store") as store:
        study_id = _start(store, budget)
        sim = Simulation(store, monkeypatch, store.get_study(study_id).created)
        sim.run(study_id)
        study = store.get_study(study_id)
        runs = store.study_runs(study_id)
    created = study.created
    longest = max(seconds for _, seconds in sim.started)
    assert sim.now - created <= budget + longest  # it ends by itself within the budget and one run
    assert all(start - created + seconds <= budget * 1.05 for start, seconds in sim.started)  # none started to overrun
    done = [run for run in runs if run.state == "done"]
    assert len({(run.config_key, run.seed) for run in done}) == len(done)  # nothing trained twice
    screened = study.progress["screened"]
    screen = [ExperimentConfig.from_json(run.config) for run in runs[: 2 * screened]]
    for name, values in GRID.items():  # every value of every hyperparameter about equally often
        counts = Counter(group_value(name, getattr(config, name)) for config in screen[::2])
        assert len(counts) == len(values) and max(counts.values()) - min(counts.values()) <= 1, (name, counts)
    winner = study.progress["winner"]
    [config] = {ExperimentConfig.from_json(run.config).replace(seed=0) for run in done if run.config_key == winner}
    assert _best() - truth(config) <= 0.01 + 1e-9  # within a point of the true best (one point exactly is within)
    assert " wins " in study.verdict or " leads, not separable from " in study.verdict
    assert "test accuracy" in study.verdict and f"of the {budget} s budget" in study.verdict
    # Only focus configurations are halved, at a rung or after one (a sibling's decision), and a pruned
    # configuration trains no more (its queued seeds were pruned too).
    by_id = {run.id: run for run in runs}
    for run_id, epoch in sim.pruned:
        key = by_id[run_id].config_key
        assert key in study.progress["halving"] and epoch >= min(rungs(15))
        assert not [run for run in runs if run.config_key == key and run.state in ("queued", "running")]


def test_a_worker_killed_mid_study_loses_and_repeats_nothing(tmp_path, monkeypatch):
    with Store(tmp_path / "store") as store:
        study_id = _start(store, 1500)
        sim = Simulation(store, monkeypatch, store.get_study(study_id).created)
        sim.run(study_id, kill=3)
        study = store.get_study(study_id)
        runs = store.study_runs(study_id)
    done = [run for run in runs if run.state == "done"]
    assert study.state == "done" and len({(run.config_key, run.seed) for run in done}) == len(done)
    assert not [run for run in runs if run.state in ("queued", "running")]


def test_the_screen_is_an_orthogonal_array_where_one_exists():
    grid = {"a": [0, 1], "b": [0, 1], "c": [0, 1]}
    points = balanced_fraction(grid, 4, lambda point: 0.0)
    for first, second in itertools.combinations("abc", 2):  # every pair of values once: a 2³⁻¹ fraction
        assert Counter((point[first], point[second]) for point in points) == Counter(
            itertools.product([0, 1], [0, 1]))  # fmt: skip
    cheap = balanced_fraction({"input_size": [32, 128], "kernel_size": [2, 3]}, 2, lambda p: p["input_size"])
    assert [point["input_size"] for point in cheap] == [32, 128]  # balanced first, then cheapest first


def test_settings_refuse_what_cannot_give_an_answer():
    from kcnn.errors import ConfigError

    for grid, extra, says in (({"kernel_size": [2]}, {}, "two values"), (GRID, {"seeds": 1}, "seed noise"),
                              (GRID, {"budget_seconds": 0}, "positive duration"),
                              ({**GRID, "seed": [0, 1]}, {}, "leave `seed` out")):  # fmt: skip
        with pytest.raises(ConfigError, match=says):
            AnswerSettings(grid, FIXED, **extra)


def test_a_budget_too_small_for_the_smallest_screen_is_said_with_the_budget_that_would_do():
    from kcnn.queue.answer import tight_budget_line

    def line(budget, screen):
        return tight_budget_line(AnswerSettings(GRID, FIXED, budget_seconds=budget), screen)

    assert "361 s (predicted), more than the 300 s budget" in line(300, 361)
    assert "--budget 13m would leave the focus and the race their share" in line(300, 361)  # 361 / 0.5 = 722 s
    assert "361 s of the 600 s budget (predicted), leaving little to focus and race" in line(600, 361)
    assert line(722, 361) is None
