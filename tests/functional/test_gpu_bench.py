import subprocess
import sys
from pathlib import Path

import pytest
import torch
from loops import EXPECTED_LOOP

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_script_refuses_cleanly_without_a_gpu():
    done = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert done.returncode == 2
    assert "torch sees no CUDA GPU here; run it on a machine with one." in done.stderr


@pytest.mark.slow
def test_gpu_checks_run_end_to_end_on_the_cpu():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_gpu_checks.py"), "--dry-run-on-cpu"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    placed = 4 if EXPECTED_LOOP == "torch" else 0
    assert f"1. host-to-device: {placed} arrays placed by the loop;" in done.stdout
    assert "(once per run: ok)" in done.stdout
    assert f"32 px, batch  32, float32        {EXPECTED_LOOP:<5} loop" in done.stdout
    assert f"32 px, batch  32, mixed_bfloat16 {EXPECTED_LOOP:<5} loop" in done.stdout
