"""A torch-native training loop for kcnn's Keras models: the one workaround of a Keras internal.

(Over 300 lines on purpose: the translation of each Keras layer and the loop that trains with it are
kept in one module, so that everything that depends on Keras' layer maths is in one place to review.)

Why: on the torch backend, Keras 3 (measured on 3.15) spends several milliseconds of Python per
training step in ``Layer.__call__``, the functional graph walk and ``fit``'s bookkeeping, which
makes a small CNN train about twice as slowly as a hand-written PyTorch loop (upstream keras
issues #23279, #23649; ``bench/train_overhead.py``). This module trains the *same* `keras.Model`
without those layers of Python: it reads the model's layers once, runs their maths with
``torch.nn.functional`` on the model's own variables (which are torch parameters on this backend),
and applies the model's own Keras optimizer to the gradients. The weights and the optimizer state
therefore stay in the Keras model: it saves, loads, resumes and predicts as after ``fit``.

What it covers: linear chains of ``InputLayer``, ``Rescaling``, ``Permute``, ``Conv2D`` (any
padding, stride, dilation, data format), valid ``MaxPooling2D``, ``Flatten`` and ``Dense``, with
kcnn's activations, the ``float32`` and ``mixed_bfloat16`` policies and a softmax output trained with
sparse categorical cross-entropy. Anything else (``mixed_float16``, whose loss scaling is Keras' own,
another layer, a loss or regularizer the maths would skip) trains with ``fit``. Whether the loop is
used is decided by capability, not by version: `kcnn.training.loop_choice` checks the loop's forward
and gradients against the Keras model's own on a probe batch whenever a model is built.

The loss is Keras' own sparse categorical cross-entropy on probabilities (softmax, renormalized,
clipped to ``[ε, 1 − ε]``), so both loops report the same numbers for the same weights.

The loop moves the data to the device once per run, shuffles with its own seeded generator (epoch
``E`` of seed ``S`` always sees the same order, so a resumed run repeats an uninterrupted one) and
sets ``cudnn.benchmark`` on a GPU, where the batch shape is fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

#: Keras' ``backend.epsilon()`` default: the clip of probabilities in its cross-entropy.
EPSILON = 1e-7

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "relu": F.relu,
    "elu": F.elu,
    "gelu": F.gelu,  # Keras' default is the exact (erf) form, as torch's
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),  # Keras' default slope
    "selu": F.selu,
    "silu": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}

Forward = Callable[[torch.Tensor], torch.Tensor]

#: Keras dtype policies the loop runs, and the torch dtype a layer computes in under each. Variables
#: stay float32 and are cast per call, as Keras does; float16 needs loss scaling and trains with ``fit``.
_COMPUTE_DTYPES = {"float32": torch.float32, "mixed_bfloat16": torch.bfloat16}


def kind_of(layer: Any) -> str:
    """The Keras layer class name, e.g. ``Conv2D``."""
    return type(layer).__name__


@dataclass(frozen=True)
class LayerMaths:
    """One layer's torch maths as a function of its input and of its weights, given in the order of `variables`.

    The solo loop passes the Keras variables' current values; fused training (`kcnn.training.fused`) passes
    each member's own slice of the stacked weights.
    """

    apply: Callable[..., torch.Tensor]
    """``(x, *weights) → y``."""
    variables: tuple[Any, ...] = ()
    """The Keras variables the layer reads (kernel, then bias)."""

    def computed_in(self, dtype: torch.dtype) -> LayerMaths:
        """The same maths with its input cast to `dtype` (its weights follow the input's dtype)."""
        apply = self.apply
        return LayerMaths(lambda x, *weights: apply(x.to(dtype), *weights), self.variables)


def sparse_crossentropy(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Keras' sparse categorical cross-entropy of the softmax of `logits` (the same maths, the same clip)."""
    probabilities = torch.softmax(logits.float(), dim=1)
    probabilities = probabilities / probabilities.sum(dim=1, keepdim=True)
    log_probabilities = torch.log(torch.clip(probabilities, EPSILON, 1.0 - EPSILON))
    return F.nll_loss(log_probabilities, labels, reduction=reduction)


def compile_forward(model: Any) -> Forward | None:
    """A function computing `model`'s output *logits* with torch ops, or None if not covered.

    The function reads the model's variables at every call, so it always uses the current weights.
    """
    maths = translate_model(model)
    if maths is None:
        return None

    def forward(x: torch.Tensor) -> torch.Tensor:
        for layer in maths:
            x = layer.apply(x, *(variable.value for variable in layer.variables))
        return x

    return forward


def translate_model(model: Any) -> list[LayerMaths] | None:
    """Each layer of `model` as `LayerMaths`, up to its logits; None if the model is not covered."""
    layers = list(model.layers)
    if not layers or getattr(model, "optimizer", None) is None:
        return None
    if type(model.optimizer).__name__ == "LossScaleOptimizer" or getattr(model.optimizer, "loss_scale_factor", None):
        return None
    if not _is_sparse_crossentropy(getattr(model, "loss", None)):
        return None
    previous = None
    maths: list[LayerMaths] = []
    computes: list[torch.dtype] = []
    for index, layer in enumerate(layers):
        if previous is not None and _single_input(layer) is not previous:
            return None
        compute = _COMPUTE_DTYPES.get(layer.dtype_policy.name)
        step = _translate(layer, last=index == len(layers) - 1)
        if step is None or compute is None:
            return None
        maths.append(step)
        computes.append(compute)
        previous = layer.output
    if previous is not model.outputs[0] or len(model.outputs) != 1:
        return None
    if any(compute is not torch.float32 for compute in computes):  # mixed: each layer casts its input
        maths = [maths[0], *(step.computed_in(compute) for step, compute in zip(maths[1:], computes[1:], strict=True))]
    return maths


def _is_sparse_crossentropy(loss: Any) -> bool:
    name = loss if isinstance(loss, str) else getattr(loss, "name", type(loss).__name__)
    return str(name).lower().replace("_", "") in {"sparsecategoricalcrossentropy"}


def _single_input(layer: Any) -> Any:
    try:
        return layer.input
    except (AttributeError, ValueError):
        return None


def _translate(layer: Any, last: bool) -> LayerMaths | None:
    """The torch maths of one Keras layer, or None if not covered."""
    kind = kind_of(layer)
    config = layer.get_config()
    if kind == "InputLayer":
        return LayerMaths(lambda x: x.float() if x.dtype == torch.uint8 else x)
    if kind == "Rescaling":
        scale, offset = config["scale"], config["offset"]
        if not (isinstance(scale, float | int) and isinstance(offset, float | int)):
            return None
        return LayerMaths(lambda x: x * scale + offset if offset else x * scale)
    if kind == "Permute":
        dims = (0, *config["dims"])
        return LayerMaths(lambda x: x.permute(dims))
    if kind == "Flatten":
        if config.get("data_format") == "channels_first":
            return LayerMaths(lambda x: x.permute(0, *range(2, x.dim()), 1).flatten(1) if x.dim() > 2 else x.flatten(1))
        return LayerMaths(lambda x: x.flatten(1))
    if kind == "Conv2D":
        return _conv(layer, config)
    if kind == "MaxPooling2D":
        return _pool(config)
    if kind == "Dense":
        return _dense(layer, config, last)
    return None


def _activation(config: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor] | None:
    name = config.get("activation", "linear")
    return _ACTIVATIONS.get(name) if isinstance(name, str) else None


def _plain(config: dict[str, Any]) -> bool:
    """No regularizers or constraints, which the torch maths would skip."""
    keys = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint")
    return all(config.get(key) is None for key in keys) and config.get("lora_rank") in (None, 0)


def _conv(layer: Any, config: dict[str, Any]) -> LayerMaths | None:
    activation = _activation(config)
    if activation is None or not _plain(config) or config.get("groups", 1) != 1:
        return None
    channels_last = config["data_format"] == "channels_last"
    kernel_size, strides, dilation = config["kernel_size"], config["strides"], config["dilation_rate"]
    same = config["padding"] == "same"

    def step(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        if channels_last:
            x = x.permute(0, 3, 1, 2)
        padding: tuple[int, int] | int = 0
        if same:
            x, padding = _same_padding(x, kernel_size, strides, dilation)
        weight = kernel.to(x.dtype).permute(3, 2, 0, 1)  # Keras (kh, kw, in, out) → torch (out, in, kh, kw)
        shift = None if bias is None else bias.to(x.dtype)
        y = activation(F.conv2d(x, weight, shift, strides, padding, dilation))
        return y.permute(0, 2, 3, 1) if channels_last else y

    return LayerMaths(step, (layer.kernel, layer.bias) if config["use_bias"] else (layer.kernel,))


def _same_padding(
    x: torch.Tensor, kernel_size: Sequence[int], strides: Sequence[int], dilation: Sequence[int]
) -> tuple[torch.Tensor, tuple[int, int] | int]:
    """Keras' "same" rule: total padding split in two, the odd pixel at the end."""
    pads = []
    for size, kernel, stride, rate in zip(x.shape[2:], kernel_size, strides, dilation, strict=True):
        effective = (kernel - 1) * rate + 1
        output = (size + stride - 1) // stride
        total = max(0, (output - 1) * stride + effective - size)
        pads.append((total // 2, total - total // 2))
    if all(left == right for left, right in pads):
        return x, (pads[0][0], pads[1][0])
    return F.pad(x, (*pads[1], *pads[0])), 0


def _pool(config: dict[str, Any]) -> LayerMaths | None:
    if config["padding"] != "valid":
        return None
    pool, strides = config["pool_size"], config["strides"] or config["pool_size"]
    channels_last = config["data_format"] == "channels_last"

    def step(x: torch.Tensor) -> torch.Tensor:
        if channels_last:
            return F.max_pool2d(x.permute(0, 3, 1, 2), pool, strides).permute(0, 2, 3, 1)
        return F.max_pool2d(x, pool, strides)

    return LayerMaths(step)


def _dense(layer: Any, config: dict[str, Any], last: bool) -> LayerMaths | None:
    name = config.get("activation")
    if last:  # the softmax is folded into the loss: the loop works on logits
        if name != "softmax" or not _plain(config):
            return None
        activation: Callable[[torch.Tensor], torch.Tensor] | None = _ACTIVATIONS["linear"]
    else:
        activation = _activation(config)
    if activation is None or not _plain(config):
        return None
    if not config["use_bias"]:
        return LayerMaths(lambda x, kernel: activation(x @ kernel.to(x.dtype)), (layer.kernel,))
    return LayerMaths(
        lambda x, kernel, bias: activation(torch.addmm(bias.to(x.dtype), x, kernel.to(x.dtype))),
        (layer.kernel, layer.bias),
    )


@dataclass
class _Totals:
    """Per-epoch sums, kept on the device so a step never waits for the GPU."""

    loss: torch.Tensor
    correct: torch.Tensor
    count: int = 0

    def logs(self, prefix: str = "") -> dict[str, float]:
        count = max(self.count, 1)
        return {f"{prefix}loss": float(self.loss) / count, f"{prefix}accuracy": float(self.correct) / count}


def to_device(array: np.ndarray, device: str) -> torch.Tensor:
    """Copy `array` to `device` (once per run: the loop indexes batches there)."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def configure_backend(device: str) -> None:
    """Let cuDNN pick the fastest conv algorithms on a GPU (the batch shape is fixed within a run)."""
    torch.backends.cudnn.benchmark = device.startswith("cuda")


def epoch_order(count: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled training order of `epoch` (from 0) for `seed`: the same on every device and resume."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(count, generator=generator)


def fit_torch(
    model: Any,
    forward: Forward,
    train_data: tuple[np.ndarray, np.ndarray],
    val_data: tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int,
    epochs: int,
    initial_epoch: int,
    seed: int,
    device: str,
    callbacks: Sequence[Any],
) -> None:
    """Train `model` like ``model.fit(..., shuffle=True, validation_data=val_data)``, with torch ops.

    The callbacks get the calls and logs ``fit`` gives them (``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy`` at each epoch end) and may set ``model.stop_training``.
    """
    configure_backend(device)
    x_train, y_train = (to_device(array, device) for array in train_data)
    x_val, y_val = (to_device(array, device) for array in val_data)
    variables = list(model.trainable_variables)
    parameters = [variable.value for variable in variables]
    optimizer = model.optimizer
    steps = math.ceil(len(x_train) / batch_size)
    for callback in callbacks:
        callback.set_model(model)
        callback.set_params({"epochs": epochs, "steps": steps, "verbose": 0})
    model.stop_training = False
    for callback in callbacks:
        callback.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        order = epoch_order(len(x_train), seed, epoch).to(device)
        totals = _Totals(torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.long))
        for step in range(steps):
            batch = order[step * batch_size : (step + 1) * batch_size]
            images, labels = x_train[batch], y_train[batch]
            for parameter in parameters:
                parameter.grad = None
            logits = forward(images)
            loss = sparse_crossentropy(logits, labels)
            loss.backward()
            with torch.no_grad():
                optimizer.apply([parameter.grad for parameter in parameters], variables)
                totals.loss += loss.detach() * len(batch)
                totals.correct += (logits.argmax(1) == labels).sum()
            totals.count += len(batch)
            for callback in callbacks:
                callback.on_train_batch_end(step)
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)  # the epoch's training time must include its queued GPU work
        logs = totals.logs()
        for callback in callbacks:
            callback.on_test_begin()
        logs.update(_evaluate(forward, x_val, y_val, batch_size).logs("val_"))
        for callback in callbacks:
            callback.on_test_end()
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    for callback in callbacks:
        callback.on_train_end()


def _evaluate(forward: Forward, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> _Totals:
    totals = _Totals(torch.zeros((), device=images.device), torch.zeros((), device=images.device, dtype=torch.long))
    with torch.no_grad():
        for begin in range(0, len(images), batch_size):
            logits = forward(images[begin : begin + batch_size])
            target = labels[begin : begin + batch_size]
            totals.loss += sparse_crossentropy(logits, target, reduction="sum")
            totals.correct += (logits.argmax(1) == target).sum()
            totals.count += len(target)
    return totals
