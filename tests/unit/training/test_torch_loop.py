import numpy as np
import pytest
import torch
from random_configs import random_valid_configs

from kcnn.config import ExperimentConfig
from kcnn.training import model as model_module
from kcnn.training import torch_loop
from kcnn.training.backend import import_keras
from kcnn.training.loop_choice import choose_loop
from kcnn.training.model import build_model
from kcnn.training.torch_loop import compile_forward, epoch_order, sparse_crossentropy
from kcnn.training.train import Resume, TrainingHooks, train

keras = import_keras()


@pytest.fixture(autouse=True)
def torch_loop_chosen(monkeypatch):
    """These tests are about the torch loop: let the probe choose it even when the suite forces `fit`."""
    monkeypatch.setenv("KCNN_TRAIN_LOOP", "auto")


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


def _probe_data(count: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return _images(TINY, count), np.arange(count, dtype=np.int64) % 10


def test_the_probe_chooses_the_torch_loop_for_kcnns_models():
    images, labels = _probe_data()
    choice = choose_loop(build_model(TINY, images.shape[1:], 10), images, labels, "cpu", {})
    assert choice.loop == "torch"
    assert "matches" in choice.reason


def test_the_probe_falls_back_to_fit_when_the_loop_computes_something_else(monkeypatch):
    # A Keras release whose layer maths changed looks like this: the loop's maths no longer match.
    monkeypatch.setitem(torch_loop._ACTIVATIONS, "relu", torch.nn.functional.elu)
    images, labels = _probe_data()
    choice = choose_loop(build_model(TINY, images.shape[1:], 10), images, labels, "cpu", {})
    assert choice.loop == "fit"
    assert choice.reason.startswith("the torch loop disagrees with Keras on a probe batch (outputs differ by")


def test_the_environment_forces_a_loop():
    images, labels = _probe_data()
    model = build_model(TINY, images.shape[1:], 10)
    assert choose_loop(model, images, labels, "cpu", {"KCNN_TRAIN_LOOP": "fit"}).loop == "fit"
    assert choose_loop(model, images, labels, "cpu", {"KCNN_TRAIN_LOOP": "torch"}).loop == "torch"
    uncovered = build_model(TINY, images.shape[1:], 10, precision="mixed_float16")
    assert choose_loop(uncovered, images, labels, "cpu", {"KCNN_TRAIN_LOOP": "torch"}).loop == "fit"


@pytest.mark.parametrize("scale", [1.0, 40.0, 400.0])
def test_the_loop_reports_keras_loss(scale):
    # Saturated softmax outputs (scale 400) are where a plain cross-entropy on logits and Keras' clipped one differ.
    logits = torch.randn(16, 10, generator=torch.Generator().manual_seed(0)) * scale
    labels = torch.arange(16) % 10
    expected = keras.losses.SparseCategoricalCrossentropy()(labels, torch.softmax(logits, 1))
    assert float(sparse_crossentropy(logits, labels)) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.slow
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


@pytest.mark.slow
def test_resumed_run_repeats_the_uninterrupted_one(tmp_path):
    straight = train(TINY, device="cpu")
    saved = []
    checkpoint = tmp_path / "c.keras"
    hooks = TrainingHooks(after_epoch=lambda _, m: saved.append(m.save(checkpoint)))
    first = train(TINY.replace(epochs=2), device="cpu", hooks=hooks)
    resumed = train(TINY, device="cpu", resume=Resume(checkpoint, 2))
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
    train(
        TINY.replace(epochs=1), device="cpu", hooks=TrainingHooks(after_epoch=lambda record, model: saved.append(model))
    )
    model = saved[0]
    assert int(model.optimizer.iterations.numpy()) == 20  # 640 images / batch 32
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    images = _images(TINY).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(images).detach()), np.asarray(model(images).detach()), rtol=1e-6)
    assert int(loaded.optimizer.iterations.numpy()) == 20
    assert compile_forward(loaded) is not None
