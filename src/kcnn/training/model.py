"""Build the Keras model a config describes: conv → activation → max-pool blocks, then two Dense layers."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcnn.config import ExperimentConfig
from kcnn.training.backend import import_keras

if TYPE_CHECKING:
    import keras

#: Layout of the conv/pool stack. Keras 3's torch backend re-lays a channels-last tensor out to NCHW
#: and back around every conv and pooling call (and CPU max pooling then takes a slow path); in
#: channels-first the stack runs in torch's own layout, with a single transpose of each input batch.
#: The model still takes ``(height, width, channels)`` images.
CONV_DATA_FORMAT = "channels_first"


def build_model(
    config: ExperimentConfig,
    input_shape: tuple[int, int, int],
    num_classes: int,
    precision: str = "float32",
) -> keras.Model:
    """Build and compile the CNN of `config`.

    The layers are named as in the shape plan (``conv1``, ``pool1``, …,
    ``flatten``, ``dense``, ``output``) so the two can be compared. Pixels
    arrive as 0–255 and are scaled to [0, 1] by the first layer, the only
    place that scales them.

    Args:
        config: The experiment's hyperparameters.
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: Units of the softmax output.
        precision: Keras dtype policy: ``float32``, ``mixed_bfloat16`` or
            ``mixed_float16``. The output layer stays float32. Defaults to ``float32``.

    Returns:
        A compiled `keras.Model` (sparse categorical cross-entropy, accuracy).
    """
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale", dtype=precision)(inputs)
    if CONV_DATA_FORMAT == "channels_first":
        x = layers.Permute((3, 1, 2), name="to_channels_first", dtype=precision)(x)
    blocks = zip(config.channels, config.kernel_sizes, config.dilations, config.strides, strict=True)
    for index, (filters, kernel, dilation, stride) in enumerate(blocks, start=1):
        x = layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding=config.padding,
            dilation_rate=dilation,
            activation=config.activation,
            data_format=CONV_DATA_FORMAT,
            name=f"conv{index}",
            dtype=precision,
        )(x)
        if config.pool_size > 1:
            x = layers.MaxPooling2D(
                config.pool_size, data_format=CONV_DATA_FORMAT, name=f"pool{index}", dtype=precision
            )(x)
    x = layers.Flatten(name="flatten", dtype=precision)(x)
    x = layers.Dense(config.dense_units, activation=config.activation, name="dense", dtype=precision)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="kcnn")
    optimizer = make_optimizer(config)
    if precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def save_for_inference(model: Any, path: str | Path) -> None:
    """Write `model` as a ``.keras`` file of its architecture and weights only: no optimizer state, not compiled.

    What a done run keeps (to evaluate, predict and export): about the size of its weights, a third of a
    full save with Adam's two moments. Plain ``keras.saving.load_model`` loads it (uncompiled). A small file
    (under `DEFLATE_BELOW` bytes) is stored deflated: there the HDF5 framing and the config weigh up to 16% of
    the weights, deflating costs milliseconds, and the file ends at 0.93× its weights.
    """
    keras = import_keras()
    plain = keras.Model.from_config(model.get_config())
    plain.set_weights(model.get_weights())
    plain.save(path)
    if Path(path).stat().st_size < DEFLATE_BELOW:
        deflate_archive(Path(path))


#: Model files smaller than this are stored deflated (level 1): 8 ms for a 0.35 MB file here, and 0.4 s for
#: a 15 MB one, where it saves 8% (float weights hardly compress) and loading takes 1.5× as long.
DEFLATE_BELOW = 2 * 2**20


def deflate_archive(path: Path) -> None:
    """Rewrite the zip archive at `path` with its members deflated (same names, same contents)."""
    packed = path.with_name(f".{path.name}.deflating")
    try:
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
        ):
            for member in source.infolist():
                out.writestr(member, source.read(member), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
        os.replace(packed, path)
    finally:
        packed.unlink(missing_ok=True)


def make_optimizer(config: ExperimentConfig) -> Any:
    """The Keras optimizer named by `config.optimizer` at `config.learning_rate`."""
    keras = import_keras()
    rate = config.learning_rate
    if config.optimizer == "adam":
        return keras.optimizers.Adam(rate)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(rate)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9)
    return keras.optimizers.RMSprop(rate)


def architecture_problem(model: Any, config: ExperimentConfig) -> str | None:
    """How a loaded model differs from the network `config` describes, in a few words; `None` when it does not.

    Compares, layer by layer name, what `build_model` sets from the config: each conv layer's filters,
    kernel, dilation, stride, padding and activation, the pooling windows, the hidden Dense layer's units and
    activation, and the softmax output.
    """
    keras = import_keras()

    def activation(layer: Any) -> str:
        return str(keras.activations.serialize(layer.activation))

    wanted_activation = str(keras.activations.serialize(keras.activations.get(config.activation)))
    expected: dict[str, dict[str, Any]] = {}
    blocks = zip(config.channels, config.kernel_sizes, config.dilations, config.strides, strict=True)
    for index, (filters, kernel, dilation, stride) in enumerate(blocks, start=1):
        expected[f"conv{index}"] = {"filters": filters, "kernel_size": (kernel, kernel),
                                    "dilation_rate": (dilation, dilation), "strides": (stride, stride),
                                    "padding": config.padding, "activation": wanted_activation}  # fmt: skip
        if config.pool_size > 1:
            expected[f"pool{index}"] = {"pool_size": (config.pool_size, config.pool_size)}
    expected["dense"] = {"units": config.dense_units, "activation": wanted_activation}
    expected["output"] = {"activation": str(keras.activations.serialize(keras.activations.get("softmax")))}
    layers = {layer.name: layer for layer in model.layers}
    for name, settings in expected.items():
        layer = layers.get(name)
        if layer is None:
            return f"it has no layer {name}"
        for attribute, value in settings.items():
            found = activation(layer) if attribute == "activation" else getattr(layer, attribute, None)
            found = tuple(found) if isinstance(found, list) else found
            if found != value:
                return f"{name} has {attribute} {found}, the config says {value}"
    extra = sorted(name for name in layers if name.startswith(("conv", "pool")) and name not in expected)
    return f"it has an extra layer {extra[0]}" if extra else None
