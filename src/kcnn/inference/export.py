"""Export a done run's model as a ``.keras`` file or as ONNX, checked by loading the export back.

The check runs the original model and the loaded export on a few of the run's own images (random
pixels when its dataset cannot be read) and compares their class probabilities: an export that
differs by more than `TOLERANCE` is refused, never left behind. ONNX goes through Keras' own
``model.export(format="onnx")`` and is checked with ONNX Runtime (``kcnn[onnx]``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kcnn.errors import ConfigError, KcnnError
from kcnn.inference.evaluation import load_run_model
from kcnn.store import Run

FORMATS = ("keras", "onnx")
TOLERANCE = 1e-4
CHECK_IMAGES = 8


@dataclass(frozen=True)
class ExportReport:
    """Where the export went, and how closely it reproduces the model."""

    path: Path
    format: str
    model: str
    """The run's model file that was exported (final or best epoch)."""
    images_checked: int
    max_difference: float
    """Largest absolute difference of a class probability between the model and the loaded export."""


def export_model(run: Run, output: str | os.PathLike[str], fmt: str = "keras", model: str = "final") -> ExportReport:
    """Write the run's model to `output` in `fmt` and check the written file against the model.

    Raises:
        ConfigError: For an unknown format.
        KcnnError: If the output folder cannot be written, the ONNX extra is missing, or the export does not
            reproduce the model (nothing is left at `output` then).
        StoreError: If the run has no such model.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"`--format` must be keras or onnx; got {fmt!r}.")
    target = Path(output).expanduser()
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise KcnnError(f"`--output {output}`: the folder {str(target.parent)!r} does not exist or is not writable.")
    network, config, name = load_run_model(run, model)
    images = _check_images(config, network)
    expected = np.asarray(network.predict(images, verbose=0))  # also builds the model, which ONNX export needs
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".kcnn-export-") as scratch:
        written = Path(scratch) / f"model.{fmt}"
        if fmt == "keras":
            source = run.model_path if model == "final" else run.best_model_path
            shutil.copyfile(str(source), written)
            got = _keras_predictions(written, images)
        else:
            got = _onnx_export(network, written, images)
        difference = float(np.abs(got - expected).max())
        if not difference <= TOLERANCE:
            raise KcnnError(
                f"The {fmt} export of run {run.id} does not reproduce its model (largest difference {difference:.2e} "
                f"> {TOLERANCE:g}); nothing was written."
            )
        os.replace(written, target)
    return ExportReport(target, fmt, name, len(images), difference)


def _check_images(config: Any, network: Any) -> np.ndarray:
    """A few of the run's own images, or random pixels of the model's input shape."""
    from kcnn.data import load_dataset

    try:
        data = load_dataset(config.dataset, config.input_size, config.color_mode, config.resize, True)
        return data.images[:CHECK_IMAGES].astype("float32")
    except KcnnError:
        shape = tuple(int(side) for side in network.input_shape[1:])
        return np.random.default_rng(0).integers(0, 256, size=(CHECK_IMAGES, *shape)).astype("float32")


def _keras_predictions(path: Path, images: np.ndarray) -> np.ndarray:
    from kcnn.training.backend import import_keras

    return np.asarray(import_keras().saving.load_model(path).predict(images, verbose=0))


def _onnx_export(network: Any, path: Path, images: np.ndarray) -> np.ndarray:
    try:
        import onnxruntime
    except ImportError:
        raise KcnnError("ONNX export needs the onnx extra: pip install 'kcnn[onnx]'.") from None
    try:
        with warnings.catch_warnings():  # the tracer's notes on shape checks are not the user's business
            warnings.simplefilter("ignore")
            network.export(str(path), format="onnx", verbose=False)
    except ImportError as error:
        raise KcnnError(f"ONNX export needs the onnx extra ({error}): pip install 'kcnn[onnx]'.") from None
    session = onnxruntime.InferenceSession(str(path))
    return np.asarray(session.run(None, {session.get_inputs()[0].name: images})[0])
