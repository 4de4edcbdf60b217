"""Fused training: several runs of one network shape trained as one program (issue 26).

Runs that differ only in their seed (their initial weights and their shuffle order) or in their learning
rate compute the same shapes. On a GPU, training them one after another leaves it idle: a small CNN's step
is a few microseconds of arithmetic behind milliseconds of Python and kernel launches. Here each member's
weights are stacked along a leading axis and every step runs all members at once: the solo loop's layer
maths (`kcnn.training.torch_loop.translate_model`) under ``torch.func.vmap`` for the forward and backward
passes, and Keras' Adam, op for op, on the stacked weights (`StackedAdam`). Launches and Python per step are
paid once for the group instead of once per member.

Each member stays a run of its own: its Keras model is built from its own seed before the group starts
(the same initial weights as alone), it shuffles with its own order (`epoch_order(count, seed, epoch)`), has
its own optimizer state and its own callbacks, which see the calls and logs ``fit`` gives them. At each
epoch end the member's weights and Adam state are written back into its Keras model, so its callbacks
checkpoint, score and save it as after a solo epoch. A member whose callbacks raise (a cancelled, pruned or
fenced-out run) or stop it (a NaN loss) leaves the group; the others go on. A member's results equal its solo
run's within float32 noise: grouped convolutions sum in another order than single ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from kcnn.training.torch_loop import (
    LayerMaths,
    configure_backend,
    epoch_order,
    sparse_crossentropy,
    to_device,
    translate_model,
)

#: Adam settings a fused group supports: those of kcnn's `make_optimizer` ("adam").
_PLAIN_ADAM = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None,
               "use_ema": False, "loss_scale_factor": None, "gradient_accumulation_steps": None,
               "amsgrad": False}  # fmt: skip


@dataclass
class FusedMember:
    """One run in a fused group: its compiled Keras model, its seed and its callbacks."""

    model: Any
    seed: int
    callbacks: Sequence[Any] = ()
    error: BaseException | None = field(default=None, init=False)
    """What ended this member early (raised by its callbacks), if anything."""
    stopped_at: int | None = field(default=None, init=False)
    """The epoch (from 1) after which its callbacks stopped it (``model.stop_training``), if they did."""


def fusion_problem(models: Sequence[Any]) -> str | None:
    """Why `models` cannot train as one fused group; `None` when they can.

    They must be covered by the torch loop, have the same layers and weight shapes, and be compiled with a
    plain Keras Adam of the same betas and epsilon, at the same step.
    """
    if not models:
        return "no models"
    first = models[0]
    if translate_model(first) is None:
        return "the torch loop does not cover this model"
    shapes = [tuple(tuple(variable.shape) for variable in model.trainable_variables) for model in models]
    layers = [[type(layer).__name__ for layer in model.layers] for model in models]
    if any(shape != shapes[0] for shape in shapes) or any(kinds != layers[0] for kinds in layers):
        return "the members' networks differ in shape"
    reference = _adam_settings(first.optimizer)
    for model in models:
        settings = _adam_settings(model.optimizer)
        if settings is None:
            return f"only Adam trains fused (this one is {type(model.optimizer).__name__})"
        if settings != reference:
            return "the members' Adam settings or steps differ"
        if translate_model(model) is None:
            return "the torch loop does not cover this model"
    return None


def _adam_settings(optimizer: Any) -> tuple[Any, ...] | None:
    """Beta 1, beta 2, epsilon and the step of a plain Keras Adam; `None` for anything else."""
    if type(optimizer).__name__ != "Adam":
        return None
    if any(getattr(optimizer, name, None) not in (default, 0) for name, default in _PLAIN_ADAM.items()):
        return None
    return optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, int(optimizer.iterations.value)


class StackedAdam:
    """Keras' torch Adam (``torch_adam.Adam._parallel_update_step``), op for op, on stacked weights.

    Args:
        optimizers: Each member's built Keras Adam (the same betas, epsilon and step).
        variables: Each member's Keras variables, in the order of the stacked weights.
        device: Where the stacked state lives.
    """

    def __init__(self, optimizers: Sequence[Any], variables: Sequence[Sequence[Any]], device: str) -> None:
        first = optimizers[0]
        self.beta_1, self.beta_2, self.epsilon = first.beta_1, first.beta_2, first.epsilon
        self.iterations = int(first.iterations.value)
        self.learning_rates = torch.stack(
            [optimizer.learning_rate.value.detach().to(torch.float32).cpu() for optimizer in optimizers]
        ).to(device)
        slots = range(len(variables[0]))
        self.momentums = [self._stacked(optimizers, variables, slot, "_momentums", device) for slot in slots]
        self.velocities = [self._stacked(optimizers, variables, slot, "_velocities", device) for slot in slots]

    @staticmethod
    def _stacked(optimizers: Sequence[Any], variables: Sequence[Sequence[Any]], slot: int, kind: str,
                 device: str) -> torch.Tensor:  # fmt: skip
        states = [getattr(opt, kind)[opt._get_variable_index(own[slot])].value for opt, own in zip(optimizers,
                  variables, strict=True)]  # fmt: skip
        return torch.stack([state.detach() for state in states]).to(device)

    @torch.no_grad()
    def step(self, weights: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        """One update of every member's weights from its gradients (each stacked on axis 0)."""
        dtype = weights[0].dtype
        local_step = torch.tensor(self.iterations + 1, dtype=dtype)
        beta_1_power = torch.pow(torch.tensor(self.beta_1, dtype=dtype), local_step)
        beta_2_power = torch.pow(torch.tensor(self.beta_2, dtype=dtype), local_step)
        alpha = self.learning_rates.to(dtype) * torch.sqrt(1 - beta_2_power.to(weights[0].device))
        alpha = alpha / (1 - beta_1_power.to(weights[0].device))
        torch._foreach_mul_(self.momentums, self.beta_1)
        torch._foreach_add_(self.momentums, grads, alpha=1 - self.beta_1)
        torch._foreach_mul_(self.velocities, self.beta_2)
        torch._foreach_add_(self.velocities, torch._foreach_mul(grads, grads), alpha=1 - self.beta_2)
        scaled = [momentum * alpha.view(-1, *([1] * (momentum.dim() - 1))) for momentum in self.momentums]
        steps = torch._foreach_div(scaled, torch._foreach_add(torch._foreach_sqrt(self.velocities), self.epsilon))
        torch._foreach_add_(weights, steps, alpha=-1)
        self.iterations += 1

    def keep(self, members: list[int]) -> None:
        """Keep the state of these members only (by position), in this order."""
        index = torch.tensor(members, device=self.learning_rates.device)
        self.learning_rates = self.learning_rates[index]
        self.momentums = [state[index] for state in self.momentums]
        self.velocities = [state[index] for state in self.velocities]

    @torch.no_grad()
    def write_back(self, position: int, optimizer: Any, variables: Sequence[Any]) -> None:
        """Copy one member's state into its Keras optimizer (it saves and resumes as after ``fit``)."""
        for slot, variable in enumerate(variables):
            index = optimizer._get_variable_index(variable)
            optimizer._momentums[index].value.copy_(self.momentums[slot][position])
            optimizer._velocities[index].value.copy_(self.velocities[slot][position])
        optimizer.iterations.assign(self.iterations)


class _Group:
    """The members still training, their stacked weights and optimizer state."""

    def __init__(self, members: Sequence[FusedMember], maths: list[LayerMaths], device: str) -> None:
        self.members = list(members)
        self.variables = [[variable for layer in translate_model(member.model) or () for variable in layer.variables]
                          for member in self.members]  # fmt: skip
        for member, own in zip(self.members, self.variables, strict=True):
            member.model.optimizer.build(member.model.trainable_variables)
            if not {id(variable) for variable in own} <= {id(v) for v in member.model.trainable_variables}:
                raise ValueError("a layer reads a variable that is not trainable")
        self.weights = [
            torch.stack([own[slot].value.detach() for own in self.variables]).to(device).requires_grad_()
            for slot in range(len(self.variables[0]))
        ]
        self.adam = StackedAdam([member.model.optimizer for member in self.members], self.variables, device)
        self.counts = [len(layer.variables) for layer in maths]
        self.maths = maths

    def forward(self, weights: tuple[torch.Tensor, ...], images: torch.Tensor) -> torch.Tensor:
        """One member's logits (called under ``vmap``: `weights` and `images` are that member's)."""
        position = 0
        for layer, count in zip(self.maths, self.counts, strict=True):
            images = layer.apply(images, *weights[position : position + count])
            position += count
        return images

    @torch.no_grad()
    def write_back(self) -> None:
        """Every member's weights and Adam state into its Keras model."""
        for position, (member, own) in enumerate(zip(self.members, self.variables, strict=True)):
            for slot, variable in enumerate(own):
                variable.value.copy_(self.weights[slot][position])
            self.adam.write_back(position, member.model.optimizer, own)

    def keep(self, positions: list[int]) -> None:
        """Go on with these members only."""
        index = torch.tensor(positions, device=self.weights[0].device)
        with torch.no_grad():
            self.weights = [weight[index].detach().requires_grad_() for weight in self.weights]
        self.adam.keep(positions)
        self.members = [self.members[position] for position in positions]
        self.variables = [self.variables[position] for position in positions]


def fit_fused(
    members: Sequence[FusedMember],
    train_data: tuple[np.ndarray, np.ndarray],
    val_data: tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int,
    epochs: int,
    initial_epoch: int,
    device: str,
) -> None:
    """Train every member as `kcnn.training.torch_loop.fit_torch` would train it alone, all at once.

    The members' models must pass `fusion_problem`. Each member's callbacks get the calls and logs of a
    solo run; one that raises ends its member (kept in `FusedMember.error`), and one that sets
    ``model.stop_training`` ends it after that epoch; the others go on.
    """
    problem = fusion_problem([member.model for member in members])
    if problem is not None:
        raise ValueError(f"These runs cannot train fused: {problem}.")
    configure_backend(device)
    maths = translate_model(members[0].model)
    assert maths is not None  # checked by fusion_problem
    x_train, y_train = (to_device(array, device) for array in train_data)
    x_val, y_val = (to_device(array, device) for array in val_data)
    group = _Group(members, maths, device)
    steps = math.ceil(len(x_train) / batch_size)
    forward = torch.func.vmap(group.forward)
    for member in members:
        member.model.stop_training = False
        for callback in member.callbacks:
            callback.set_model(member.model)
            callback.set_params({"epochs": epochs, "steps": steps, "verbose": 0})
    _call(group, "on_train_begin")
    for epoch in range(initial_epoch, epochs):
        if not group.members:
            break
        _call(group, "on_epoch_begin", epoch)
        orders = torch.stack([epoch_order(len(x_train), member.seed, epoch) for member in group.members]).to(device)
        loss_sum = torch.zeros(len(group.members), device=device)
        correct = torch.zeros(len(group.members), device=device, dtype=torch.long)
        count = 0
        for step in range(steps):
            batch = orders[:, step * batch_size : (step + 1) * batch_size]
            images, labels = x_train[batch], y_train[batch]
            for weight in group.weights:
                weight.grad = None
            logits = forward(tuple(group.weights), images)
            losses = torch.func.vmap(sparse_crossentropy)(logits, labels)
            losses.sum().backward()
            group.adam.step(group.weights, [weight.grad for weight in group.weights])  # type: ignore[misc]
            with torch.no_grad():
                loss_sum += losses.detach() * batch.shape[1]
                correct += (logits.argmax(2) == labels).sum(1)
            count += batch.shape[1]
            left = _call(group, "on_train_batch_end", step)
            if left:
                loss_sum, correct, orders = _without(group, left, loss_sum, correct, orders)
                if not group.members:
                    return
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)  # the epoch's training time must include its queued GPU work
        group.write_back()
        val_loss, val_correct = _evaluate(group, forward, x_val, y_val, batch_size)
        _call(group, "on_test_begin")
        _call(group, "on_test_end")
        sums = zip(loss_sum.tolist(), correct.tolist(), val_loss.tolist(), val_correct.tolist(), strict=True)
        count, val_count = max(count, 1), max(len(x_val), 1)  # divided as the solo loop divides: in Python
        logs = {id(member): {"loss": loss / count, "accuracy": right / count, "val_loss": val / val_count,
                             "val_accuracy": val_right / val_count}
                for member, (loss, right, val, val_right) in zip(group.members, sums, strict=True)}  # fmt: skip
        left = _call(group, "on_epoch_end", epoch, logs=logs)
        stopped = [position for position, member in enumerate(group.members) if member.model.stop_training]
        for position in stopped:
            group.members[position].stopped_at = epoch + 1
            _end(group.members[position])
        if left or stopped:
            _without(group, sorted({*left, *stopped}), loss_sum, correct, orders)
    for member in group.members:
        _end(member)


def _call(group: _Group, hook: str, *args: Any, logs: dict[int, dict[str, float]] | None = None) -> list[int]:
    """Call every member's callbacks' `hook`; the positions of the members whose callbacks raised.

    `logs` holds each member's logs by ``id(member)``. A raised exception is the member's own failure: it is
    kept in `FusedMember.error`, and the member leaves the group; the others go on.
    """
    left = []
    for position, member in enumerate(group.members):
        extra = (logs[id(member)],) if logs is not None else ()
        try:
            for callback in member.callbacks:
                getattr(callback, hook)(*args, *extra)
        except Exception as error:
            member.error = error
            left.append(position)
    return left


def _end(member: FusedMember) -> None:
    """``on_train_end`` for a member that finished (or was stopped by its callbacks)."""
    if member.error is None:
        try:
            for callback in member.callbacks:
                callback.on_train_end()
        except Exception as error:
            member.error = error


def _without(
    group: _Group, leaving: list[int], *tensors: torch.Tensor
) -> tuple[torch.Tensor, ...]:  # fmt: skip
    """Drop the members at `leaving` from the group and from each per-member tensor."""
    positions = [position for position in range(len(group.members)) if position not in set(leaving)]
    group.keep(positions)
    index = torch.tensor(positions, device=tensors[0].device, dtype=torch.long)
    return tuple(tensor[index] for tensor in tensors)


def _evaluate(
    group: _Group, forward: Any, images: torch.Tensor, labels: torch.Tensor, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every member's summed validation loss and correct count, on the same images."""
    members = len(group.members)
    loss = torch.zeros(members, device=images.device)
    correct = torch.zeros(members, device=images.device, dtype=torch.long)
    weights = tuple(weight.detach() for weight in group.weights)
    with torch.no_grad():
        for begin in range(0, len(images), batch_size):
            batch = images[begin : begin + batch_size].expand(members, *images[begin : begin + batch_size].shape)
            target = labels[begin : begin + batch_size].expand(members, -1)
            logits = forward(weights, batch)
            loss += torch.func.vmap(lambda x, y: sparse_crossentropy(x, y, reduction="sum"))(logits, target)
            correct += (logits.argmax(2) == target).sum(1)
    return loss, correct
