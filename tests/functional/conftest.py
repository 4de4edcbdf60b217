import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunSummary
from kcnn.store import FailureKind, Store

TINY = ["--input-size", "16", "--channels", "4", "--dense-units", "8"]


def two_class_folder(root: Path, images: int = 15) -> Path:
    """A folder of two learnable classes ("left": bright left half; "right": dark), `images` PNGs each."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("left", "right")):
        (root / name).mkdir(parents=True)
        for i in range(images):
            pixels = rng.integers(0, 60, size=(24, 24, 3), dtype=np.uint8)
            pixels[:, : 12 if label == 0 else 24, :] += 150 if label == 0 else 0
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def store_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("KCNN_STORE", str(path))
    monkeypatch.setenv("COLUMNS", "200")
    return path


def kcnn(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the kcnn command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kcnn.cli", *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def start_worker(*args: str, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    """Start `kcnn worker` in the background (its output, children's included, goes to `log`)."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "kcnn.cli", "worker", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )


def wait_for(predicate, timeout: float = 120, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def running_child(store_path: Path, run_id: int, min_epochs: int = 0):
    """(child pid, run record) while `run_id` is running with at least `min_epochs` epochs, else None."""
    with Store(store_path) as store:
        run = store.get_run(run_id)
    if run.state == "running" and run.epochs_done >= min_epochs and run.worker_id:
        return int(run.worker_id.rsplit(":", 1)[1]), run
    return None


def assert_store_healthy(store_path: Path) -> None:
    """Integrity ok, and no run is `running` once every worker has exited."""
    with Store(store_path) as store:
        assert store.integrity_check() == "ok"
        assert store.count_by_state()["running"] == 0


def stop(process: subprocess.Popen, timeout: float = 60) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)


def runs_json(store_path: Path) -> list[dict]:
    done = kcnn("runs", "--store", str(store_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def swept(store_path):
    """A store as a real sweep leaves it: 2 kernels × 2 dilations × 3 seeds done, one failed, one queued."""
    accuracies = {
        (2, 1): [0.61, 0.63, 0.62],
        (2, 2): [0.70, 0.72, 0.74],
        (3, 1): [0.58, 0.60, 0.59],
        (3, 2): [0.60, 0.61, 0.80],
    }
    with Store(store_path) as store:
        for (kernel, dilation), values in accuracies.items():
            for seed, best in enumerate(values):
                config = ExperimentConfig(kernel_size=kernel, dilation=dilation, seed=seed, epochs=3)
                [added] = store.add_runs([config])
                claim = store.claim("w", run_id=added.run_id)
                for epoch, accuracy in enumerate((best - 0.1, best, best - 0.02), start=1):
                    store.record_epoch(
                        claim,
                        EpochRecord(
                            **{
                                "epoch": epoch,
                                "loss": 1.5 / epoch,
                                "accuracy": accuracy + 0.1,
                                "val_loss": 1.6 / epoch,
                                "val_accuracy": accuracy,
                                "seconds": 2.0,
                                "images_per_second": 300.0,
                            }
                        ),
                    )
                store.finish(claim, RunSummary({"params": 1000, "flops_per_image": 2000, "device": "cpu"}))
        store.add_runs([ExperimentConfig(kernel_size=2, dilation=2, seed=9)])
        store.fail(store.claim("w"), FailureKind.DIVERGED, "nan")
        store.add_runs([ExperimentConfig(kernel_size=2, dilation=2, seed=10)])
    return store_path
