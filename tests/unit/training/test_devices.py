import pytest

from kcnn.errors import DeviceError
from kcnn.training.devices import check_precision, resolve_device


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def test_cpu_and_auto():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if _gpus() else "cpu")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cpu:1", ""])
def test_malformed_device(spec):
    with pytest.raises(DeviceError, match=r"^`--device` must be auto, cpu, cuda or cuda:N; got"):
        resolve_device(spec)


def test_missing_gpu_is_a_clear_error():
    if _gpus():
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceError) as caught:
        resolve_device("cuda:7")
    assert str(caught.value) == (
        "`--device cuda:7`: torch sees no CUDA GPU on this machine. Use `--device cpu` or `auto`."
    )


def test_float16_needs_a_gpu_and_unknown_precision():
    with pytest.raises(DeviceError) as caught:
        check_precision("mixed_float16", "cpu")
    assert str(caught.value) == (
        "`--precision mixed_float16` needs a CUDA GPU; this run is on the CPU. "
        "Use `--precision float32` (or mixed_bfloat16) on a CPU."
    )
    assert check_precision("mixed_bfloat16", "cpu") == "mixed_bfloat16"
    with pytest.raises(DeviceError, match="must be one of float32, mixed_bfloat16, mixed_float16"):
        check_precision("float8", "cpu")
