"""kcnn's training time against hand-written PyTorch loops for the same model, data, batch order and epochs.

Usage: python bench/train_overhead.py [REPEATS] [DEVICE]   (DEVICE: cpu, the default, or cuda)
The study's model: Conv2D(16, 2, dilation 2) → pool → Conv2D(32, 2) → pool → Dense(64) → Dense(10),
1,400 training and 350 validation images, 5 epochs, batch 32, Adam 1e-3, validation every epoch.
Prints, per input size (32 and 90), the median of interleaved repeats for kcnn (`kcnn.training.train.train`,
fit time only), a PyTorch loop in NCHW and one in channels-last layout, and the ratios.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from kcnn.config import ExperimentConfig
from kcnn.data import ImageSet
from kcnn.training.train import train

EPOCHS, BATCH, TRAIN, VAL, CLASSES = 5, 32, 1400, 350, 10


def dataset(size: int) -> ImageSet:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(CLASSES), (TRAIN + VAL) // CLASSES)
    images = rng.integers(0, 256, size=(len(labels), size, size, 3), dtype=np.uint8)
    for label in range(CLASSES):  # a learnable signal: a darker band per class
        band = images[labels == label, :, label * size // CLASSES : (label + 1) * size // CLASSES, :]
        images[labels == label, :, label * size // CLASSES : (label + 1) * size // CLASSES, :] = band // 4 * 3
    return ImageSet(images=images, labels=labels.astype(np.int64), class_names=tuple(map(str, range(CLASSES))))


def kcnn_seconds(size: int, data: ImageSet, device: str) -> tuple[float, float]:
    config = ExperimentConfig(input_size=size, channels=(16, 32), kernel_size=2, dilation=(2, 1), epochs=EPOCHS,
                              batch_size=BATCH, val_split=VAL / (TRAIN + VAL))  # fmt: skip
    result = train(config, device=device, dataset=data)
    return result.seconds, result.final_val_accuracy


def torch_model(size: int):  # type: ignore[no-untyped-def]
    """The study's model written in plain PyTorch (seeded), for side-by-side timings."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    flat = 32 * (((size - 2) // 2 - 1) // 2) ** 2
    return nn.Sequential(
        nn.Conv2d(3, 16, 2, dilation=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 64), nn.ReLU(), nn.Linear(64, CLASSES),
    )  # fmt: skip


def torch_seconds(size: int, data: ImageSet, channels_last: bool, device: str = "cpu") -> tuple[float, float]:
    import torch
    from torch import nn

    model = torch_model(size)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=memory)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    images = torch.from_numpy(data.images).to(device).permute(0, 3, 1, 2).float().div(255)
    images = images.contiguous(memory_format=memory)
    labels = torch.from_numpy(data.labels).to(device)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(labels))
    train_idx, val_idx = torch.from_numpy(order[:TRAIN]).to(device), torch.from_numpy(order[TRAIN:]).to(device)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(EPOCHS):
        model.train()
        shuffled = train_idx[torch.from_numpy(rng.permutation(TRAIN)).to(device)]
        for begin in range(0, TRAIN, BATCH):
            batch = shuffled[begin : begin + BATCH]
            optimizer.zero_grad()
            loss = loss_fn(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for begin in range(0, VAL, BATCH):
                batch = val_idx[begin : begin + BATCH]
                correct += int((model(images[batch]).argmax(1) == labels[batch]).sum())
    return time.perf_counter() - start, correct / VAL


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    for size in (32, 90):
        data = dataset(size)
        kcnn_seconds(size, data, device)  # warm-up: imports, first-call compilation
        times: dict[str, list[float]] = {"kcnn": [], "torch NCHW": [], "torch channels-last": []}
        accuracy: dict[str, float] = {}
        names = list(times)
        for repeat in range(repeats):  # interleaved, each variant first in turn (the machine's speed drifts)
            for name in names[repeat % 3 :] + names[: repeat % 3]:
                if name == "kcnn":
                    seconds, accuracy[name] = kcnn_seconds(size, data, device)
                else:
                    seconds, accuracy[name] = torch_seconds(size, data, name.endswith("last"), device)
                times[name].append(seconds)
        medians = {name: statistics.median(values) for name, values in times.items()}
        best = min(medians["torch NCHW"], medians["torch channels-last"])
        print(f"input {size}×{size}, {EPOCHS} epochs on {device}, median of {repeats} interleaved repeats:")
        for name, value in medians.items():
            print(f"  {name:<20} {value:6.2f} s   ratio to best torch {value / best:4.2f}   "
                  f"final val acc {accuracy[name]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
