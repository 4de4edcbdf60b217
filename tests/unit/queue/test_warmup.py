"""The idle worker child's warm-up: it trains, saves and loads a tiny model and changes nothing a run sees."""

import tempfile

from kcnn.config import ExperimentConfig
from kcnn.queue.warmup import WARM_UP_CONFIG, warm_up, warm_up_images
from kcnn.training.train import train

TINY = ExperimentConfig(input_size=24, channels=(4, 8), kernel_size=2, dilation=(2, 1), dense_units=16, epochs=2)


def _history(config: ExperimentConfig) -> list[tuple[float, float, float]]:
    return [(r.loss, r.val_loss, r.val_accuracy) for r in train(config, device="cpu").history]


def test_warm_up_leaves_no_file_and_does_not_change_the_next_run(tmp_path, monkeypatch):
    before = _history(TINY)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    warm_up("cpu")
    assert list(tmp_path.iterdir()) == []
    assert _history(TINY) == before


def test_warm_up_images_fit_the_warm_up_model():
    images = warm_up_images()
    assert images.images.shape == (32, WARM_UP_CONFIG.input_size, WARM_UP_CONFIG.input_size, 3)
    assert images.num_classes == 2 and set(images.labels.tolist()) == {0, 1}
    assert WARM_UP_CONFIG.plan(images.num_classes).linear_size == 3 * 3 * 8  # 16 → 15 → 7 → 6 → 3
