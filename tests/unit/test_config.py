import dataclasses

import pytest

from kcnn.config import KEY_DEFAULTS, ExperimentConfig, key_of
from kcnn.errors import ConfigError


def test_defaults_are_valid_and_two_layers():
    config = ExperimentConfig()
    assert config.channels == (16, 32)
    assert config.kernel_size == (3, 3)
    assert config.plan(10).linear_size == 14 * 14 * 32  # 64 → conv 62 → pool 31 → conv 29 → pool 14


def test_per_layer_values_normalise_to_tuples():
    assert ExperimentConfig(kernel_size=2) == ExperimentConfig(kernel_size=(2, 2))
    assert ExperimentConfig(dilation=[2]) == ExperimentConfig(dilation=2)
    config = ExperimentConfig(kernel_size=2, dilation=(2, 1))
    assert config.dilations == (2, 1)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExperimentConfig().seed = 3  # type: ignore[misc]


def test_json_round_trip():
    config = ExperimentConfig(kernel_size=(4, 2), dilation=(2, 1), channels=(8, 16), learning_rate=3e-4, seed=9)
    assert ExperimentConfig.from_json(config.to_json()) == config
    assert ExperimentConfig.from_dict(config.to_dict()) == config


def test_config_key_ignores_only_the_seed_and_the_fold():
    base = ExperimentConfig(kernel_size=2, dilation=2)
    assert base.config_key == base.replace(seed=41).config_key
    folded = base.replace(folds=5)
    assert folded.config_key != base.config_key  # cross-validation measures something else: another config
    assert folded.replace(fold=3).config_key == folded.config_key  # the folds of one config are its repeats
    assert base.replace(test_split=0.2).config_key != base.config_key
    assert base.config_key != base.replace(dilation=1).config_key
    assert base.config_key != base.replace(input_size=90).config_key
    assert base.config_key == ExperimentConfig(kernel_size=(2, 2), dilation=(2, 2)).config_key


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kernel_size": 0}, "`kernel_size` must be a positive integer (at most 1024); got 0."),
        ({"dilation": -1}, "`dilation` must be a positive integer (at most 1024); got -1."),
        ({"dilation": (1, 0)}, "`dilation` must be a positive integer (at most 1024) for conv layer 2; got 0."),
        ({"channels": ("a",)}, "`channels` must be a whole number for conv layer 1; got 'a'."),
        ({"channels": ()}, "`channels` must be one or more positive integers, one per conv layer; got ()."),
        (
            {"kernel_size": (2, 3, 4)},
            "`kernel_size` needs one value for all conv layers or one per layer (2); got 3 values [2, 3, 4].",
        ),
        (
            {"stride": 2, "dilation": 2},
            "Conv layer 1 combines `stride`=2 with `dilation`=2, which Keras cannot "
            "build. Use `stride` 1 on dilated layers, or `dilation` 1 on strided ones.",
        ),
        (
            {"input_size": 4, "kernel_size": 5, "dilation": 3},
            "Conv layer 1 would produce an empty feature map: "
            "input 4×4, `kernel_size`=5, `dilation`=3 (a 13×13 span) gives a 0×0 output. Use a smaller kernel or "
            "dilation, fewer layers or a smaller `pool_size`, or a larger `input_size` (at least 40).",
        ),
        ({"val_split": 1.0}, "`val_split` must be greater than 0 and less than 1; got 1."),
        ({"learning_rate": float("nan")}, "`learning_rate` must be a number; got nan."),
        (
            {"activation": "swish2"},
            "`activation` must be one of relu, elu, gelu, leaky_relu, selu, silu, tanh, sigmoid; got 'swish2'.",
        ),
        ({"batch_size": True}, "`batch_size` must be a whole number; got True."),
        ({"padding": "full"}, "`padding` must be one of valid, same; got 'full'."),
        ({"test_split": 1.0}, "`test_split` must be 0 (no test set) or more and less than 1; got 1.0."),
        ({"test_split": -0.1}, "`test_split` must be 0 (no test set) or more and less than 1; got -0.1."),
        (
            {"test_split": 0.5, "val_split": 0.5},
            "`test_split` (0.5) and `val_split` (0.5) leave no training images; their sum must be less than 1.",
        ),
        ({"folds": 0}, "`folds` must be a positive integer (at most 50); got 0."),
        ({"folds": 3, "fold": 3}, "`fold` must be from 0 to 2; got 3."),
        ({"fold": 1}, "`fold` must be 0 (there are no folds: `folds` is 1); got 1."),
    ],
)
def test_invalid_configs_raise_teaching_errors(changes, message):
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig(**changes)
    assert str(caught.value) == message


def test_from_dict_rejects_unknown_field():
    with pytest.raises(ConfigError, match=r"^Unknown config field `kernal`"):
        ExperimentConfig.from_dict({"kernal": 3})


def test_from_json_rejects_non_objects():
    with pytest.raises(ConfigError, match="not valid JSON"):
        ExperimentConfig.from_json("{")
    with pytest.raises(ConfigError, match="got list"):
        ExperimentConfig.from_json("[1]")


# -- the config key -------------------------------------------------------------------------------------------


def test_a_known_config_key_is_pinned():
    # Changing this value re-keys every stored run: bump KEY_VERSION and add a store migration instead.
    assert ExperimentConfig().config_key == "8bd7e8b2f0ebfa66"
    assert ExperimentConfig(kernel_size=2, dilation=(2, 1), input_size=90).config_key == "fb1b4a13b98375d7"


def test_adding_a_field_with_a_default_keeps_every_old_key():
    config = ExperimentConfig(kernel_size=2, dilation=(2, 1), input_size=90)
    old = config.to_dict()
    # A later kcnn adds `augment` (default "none") and freezes its default with the others.
    extended_defaults = {**KEY_DEFAULTS, "augment": "none"}
    assert key_of({**old, "augment": "none"}, extended_defaults) == key_of(old) == config.config_key
    assert key_of({**old, "augment": "flip"}, extended_defaults) != config.config_key


def test_the_key_ignores_the_seed_and_how_a_value_was_written(tmp_path, monkeypatch):
    base = ExperimentConfig(kernel_size=3, dilation=1)
    assert base.replace(seed=7).config_key == base.config_key
    assert ExperimentConfig(kernel_size=(3, 3)).config_key == base.config_key
    assert ExperimentConfig(learning_rate=1e-3).config_key == ExperimentConfig(learning_rate=0.001).config_key
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").mkdir()
    assert ExperimentConfig(dataset="x").config_key == ExperimentConfig(dataset="./x").config_key
    assert ExperimentConfig(dataset="x").dataset == str(tmp_path / "x")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert ExperimentConfig(dataset="x").config_key != ExperimentConfig(dataset=str(tmp_path / "x")).config_key


def test_precision_is_part_of_the_key():
    assert ExperimentConfig(precision="mixed_bfloat16").config_key != ExperimentConfig().config_key
    with pytest.raises(ConfigError, match=r"^`precision` must be one of float32, mixed_bfloat16, mixed_float16"):
        ExperimentConfig(precision="fp8")
