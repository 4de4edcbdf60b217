"""Choose the torch device and check the numeric precision a run asks for."""

from __future__ import annotations

import re

from kcnn.config import PRECISIONS
from kcnn.errors import DeviceError

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def resolve_device(spec: str = "auto") -> str:
    """Turn ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` into a concrete torch device name.

    ``auto`` takes the first GPU torch sees, else the CPU.

    Raises:
        DeviceError: If the name is malformed or the GPU does not exist.
    """
    match = _DEVICE_PATTERN.match(spec.strip().lower())
    if match is None or (match.group(1) != "cuda" and match.group(2) is not None):
        raise DeviceError(f"`--device` must be auto, cpu, cuda or cuda:N; got {spec!r}.")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        return "cpu"
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "auto":
        return "cuda:0" if count else "cpu"
    if count == 0:
        raise DeviceError(f"`--device {spec}`: torch sees no CUDA GPU on this machine. Use `--device cpu` or `auto`.")
    number = int(index or 0)
    if number >= count:
        raise DeviceError(
            f"`--device {spec}`: torch sees {count} GPU(s), cuda:0 to cuda:{count - 1}. "
            "Pick one of those, or `--device auto`."
        )
    return f"cuda:{number}"


def check_gpus(indices: list[int] | tuple[int, ...]) -> None:
    """Check that every GPU index a worker is asked to train on (``--gpus``) is one torch sees.

    Raises:
        DeviceError: If torch sees no GPU, or fewer than an index needs.
    """
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    asked = ",".join(map(str, indices))
    if count == 0:
        raise DeviceError(
            f"`--gpus {asked}`: torch sees no CUDA GPU on this machine. Drop `--gpus` to train on the CPU "
            "(`--jobs N`), or check the driver with `nvidia-smi`."
        )
    missing = [index for index in indices if index >= count]
    if missing:
        raise DeviceError(
            f"`--gpus {asked}`: torch sees {count} GPU(s), 0 to {count - 1}; there is no GPU {missing[0]}."
        )


def check_precision(precision: str, device: str) -> str:
    """Check that `precision` is known and works on `device`.

    Raises:
        DeviceError: For an unknown precision, or float16 mixed precision on a CPU.
    """
    if precision not in PRECISIONS:
        raise DeviceError(f"`--precision` must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    if precision == "mixed_float16" and not device.startswith("cuda"):
        raise DeviceError(
            "`--precision mixed_float16` needs a CUDA GPU; this run is on the CPU. "
            "Use `--precision float32` (or mixed_bfloat16) on a CPU."
        )
    return precision


def device_name(device: str) -> str:
    """A readable name of a torch device: ``CPU`` or the GPU's model, e.g. ``NVIDIA H200``."""
    if not device.startswith("cuda"):
        return "CPU"
    import torch

    return str(torch.cuda.get_device_name(torch.device(device)))
