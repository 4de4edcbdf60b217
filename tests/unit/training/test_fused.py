"""Issue 26: a member of a fused group trains to its solo run's result (same initial weights, same batch
order, the same per-epoch losses and accuracies within float32 noise), and leaves the group alone."""

import contextlib
import math

import numpy as np
import pytest

from kcnn.config import ExperimentConfig
from kcnn.errors import StopRequested
from kcnn.training.backend import import_keras
from kcnn.training.callbacks import EpochRecorder
from kcnn.training.fused import FusedMember, fit_fused, fusion_problem
from kcnn.training.model import build_model
from kcnn.training.torch_loop import compile_forward, fit_torch

keras = import_keras()

CONFIG = ExperimentConfig(input_size=16, channels=(4, 8), kernel_size=3, dilation=(2, 1), dense_units=16, epochs=4,
                          batch_size=8)  # fmt: skip
CLASSES = 3


def _data(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    images = rng.integers(0, 60, (count, 16, 16, 3)).astype(np.uint8)
    images[np.arange(count), :, :, labels] += 120  # a learnable colour per class
    return images, labels


TRAIN, VAL = _data(40, 0), _data(12, 1)


def _model(config: ExperimentConfig):
    keras.utils.set_random_seed(config.seed)  # as `kcnn.training.train.train` does before building
    return build_model(config, (16, 16, 3), CLASSES)


def _solo(config: ExperimentConfig, callbacks=()):
    model = _model(config)
    recorder = EpochRecorder(len(TRAIN[0]))
    with contextlib.suppress(StopRequested):  # a cancelled run stops as it would in a worker
        fit_torch(model, compile_forward(model), TRAIN, VAL, batch_size=config.batch_size, epochs=config.epochs,
                  initial_epoch=0, seed=config.seed, device="cpu", callbacks=[*callbacks, recorder])  # fmt: skip
    return model, recorder


def _fused(configs, extra=None):
    extra = extra or {}
    members, recorders = [], []
    for position, config in enumerate(configs):
        recorder = EpochRecorder(len(TRAIN[0]))
        members.append(FusedMember(_model(config), config.seed, [*extra.get(position, ()), recorder]))
        recorders.append(recorder)
    fit_fused(members, TRAIN, VAL, batch_size=configs[0].batch_size, epochs=configs[0].epochs, initial_epoch=0,
              device="cpu")  # fmt: skip
    return members, recorders


def _same_history(fused, solo):
    assert len(fused) == len(solo)
    for mine, theirs in zip(fused, solo, strict=True):
        assert (mine.accuracy, mine.val_accuracy) == (theirs.accuracy, theirs.val_accuracy)  # equal, not close
        for name in ("loss", "val_loss"):  # grouped convolutions sum in another order: float32 noise
            assert getattr(mine, name) == pytest.approx(getattr(theirs, name), rel=1e-5, abs=1e-6), name


@pytest.mark.parametrize("size", [1, 3, 8])
def test_each_member_trains_as_it_would_alone(size):
    configs = [CONFIG.replace(seed=seed, learning_rate=0.001 * (1 + seed % 3)) for seed in range(size)]
    members, recorders = _fused(configs)
    for config, member, recorder in zip(configs, members, recorders, strict=True):
        model, solo = _solo(config)
        assert member.error is None and len(recorder.records) == config.epochs
        _same_history(recorder.records, solo.records)
        for mine, theirs in zip(member.model.get_weights(), model.get_weights(), strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-5)
        # the optimizer's state was written back: the member saves and resumes as after a solo run
        assert int(member.model.optimizer.iterations.value) == int(model.optimizer.iterations.value)
        for mine, theirs in zip(member.model.optimizer.variables, model.optimizer.variables, strict=True):
            np.testing.assert_allclose(np.asarray(mine.value.detach()), np.asarray(theirs.value.detach()),
                                       rtol=1e-3, atol=1e-6)  # fmt: skip


class _Diverge(keras.callbacks.Callback):
    """Make the member's loss NaN at the end of `epoch` (from 1), as `kcnn.queue.faults` does."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            logs["loss"] = math.nan


class _Cancel(keras.callbacks.Callback):
    """Ask to stop during `epoch` (from 1) after `step` steps, as a cancelled run's heartbeat would."""

    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step, self.current = epoch, step, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch + 1 == self.step:
            raise StopRequested(f"stop requested during epoch {self.epoch}")


def test_a_diverging_and_a_cancelled_member_leave_the_group_and_the_others_go_on():
    configs = [CONFIG.replace(seed=seed) for seed in range(4)]
    members, recorders = _fused(configs, {1: [_Diverge(2)], 2: [_Cancel(3, 2)]})
    assert recorders[1].diverged_at == 2 and members[1].stopped_at == 2 and members[1].error is None
    assert len(recorders[1].records) == 1
    assert isinstance(members[2].error, StopRequested) and len(recorders[2].records) == 2
    for position in (0, 3):
        _, solo = _solo(configs[position])
        assert members[position].error is None and members[position].stopped_at is None
        _same_history(recorders[position].records, solo.records)
    _, solo = _solo(configs[2], [_Cancel(3, 2)])
    _same_history(recorders[2].records, solo.records)  # up to where it left, as alone


def test_runs_of_different_shapes_or_optimizers_are_not_fused():
    assert fusion_problem([_model(CONFIG), _model(CONFIG.replace(seed=1))]) is None
    assert "shape" in fusion_problem([_model(CONFIG), _model(CONFIG.replace(kernel_size=2))])
    assert "Adam" in fusion_problem([_model(CONFIG), _model(CONFIG.replace(optimizer="sgd"))])


@pytest.mark.slow
def test_train_group_returns_each_runs_result_or_its_own_failure():
    """`train_group` fuses what it can and returns what `train` would for each run, failures in place."""
    from kcnn.training.train import TrainingHooks, train, train_group

    base = ExperimentConfig(input_size=16, channels=(4, 8), kernel_size=3, dense_units=16, epochs=3, batch_size=8,
                            test_split=0.2)  # fmt: skip
    configs = [base.replace(seed=seed) for seed in range(3)]

    def stop_in_epoch_2():
        polls = iter(range(1000))
        return lambda: next(polls) >= 5  # the sixth step polls True

    hooks = [None, TrainingHooks(should_stop=stop_in_epoch_2()), None]
    outcomes = train_group(configs, device="cpu", hooks=hooks)
    assert isinstance(outcomes[1], StopRequested)
    for config, outcome in zip(configs[::2], outcomes[::2], strict=True):
        alone = train(config, device="cpu")
        assert outcome.loop == "fused"
        assert outcome.loop_reason.startswith("trained as one program with 2 other run(s); ")
        _same_history(outcome.history, alone.history)
        assert (outcome.test_accuracy, outcome.best_test_accuracy) == (alone.test_accuracy, alone.best_test_accuracy)
    assert train_group(configs[:2], device="cpu", fuse=False)[0].loop == "torch"
