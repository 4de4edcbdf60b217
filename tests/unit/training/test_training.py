import math

import numpy as np
import pytest

from kcnn.config import ExperimentConfig
from kcnn.data import ImageSet
from kcnn.errors import TrainingError
from kcnn.training.train import TrainingHooks, train

TINY = ExperimentConfig(input_size=24, channels=(4, 8), kernel_size=2, dilation=(2, 1), dense_units=16, epochs=2)


def test_train_returns_history_and_metrics():
    seen = []
    result = train(TINY, device="cpu", hooks=TrainingHooks(on_epoch=seen.append))
    assert [record.epoch for record in result.history] == [1, 2]
    assert seen == result.history
    assert 0.0 <= result.final_val_accuracy <= result.best_val_accuracy <= 1.0
    assert result.params == TINY.plan(10).params
    assert result.flops_per_image == TINY.plan(10).flops
    assert result.num_train == 640 and result.num_val == 160
    rates = sorted(record.images_per_second for record in result.history)
    assert result.images_per_second == rates[len(rates) // 2]  # the median, as the store records it
    assert sum(record.seconds for record in result.history) <= result.seconds * 1.05 + 0.05
    data = result.to_dict()
    assert set(data) >= {"config", "best_val_accuracy", "final_val_accuracy", "seconds", "history"}
    assert set(data["history"][0]) >= {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}


@pytest.mark.slow
def test_same_seed_same_history_on_cpu():
    first = train(TINY, device="cpu")
    second = train(TINY, device="cpu")
    other = train(TINY.replace(seed=1), device="cpu")
    losses = [(r.loss, r.val_loss, r.val_accuracy) for r in first.history]
    assert losses == [(r.loss, r.val_loss, r.val_accuracy) for r in second.history]
    assert losses != [(r.loss, r.val_loss, r.val_accuracy) for r in other.history]


@pytest.mark.parametrize("loop", ["auto", "fit"])
def test_non_finite_loss_raises_diverged(loop, monkeypatch):
    monkeypatch.setenv("KCNN_TRAIN_LOOP", loop)
    images = np.full((20, 24, 24, 3), np.inf, dtype=np.float32)
    labels = np.repeat(np.arange(2), 10)
    data = ImageSet(images=images, labels=labels, class_names=("a", "b"))
    with pytest.raises(TrainingError, match=r"^Training diverged at epoch 1: the loss became NaN or infinite"):
        train(TINY, device="cpu", dataset=data)


@pytest.mark.slow
def test_default_model_learns_well_above_chance():
    config = ExperimentConfig(input_size=32, kernel_size=2, dilation=2, epochs=8)
    result = train(config, device="cpu")
    assert result.best_val_accuracy > 0.25  # chance is 0.10 with ten classes
    assert math.isfinite(result.history[-1].loss)
