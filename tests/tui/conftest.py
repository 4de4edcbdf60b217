import pytest
from kcnn_tui.app import make_app

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord, RunSummary
from kcnn.store import FailureKind, Store


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "runs"


@pytest.fixture
def app(store_path):
    return make_app(store_path, refresh_seconds=0.2)


def finish_runs(store_path, spec):
    """Add finished runs: {(kernel, dilation): [best accuracies]}; one failed and one queued run too."""
    with Store(store_path) as store:
        for (kernel, dilation), values in spec.items():
            for seed, best in enumerate(values):
                config = ExperimentConfig(kernel_size=kernel, dilation=dilation, seed=seed, epochs=2)
                [added] = store.add_runs([config])
                claim = store.claim("w", run_id=added.run_id)
                for epoch, accuracy in ((1, best - 0.1), (2, best)):
                    store.record_epoch(
                        claim,
                        EpochRecord(
                            **{
                                "epoch": epoch,
                                "loss": 1.0 / epoch,
                                "accuracy": accuracy,
                                "val_loss": 1.1 / epoch,
                                "val_accuracy": accuracy,
                                "seconds": 1.0,
                                "images_per_second": 500.0,
                            }
                        ),
                    )
                store.finish(claim, RunSummary({"params": 10, "flops_per_image": 20, "device": "cpu"}))
        store.add_runs([ExperimentConfig(seed=50)])
        store.fail(store.claim("w"), FailureKind.DIVERGED, "loss became NaN")
        store.add_runs([ExperimentConfig(seed=51)])
