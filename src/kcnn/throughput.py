"""How hard a run worked its device: training FLOP/s and the fraction of the device's peak (arithmetic only).

Training FLOPs per image are taken as 3× the forward FLOPs of the shape plan (the backward pass
costs about twice the forward one), the usual estimate. Peaks are the vendors' dense figures:
the FP32 (non-tensor-core) peak for ``float32`` runs, the 16-bit tensor-core peak for mixed
precision. ``KCNN_PEAK_TFLOPS`` overrides the table (for a CPU or a GPU not listed).
"""

from __future__ import annotations

import os
import re

PEAK_VARIABLE = "KCNN_PEAK_TFLOPS"
TRAINING_FLOPS_FACTOR = 3

#: Dense peak TFLOP/s per GPU model: (FP32, BF16/FP16 tensor cores). Matched in order, by whole words.
GPU_PEAK_TFLOPS: tuple[tuple[str, float, float], ...] = (
    ("H200", 67.0, 989.0),
    ("H100 PCIe", 51.0, 756.0),
    ("H100", 67.0, 989.0),
    ("A100", 19.5, 312.0),
    ("L40S", 91.6, 362.0),
    ("L4", 30.3, 121.0),
    ("A10", 31.2, 125.0),
    ("V100", 15.7, 125.0),
    ("T4", 8.1, 65.0),
    ("RTX 4090", 82.6, 165.2),
    ("RTX 3090", 35.6, 71.0),
)


def peak_flops(name: str, precision: str, environ: dict[str, str] | None = None) -> float | None:
    """The device's peak FLOP/s at `precision`, or None when not known."""
    override = (os.environ if environ is None else environ).get(PEAK_VARIABLE, "").strip()
    if override:
        try:
            return float(override) * 1e12
        except ValueError:
            return None
    for model, fp32, half in GPU_PEAK_TFLOPS:
        if re.search(rf"(?<![\w-]){re.escape(model)}(?![\w])", name):
            return (fp32 if precision == "float32" else half) * 1e12
    return None


def training_flops_per_second(flops_per_image: int | None, images_per_second: float | None) -> float | None:
    """Achieved training FLOP/s of a run, from its plan's forward FLOPs and its images per second."""
    if flops_per_image is None or images_per_second is None:
        return None
    return TRAINING_FLOPS_FACTOR * flops_per_image * images_per_second


def describe_throughput(achieved: float | None, peak: float | None, name: str | None) -> str:
    """E.g. ``12.3 GFLOP/s (0.02% of the NVIDIA H200's peak)``; ``unknown`` without figures."""
    if achieved is None:
        return "unknown"
    text = f"{achieved / 1e9:,.2f} GFLOP/s"
    if peak:
        text += f" ({achieved / peak:.2%} of {name or 'the device'}'s peak)"
    else:
        text += f" ({name or 'device'} peak unknown; set {PEAK_VARIABLE})"
    return text
