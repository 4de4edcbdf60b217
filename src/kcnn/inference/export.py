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
from kcnn.files import output_file
from kcnn.inference.evaluation import load_run_model, run_model_file
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


def export_model(
    run: Run, output: str | os.PathLike[str], fmt: str | None = None, model: str = "final"
) -> ExportReport:
    """Write the run's model to `output` in `fmt` and check the written file against the model.

    Args:
        run: A done run.
        output: The file to write.
        fmt: ``keras`` or ``onnx``; by default, what the file's suffix says (``.onnx``: ONNX; else Keras).
        model: ``final`` or ``best``.

    Raises:
        ConfigError: For an unknown format, or a suffix that names the other format.
        KcnnError: If `output` is a folder or its folder cannot be written, the ONNX extra is missing, or the
            export does not reproduce the model (nothing is left at `output` then). Checked before any model
            is loaded.
        StoreError: If the run has no such model.
    """
    suffix = Path(output).suffix.lower()
    fmt = fmt or ("onnx" if suffix == ".onnx" else "keras")
    if fmt not in FORMATS:
        raise ConfigError(f"`--to` must be keras or onnx; got {fmt!r}.")
    named = {".keras": "keras", ".onnx": "onnx"}.get(suffix)
    if named is not None and named != fmt:
        raise ConfigError(
            f"`--output {output}` names {'an ONNX' if named == 'onnx' else 'a Keras'} file, but the export is "
            f"{fmt}; name it {Path(output).with_suffix('.' + fmt).name}, or pass `--to {named}`."
        )
    target = output_file(output, "--output", "." + fmt)
    source = run_model_file(run, model)  # refusals that need no model, before Keras is imported
    network, config, name = load_run_model(run, model)
    images = _check_images(config, network)
    expected = np.asarray(network.predict(images, verbose=0))  # also builds the model, which ONNX export needs
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".kcnn-export-") as scratch:
        written = Path(scratch) / f"model.{fmt}"
        if fmt == "keras":
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
