import numpy as np
import pytest
import torch
from random_configs import random_valid_configs

from kcnn.training import model as model_module
from kcnn.training import torch_loop
from kcnn.training.backend import import_keras
from kcnn.config import ExperimentConfig
from kcnn.training.model import build_model
from kcnn.training.torch_loop import choose_forward, compile_forward, epoch_order, keras_is_affected
from kcnn.training.train import train

keras = import_keras()
TINY = ExperimentConfig(input_size=24, channels=(4, 8), kernel_size=2, dilation=(2, 1), dense_units=16, epochs=4)


def _images(config: ExperimentConfig, count: int = 5) -> np.ndarray:
    channels = 1 if config.color_mode == "grayscale" else 3
    return np.random.default_rng(0).integers(0, 256, (count, config.input_size, config.input_size, channels), np.uint8)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize(
    "config", list(random_valid_configs(24, seed=7, max_input=48, vary_activation=True)), ids=lambda c: c.config_key
)
def test_torch_forward_equals_the_keras_model(config, layout, monkeypatch):
    monkeypatch.setattr(model_module, "CONV_DATA_FORMAT", layout)
    images = _images(config)
    model = build_model(config, images.shape[1:], 10)
    forward = compile_forward(model)
    assert forward is not None
    expected = np.asarray(model(images.astype(np.float32)).detach())
    with torch.no_grad():
        logits = forward(torch.from_numpy(images))
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "config", list(random_valid_configs(6, seed=11, max_input=48, vary_activation=True)), ids=lambda c: c.config_key
)
def test_mixed_bfloat16_forward_computes_like_keras(config):
    images = _images(config)
    model = build_model(config, images.shape[1:], 10, precision="mixed_bfloat16")
    forward = compile_forward(model)
    assert forward is not None
    expected = np.asarray(model(images.astype(np.float32)).detach())
    with torch.no_grad():
        logits = forward(torch.from_numpy(images))
    assert logits.dtype == torch.float32  # the output layer stays float32, as in Keras
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), expected, atol=2e-2)


def test_models_the_loop_does_not_cover_train_with_fit():
    images = _images(TINY)
    assert compile_forward(build_model(TINY, images.shape[1:], 10, precision="mixed_float16")) is None
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dropout(0.5)(x)
    dropout = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    dropout.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert compile_forward(dropout) is None
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Flatten()(inputs)
    branching = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Add()([x, x])))
    branching.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert compile_forward(branching) is None
    other_loss = build_model(TINY, images.shape[1:], 10)
    other_loss.compile(optimizer="adam", loss="mean_squared_error")
    assert compile_forward(other_loss) is None


def test_the_loop_is_switched_off_for_keras_versions_outside_the_affected_range():
    assert keras_is_affected("3.15.1") and keras_is_affected("3.0.0")
    assert not keras_is_affected("3.16.0") and not keras_is_affected("4.0") and not keras_is_affected("2.15.0")
    assert not keras_is_affected("nightly")
    model = build_model(TINY, (24, 24, 3), 10)
    assert choose_forward(model, "3.15.1", {}) is not None
    assert choose_forward(model, "3.16.0", {}) is None
    assert choose_forward(model, "3.16.0", {"KCNN_TRAIN_LOOP": "torch"}) is not None
    assert choose_forward(model, "3.15.1", {"KCNN_TRAIN_LOOP": "fit"}) is None


def test_the_installed_keras_trains_with_the_torch_loop():
    model = build_model(TINY, (24, 24, 3), 10)
    assert choose_forward(model, keras.__version__, {}) is not None, f"keras {keras.__version__}: extend or drop"


def test_loop_and_fit_learn_equally_well(monkeypatch):
    config = ExperimentConfig(input_size=32, kernel_size=2, dilation=(2, 1), epochs=8)
    loop = [train(config.replace(seed=seed), device="cpu") for seed in range(2)]
    monkeypatch.setenv("KCNN_TRAIN_LOOP", "fit")
    fit = [train(config.replace(seed=seed), device="cpu") for seed in range(2)]
    assert loop[0].params == fit[0].params == config.plan(10).params
    loop_mean = np.mean([result.best_val_accuracy for result in loop])
    fit_mean = np.mean([result.best_val_accuracy for result in fit])
    assert loop_mean > 0.3 and fit_mean > 0.3  # chance is 0.1
    assert abs(loop_mean - fit_mean) < 0.12, (loop_mean, fit_mean)


def test_resumed_run_repeats_the_uninterrupted_one(tmp_path):
    straight = train(TINY, device="cpu")
    saved = []
    checkpoint = tmp_path / "c.keras"
    first = train(TINY.replace(epochs=2), device="cpu", after_epoch=lambda _, m: saved.append(m.save(checkpoint)))
    resumed = train(TINY, device="cpu", resume_from=checkpoint, initial_epoch=2)
    assert len(saved) == 2
    joined = [(r.loss, r.val_loss, r.val_accuracy) for r in first.history + resumed.history]
    assert joined == pytest.approx([(r.loss, r.val_loss, r.val_accuracy) for r in straight.history], rel=1e-5)


def test_data_moves_to_the_device_once_per_run(monkeypatch):
    copies = []
    real = torch_loop.to_device
    monkeypatch.setattr(torch_loop, "to_device", lambda array, device: copies.append(len(array)) or real(array, device))
    result = train(TINY.replace(epochs=2, batch_size=16), device="cpu")
    assert sorted(copies) == sorted([result.num_train, result.num_train, result.num_val, result.num_val])


def test_cudnn_benchmark_only_on_a_gpu():
    torch_loop.configure_backend("cuda:0")
    assert torch.backends.cudnn.benchmark
    torch_loop.configure_backend("cpu")
    assert not torch.backends.cudnn.benchmark


def test_epoch_order_depends_on_seed_and_epoch_only():
    assert torch.equal(epoch_order(50, 3, 1), epoch_order(50, 3, 1))
    assert sorted(epoch_order(50, 3, 1).tolist()) == list(range(50))
    assert not torch.equal(epoch_order(50, 3, 1), epoch_order(50, 3, 2))
    assert not torch.equal(epoch_order(50, 3, 1), epoch_order(50, 4, 1))


def test_trained_model_saves_and_loads_with_its_optimizer(tmp_path):
    saved = []
    train(TINY.replace(epochs=1), device="cpu", after_epoch=lambda record, model: saved.append(model))
    model = saved[0]
    assert int(model.optimizer.iterations.numpy()) == 20  # 640 images / batch 32
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    images = _images(TINY).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(images).detach()), np.asarray(model(images).detach()), rtol=1e-6)
    assert int(loaded.optimizer.iterations.numpy()) == 20
    assert compile_forward(loaded) is not None
