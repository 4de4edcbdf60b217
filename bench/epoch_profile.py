"""Where one training epoch's time goes: forward, backward and optimizer, kcnn's loop against plain PyTorch.

Usage: python bench/epoch_profile.py [SIZE] [EPOCHS]   (defaults: 64 px, 3 timed epochs after one warm-up)
The study's model (Conv2D(16, 2, dilation 2) → pool → Conv2D(32, 2) → pool → Dense(64) → Dense(10)),
1,400 images, batch 32, Adam 1e-3, on the CPU. Each phase is timed around its call (the CPU runs
synchronously); "rest" is the epoch's wall time minus the phases (batch indexing, bookkeeping).
Also prints what choosing the loop costs (the probe batch through Keras and through the loop).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from kcnn.config import ExperimentConfig
from kcnn.training.loop_choice import choose_loop
from kcnn.training.model import build_model
from kcnn.training.torch_loop import compile_forward, epoch_order, sparse_crossentropy

BATCH, TRAIN, CLASSES = 32, 1400, 10
PHASES = ("forward + loss", "backward", "optimizer", "rest")


def _data(size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(TRAIN, size, size, 3), dtype=np.uint8)
    return images, (np.arange(TRAIN) % CLASSES).astype(np.int64)


def _epoch(step: Callable[[torch.Tensor, torch.Tensor, dict[str, float]], None], x: torch.Tensor, y: torch.Tensor,
           epoch: int) -> dict[str, float]:  # fmt: skip
    totals = dict.fromkeys(PHASES, 0.0)
    order = epoch_order(TRAIN, 0, epoch)
    start = time.perf_counter()
    for begin in range(0, TRAIN, BATCH):
        batch = order[begin : begin + BATCH]
        step(x[batch], y[batch], totals)
    totals["rest"] = time.perf_counter() - start - sum(totals[name] for name in PHASES[:3])
    return totals


def kcnn_step(size: int) -> Callable[[torch.Tensor, torch.Tensor, dict[str, float]], None]:
    config = ExperimentConfig(input_size=size, kernel_size=2, dilation=(2, 1), batch_size=BATCH)
    model = build_model(config, (size, size, 3), CLASSES)
    forward = compile_forward(model)
    assert forward is not None
    variables = list(model.trainable_variables)
    parameters = [variable.value for variable in variables]

    def step(images: torch.Tensor, labels: torch.Tensor, totals: dict[str, float]) -> None:
        for parameter in parameters:
            parameter.grad = None
        t0 = time.perf_counter()
        loss = sparse_crossentropy(forward(images), labels)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        with torch.no_grad():
            model.optimizer.apply([parameter.grad for parameter in parameters], variables)
        t3 = time.perf_counter()
        totals["forward + loss"] += t1 - t0
        totals["backward"] += t2 - t1
        totals["optimizer"] += t3 - t2

    return step


def torch_step(size: int) -> Callable[[torch.Tensor, torch.Tensor, dict[str, float]], None]:
    from torch import nn
    from train_overhead import torch_model

    model = torch_model(size)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(images: torch.Tensor, labels: torch.Tensor, totals: dict[str, float]) -> None:
        optimizer.zero_grad()
        t0 = time.perf_counter()
        loss = loss_fn(model(images.permute(0, 3, 1, 2).float().div(255)), labels)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        totals["forward + loss"] += t1 - t0
        totals["backward"] += t2 - t1
        totals["optimizer"] += t3 - t2

    return step


def main(argv: list[str]) -> None:
    size = int(argv[0]) if argv else 64
    epochs = int(argv[1]) if len(argv) > 1 else 3
    images, labels = _data(size)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    steps = {"kcnn loop": kcnn_step(size), "plain PyTorch": torch_step(size)}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in steps}
    for step in steps.values():
        _epoch(step, x, y, 0)  # warm-up
    for epoch in range(1, epochs + 1):  # interleaved: the machine's speed drifts
        for name, step in steps.items():
            results[name].append(_epoch(step, x, y, epoch))
    print(f"one epoch at {size}×{size}, {TRAIN} images, batch {BATCH}, CPU; median of {epochs} epochs (ms)")
    print(f"  {'':<15}" + "".join(f"{phase:>16}" for phase in (*PHASES, "epoch")))
    medians = {}
    for name, runs in results.items():
        row = {phase: statistics.median(run[phase] for run in runs) * 1e3 for phase in PHASES}
        row["epoch"] = statistics.median(sum(run.values()) for run in runs) * 1e3
        medians[name] = row
        print(f"  {name:<15}" + "".join(f"{row[phase]:>16.1f}" for phase in (*PHASES, "epoch")))
    ratio = {phase: medians["kcnn loop"][phase] / medians["plain PyTorch"][phase] for phase in (*PHASES, "epoch")}
    print(f"  {'ratio':<15}" + "".join(f"{ratio[phase]:>16.2f}" for phase in (*PHASES, "epoch")))
    config = ExperimentConfig(input_size=size, kernel_size=2, dilation=(2, 1))
    model = build_model(config, (size, size, 3), CLASSES)
    start = time.perf_counter()
    choice = choose_loop(model, images, labels, "cpu", {})
    milliseconds = (time.perf_counter() - start) * 1e3
    print(f"choosing the loop (probe of 8 images through Keras and the loop): {milliseconds:.0f} ms → {choice.loop}")


if __name__ == "__main__":
    main(sys.argv[1:])
