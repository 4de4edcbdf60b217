import numpy as np
import pytest
from random_configs import random_valid_configs

from kcnn.config import ExperimentConfig
from kcnn.training.model import CONV_DATA_FORMAT, build_model


@pytest.mark.parametrize("config", list(random_valid_configs(30, seed=2026)), ids=lambda c: c.config_key)
def test_model_shapes_and_params_equal_the_plan(config):
    classes = 7
    model = build_model(config, (config.input_size, config.input_size, config.in_channels), classes)
    plan = config.plan(classes)
    for layer in plan.layers:
        shape = tuple(model.get_layer(layer.name).output.shape[1:])
        if layer.kind in ("conv", "pool") and CONV_DATA_FORMAT == "channels_first":
            shape = (shape[1], shape[2], shape[0])  # (C, H, W) → (H, W, C), the plan's order
        assert shape == layer.output_shape, layer.name
    assert model.count_params() == plan.params


def test_model_uses_the_torch_backend_and_dilation():
    import keras

    config = ExperimentConfig(kernel_size=2, dilation=(2, 1))
    model = build_model(config, (64, 64, 3), 10)
    assert keras.backend.backend() == "torch"
    assert model.get_layer("conv1").dilation_rate == (2, 2)
    assert model.get_layer("conv2").dilation_rate == (1, 1)
    scores = model.predict(np.zeros((2, 64, 64, 3), dtype=np.uint8), verbose=0)
    assert scores.shape == (2, 10)
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)


def test_mixed_precision_keeps_float32_output():
    config = ExperimentConfig(input_size=16, channels=(4,))
    model = build_model(config, (16, 16, 3), 3, precision="mixed_bfloat16")
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("output").compute_dtype == "float32"


def test_model_saves_and_loads_with_the_same_predictions(tmp_path):
    import keras

    config = ExperimentConfig(input_size=20, channels=(3, 4), kernel_size=2, dilation=(2, 1))
    model = build_model(config, (20, 20, 3), 5)
    images = np.random.default_rng(0).integers(0, 256, size=(4, 20, 20, 3)).astype(np.uint8)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert np.allclose(model.predict(images, verbose=0), loaded.predict(images, verbose=0), atol=1e-6)
