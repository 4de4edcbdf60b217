"""Choose the training loop by capability: the torch loop only where it provably computes what Keras does.

When a model is built (or loaded to resume), `choose_loop` runs one probe batch through both the
Keras model and the torch loop's forward, and compares their outputs and the gradients of their
losses for every trainable variable. The torch loop trains the run only when both agree; otherwise
``fit`` does, and the reason is recorded with the run. So a Keras release that changes what a layer
computes makes kcnn slower, never wrong, and needs no version list.

``KCNN_TRAIN_LOOP=fit`` forces ``fit``; ``=torch`` skips the probe (the model must still be covered).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kcnn.training.torch_loop import Forward, compile_forward, sparse_crossentropy

ENVIRONMENT_VARIABLE = "KCNN_TRAIN_LOOP"
PROBE_IMAGES = 8
#: Agreement needed per precision: (absolute, relative) on probabilities and on gradients.
TOLERANCES = {"float32": (1e-5, 1e-3), "mixed_bfloat16": (3e-2, 5e-2)}


@dataclass(frozen=True)
class LoopChoice:
    """Which loop trains a model, and why."""

    forward: Forward | None
    """The torch forward (logits) when the torch loop trains; None for ``fit``."""
    reason: str
    """Why, in words (recorded with the run)."""

    @property
    def loop(self) -> str:
        """``torch`` or ``fit``."""
        return "fit" if self.forward is None else "torch"


def choose_loop(
    model: Any, images: np.ndarray, labels: np.ndarray, device: str, environ: Mapping[str, str] | None = None
) -> LoopChoice:
    """Probe `model` on a few training images and choose its loop.

    Args:
        model: The compiled Keras model.
        images: Training images (the first `PROBE_IMAGES` are used).
        labels: Their labels.
        device: The torch device the run trains on.
        environ: Environment to read `ENVIRONMENT_VARIABLE` from. Defaults to `os.environ`.
    """
    setting = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "auto").strip().lower()
    if setting == "fit":
        return LoopChoice(None, f"{ENVIRONMENT_VARIABLE}=fit")
    forward = compile_forward(model)
    if forward is None:
        return LoopChoice(None, "the model has a layer, loss or precision the torch loop does not cover")
    if setting == "torch":
        return LoopChoice(forward, f"{ENVIRONMENT_VARIABLE}=torch (probe skipped)")
    x = torch.from_numpy(np.ascontiguousarray(images[:PROBE_IMAGES])).to(device)
    y = torch.from_numpy(np.ascontiguousarray(labels[:PROBE_IMAGES])).to(device)
    disagreement = probe_disagreement(model, forward, x, y)
    if disagreement is not None:
        return LoopChoice(None, f"the torch loop disagrees with Keras on a probe batch ({disagreement})")
    return LoopChoice(forward, "the torch loop matches Keras' outputs and gradients on a probe batch")


def probe_disagreement(model: Any, forward: Forward, x: torch.Tensor, y: torch.Tensor) -> str | None:
    """Where the torch forward and gradients differ from Keras' own on `x`, or None when they agree."""
    absolute, relative = TOLERANCES.get(_policy(model), TOLERANCES["mixed_bfloat16"])
    variables = list(model.trainable_variables)
    parameters = [variable.value for variable in variables]

    import keras

    keras_probabilities = model(x, training=True)
    keras_loss = keras.losses.SparseCategoricalCrossentropy()(y, keras_probabilities)
    keras_gradients = torch.autograd.grad(keras_loss, parameters, allow_unused=True)

    logits = forward(x)
    torch_loss = sparse_crossentropy(logits, y)
    torch_gradients = torch.autograd.grad(torch_loss, parameters, allow_unused=True)

    probabilities = torch.softmax(logits.detach().float(), dim=1)
    gap = _gap(keras_probabilities.detach().float(), probabilities, absolute, relative)
    if gap is not None:
        return f"outputs differ by {gap:.2g}"
    gap = _gap(keras_loss.detach().float(), torch_loss.detach().float(), absolute, relative)
    if gap is not None:
        return f"losses differ by {gap:.2g}"
    for variable, expected, actual in zip(variables, keras_gradients, torch_gradients, strict=True):
        if expected is None or actual is None:
            if expected is not actual:
                return f"{variable.path}: one loop computes no gradient"
            continue
        gap = _gap(expected.float(), actual.float(), absolute, relative)
        if gap is not None:
            return f"gradients of {variable.path} differ by {gap:.2g}"
    return None


def _gap(expected: torch.Tensor, actual: torch.Tensor, absolute: float, relative: float) -> float | None:
    """The largest difference when it exceeds ``absolute + relative × max |expected|``, else None."""
    if expected.shape != actual.shape:
        return float("inf")
    difference = float((expected - actual).abs().max()) if expected.numel() else 0.0
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    return difference if difference > absolute + relative * scale or difference != difference else None


def _policy(model: Any) -> str:
    names = {layer.dtype_policy.name for layer in model.layers[1:-1]}
    return names.pop() if len(names) == 1 else "mixed_bfloat16"
