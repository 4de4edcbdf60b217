import pytest

from kcnn.throughput import describe_throughput, peak_flops, training_flops_per_second


@pytest.mark.parametrize(
    ("name", "precision", "tflops"),
    [
        ("NVIDIA H200", "float32", 67.0),
        ("NVIDIA H200", "mixed_bfloat16", 989.0),
        ("NVIDIA H100 80GB HBM3", "float32", 67.0),
        ("NVIDIA H100 PCIe", "float32", 51.0),
        ("NVIDIA A100-SXM4-80GB", "mixed_float16", 312.0),
        ("NVIDIA L40S", "float32", 91.6),
        ("NVIDIA L4", "float32", 30.3),
        ("Tesla T4", "float32", 8.1),
        ("NVIDIA GeForce RTX 4090", "float32", 82.6),
    ],
)
def test_peak_of_known_gpus(name, precision, tflops):
    assert peak_flops(name, precision, environ={}) == pytest.approx(tflops * 1e12)


@pytest.mark.parametrize("name", ["CPU", "NVIDIA A10G", "NVIDIA GeForce GTX 1080", ""])
def test_unknown_devices_have_no_peak(name):
    assert peak_flops(name, "float32", environ={}) is None


def test_peak_override():
    assert peak_flops("CPU", "float32", environ={"KCNN_PEAK_TFLOPS": "1.5"}) == pytest.approx(1.5e12)
    assert peak_flops("CPU", "float32", environ={"KCNN_PEAK_TFLOPS": "fast"}) is None


def test_training_flops_and_their_description():
    achieved = training_flops_per_second(1_000_000, 2_000.0)
    assert achieved == pytest.approx(6e9)  # 3 × forward FLOPs × images/s
    assert training_flops_per_second(None, 2_000.0) is None
    assert describe_throughput(achieved, 60e9, "NVIDIA X") == "6.00 GFLOP/s (10.00% of NVIDIA X's peak)"
    assert describe_throughput(achieved, None, "CPU") == "6.00 GFLOP/s (CPU peak unknown; set KCNN_PEAK_TFLOPS)"
    assert describe_throughput(None, 60e9, "CPU") == "unknown"
