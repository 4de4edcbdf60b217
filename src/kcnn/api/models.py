"""A done run's model through the facade: load it, evaluate it, classify images, export it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from kcnn.api.workspace import StoreLike, engine_store
from kcnn.errors import ConfigError, StoreError
from kcnn.store import Run

if TYPE_CHECKING:
    import keras

    from kcnn.inference.evaluation import Prediction
    from kcnn.inference.export import ExportReport
    from kcnn.reports.confusion import Evaluation


def load_model(run: Run | int, store: StoreLike | None = None) -> keras.Model:
    """The final Keras model of a finished run.

    Args:
        run: A `Run` (from `store.runs()`) or a run id (then `store` is needed).
        store: The store, when `run` is an id.

    Raises:
        StoreError: If the run has no final model (not done, or its file is gone).
    """
    from kcnn.inference import load_run_model

    network, _, _ = load_run_model(_run_of(run, store, "load_model"))
    return network


def evaluate(
    run: Run | int,
    store: StoreLike | None = None,
    data: str | None = None,
    split: str | None = None,
    model: str = "final",
) -> Evaluation:
    """Evaluate a done run's final model per class, with the confusion matrix (`kcnn.inference.evaluation`).

    Args:
        run: The run, or its id (then `store` is needed).
        store: The store, when `run` is an id.
        data: Another folder with the run's classes; defaults to the run's own dataset.
        split: ``val``, ``test`` (runs queued with ``test_split``), ``train`` or ``all``; defaults to ``val`` on
            the run's dataset, ``all`` on `data`.
        model: ``final`` (last epoch) or ``best`` (the best validation epoch, what the leaderboard ranks).

    Raises:
        StoreError: If the run has no final model. DataError: If the data's classes are not the run's.
    """
    from kcnn.inference.evaluation import evaluate_run

    return evaluate_run(_run_of(run, store, "evaluate"), data, split, model)


def predict(
    run: Run | int, paths: Iterable[str], store: StoreLike | None = None, top: int = 1, model: str = "final"
) -> Iterator[Prediction]:
    """Classify image files (or folders of them) with a done run's final model, streaming, in batches.

    Yields a `kcnn.inference.evaluation.Prediction` per image: its `top` classes with probabilities, or the
    reason it could not be read (never fatal).
    """
    from kcnn.inference.evaluation import predict_images

    return predict_images(_run_of(run, store, "predict"), paths, top, model)


def export_model(
    run: Run | int,
    output: str | os.PathLike[str],
    store: StoreLike | None = None,
    fmt: str | None = None,
    model: str = "final",
) -> ExportReport:
    """Write a done run's model as ``.keras`` or ONNX (``kcnn[onnx]``), checked by loading it back.

    The format is `fmt`, or what `output`'s suffix says (``.onnx``: ONNX; else Keras).

    Returns:
        A `kcnn.inference.export.ExportReport`: the path, and the largest difference of a class
        probability between the model and the loaded export on a few of the run's images.

    Raises:
        KcnnError: If the export cannot be written or does not reproduce the model (nothing is written then).
    """
    from kcnn.inference.export import export_model as write

    return write(_run_of(run, store, "export_model"), output, fmt, model)


def _run_of(run: Run | int, store: StoreLike | None, caller: str) -> Run:
    """`run`, or the run with that id in `store`."""
    if isinstance(run, Run):
        return run
    if isinstance(run, bool) or not isinstance(run, int):
        raise ConfigError(f"`{caller}` takes a Run (from store.runs()) or a run id with the store; got {run!r}.")
    if store is None:
        raise StoreError(f"`{caller}` needs the store when given a run id: {caller}({run}, store=store).")
    return engine_store(store).get_run(run)
