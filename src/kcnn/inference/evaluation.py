"""Use a finished run's model: evaluate it per class (confusion matrix), and classify new images.

Every image goes through the preprocessing the run was trained with (its input size, colour mode and
resize policy, all in its config). The model used is the run's **final** model (the weights after its
last epoch, ``model-a<attempt>.keras``) by default: its accuracy on the run's validation split is the
run's recorded *final* validation accuracy, exactly. ``model="best"`` uses the best epoch's weights
(``best-a<attempt>.keras``), whose validation accuracy is the run's recorded *best* one — the number the
leaderboard ranks by, chosen on those same images, hence optimistic.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kcnn.config import ExperimentConfig
from kcnn.errors import DataError, KcnnError, StoreError
from kcnn.reports.confusion import Evaluation
from kcnn.store import CLASSES_FILE, Run
from kcnn.store.retention import removed_text

SPLITS = ("val", "test", "train", "all")
MODELS = ("final", "best")
PREDICT_BATCH = 64


def class_names_of(run: Run) -> tuple[str, ...] | None:
    """The class names the run trained on, in label order; `None` for a run from before they were recorded."""
    folder = run.folder
    try:
        names = json.loads((folder / CLASSES_FILE).read_text()) if folder is not None else None
    except (OSError, ValueError):
        return None
    return tuple(str(name) for name in names) if isinstance(names, list) else None


def run_model_file(run: Run, which: str = "final") -> Path:
    """The run's final or best-epoch model file, checked without loading anything (fit to refuse at once).

    Raises:
        ConfigError: For `which` other than ``final`` or ``best``.
        StoreError: If the run's config is damaged, it has no such model, its folder or file is missing, the
            stored name points outside the run's folder, or the file is not a whole ``.keras`` archive.
    """
    from kcnn.errors import ConfigError

    if which not in MODELS:
        raise ConfigError(f"`--model` must be final or best; got {which!r}.")
    if run.experiment_config is None:
        raise StoreError(f"Run {run.id} has a damaged config ({run.config_problem}); it cannot be evaluated.")
    folder = run.folder
    again = run.experiment_config.train_command()

    def gone(pattern: str, otherwise: str) -> StoreError:
        removed = removed_text(folder, again, pattern)
        return StoreError(f"Run {run.id}: {removed}." if removed else otherwise)

    if folder is None or not run.model:
        raise gone("*.keras", f"Run {run.id} has no final model ({run.state}); only done runs have one.")
    if not folder.is_dir():
        raise StoreError(f"Run {run.id}'s artifacts folder {str(folder)!r} is missing (moved or deleted); its "
                         "models cannot be loaded.")  # fmt: skip
    if which == "best":
        path = run.best_model_path
        if path is None:
            raise gone("best-a*.keras", f"Run {run.id} has no best-epoch model (runs from before kcnn kept one "
                       "have none).")  # fmt: skip
    else:
        path = folder / run.model
        if not path.resolve().is_relative_to(folder.resolve()):
            raise StoreError(f"Run {run.id}'s model path {run.model!r} points outside its folder {str(folder)!r}; "
                             "refusing to read it (the store was edited or damaged).")  # fmt: skip
    if not path.is_file():
        raise gone(path.name, f"Run {run.id}'s model file {str(path)!r} is missing (deleted?); it cannot be loaded.")
    if not zipfile.is_zipfile(path):
        raise StoreError(f"Run {run.id}'s model file {str(path)!r} is damaged: not a whole .keras archive "
                         "(truncated or overwritten); it cannot be loaded.")  # fmt: skip
    return path


def load_run_model(run: Run, which: str = "final") -> tuple[Any, ExperimentConfig, str]:
    """The run's final or best-epoch Keras model, its config, and the model's file name.

    The model is checked against the run's config (`kcnn.training.model.architecture_problem`): a file whose
    layers were edited or replaced is refused, since its scores would no longer be the run's.

    Raises:
        ConfigError: For `which` other than ``final`` or ``best``.
        StoreError: If the model file is missing, damaged, outside the run's folder, or not the run's network.
    """
    path = run_model_file(run, which)
    config = run.experiment_config
    assert config is not None  # run_model_file refused a damaged config
    from kcnn.training.backend import import_keras
    from kcnn.training.model import architecture_problem

    try:
        network = import_keras().saving.load_model(path)
    except Exception as error:  # Keras raises many kinds for a bad archive
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StoreError(f"Run {run.id}'s model file {str(path)!r} could not be loaded: {detail}") from None
    problem = architecture_problem(network, config)
    if problem is not None:
        raise StoreError(f"Run {run.id}'s model file {str(path)!r} is not the network its config describes "
                         f"({problem}); it was edited or replaced, so its scores would not be the run's.")  # fmt: skip
    return network, config, path.name


def _classes_must_match(run: Run, found: Sequence[str], where: str) -> tuple[str, ...]:
    expected = class_names_of(run)
    if expected is None or tuple(found) == expected:
        return tuple(found)
    missing = [name for name in expected if name not in found]
    extra = [name for name in found if name not in expected]
    parts = [f"missing {', '.join(map(repr, missing))}"] if missing else []
    parts += [f"not trained on {', '.join(map(repr, extra))}"] if extra else []
    detail = "; ".join(parts) or "the same names in another order"
    raise DataError(
        f"{where} has classes {', '.join(found)}, but run {run.id} was trained on {', '.join(expected)} ({detail}); "
        "give a folder with the run's class folders."
    )


def evaluate_run(run: Run, data: str | None = None, split: str | None = None, model: str = "final") -> Evaluation:
    """Evaluate the run's final (or best-epoch) model on a split of its dataset, or on another folder.

    Args:
        run: A done run.
        data: A folder to evaluate on instead of the run's dataset (its classes must be the run's).
        split: ``val`` (the run's validation images: its fold under cross-validation), ``test`` (the test set
            kept with ``test_split``), ``train`` or ``all``. Defaults to ``val`` on the run's own dataset and
            ``all`` on another folder.
        model: ``final`` (the last epoch's weights) or ``best`` (the best validation epoch's).

    Raises:
        StoreError: If the run has no final model or a damaged config.
        DataError: If the data cannot be read, or its classes are not the run's.
        ConfigError: For an unknown split.
    """
    from kcnn.data import load_dataset, split_dataset
    from kcnn.errors import ConfigError
    from kcnn.training.scoring import predicted_labels

    split = split or ("val" if data is None else "all")
    if split not in SPLITS:
        raise ConfigError(f"`--split` must be one of {', '.join(SPLITS)}; got {split!r}.")
    run_model_file(run, model)  # every refusal that needs no model comes before Keras is imported
    config = run.experiment_config
    assert config is not None
    if split == "test" and not config.test_split:
        raise ConfigError(
            f"Run {run.id} has no test set (it was queued without `--test-split`); use `--split val`, or queue "
            "runs with `--test-split 0.2` to keep one."
        )
    if data is not None:
        from kcnn.data import locate_dataset

        locate_dataset(data)
    network, config, model_name = load_run_model(run, model)
    spec = config.dataset if data is None else data
    images = load_dataset(spec, config.input_size, config.color_mode, config.resize, config.skip_bad)
    names = _classes_must_match(run, images.class_names, f"`--data {spec}`" if data else f"The dataset {spec}")
    if split == "all":
        chosen = np.arange(len(images.labels))
    else:
        parts = split_dataset(images, config)
        chosen = {"val": parts.val, "train": parts.train, "test": parts.test}[split]
        if split == "test" and not len(chosen):
            raise ConfigError(
                f"Run {run.id} has no test set (it was queued without `--test-split`); use `--split val`, or queue "
                "runs with `--test-split 0.2` to keep one."
            )
    predicted = predicted_labels(network, images.images[chosen], config.batch_size)
    confusion = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(confusion, (images.labels[chosen], predicted), 1)
    return Evaluation(run.id, spec, split, names, confusion.tolist(), model_name)


@dataclass(frozen=True)
class Prediction:
    """One image's most likely classes, best first; or why it could not be read."""

    path: str
    classes: list[tuple[str, float]]
    """``(class, probability)``, best first."""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """For ``--format json``."""
        if self.error:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "classes": [{"class": name, "probability": p} for name, p in self.classes]}


def image_files(paths: Iterable[str]) -> Iterator[str]:
    """Every image file the paths name: files as given, folders walked (sorted; hidden entries skipped)."""
    from kcnn.data.folder_scan import IMAGE_EXTENSIONS

    for given in paths:
        if not os.path.isdir(given):
            yield given
            continue
        for folder, subfolders, files in os.walk(given):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            for name in sorted(files):
                if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                    yield os.path.join(folder, name)


def predict_images(run: Run, paths: Iterable[str], top: int = 1, model: str = "final") -> Iterator[Prediction]:
    """Classify image files with the run's final model, streaming in batches of `PREDICT_BATCH`.

    Unreadable files are yielded with their reason, never fatal.

    Raises:
        StoreError: If the run has no final model or a damaged config.
        KcnnError: If the run's class names were not recorded and its dataset's cannot be read.
    """
    from kcnn.data.decode import describe_error, load_pixels

    network, config, _ = load_run_model(run, model)
    names = class_names_of(run) or _dataset_classes(run, config)
    batch: list[tuple[str, np.ndarray | None, str | None]] = []  # in input order; unreadable ones keep their place
    for path in image_files(paths):
        try:
            batch.append((path, load_pixels(path, config.input_size, config.color_mode, config.resize), None))
        except Exception as error:
            batch.append((path, None, describe_error(path, error)))
        if len(batch) == PREDICT_BATCH:
            yield from _classify(network, batch, names, top)
            batch = []
    if batch:
        yield from _classify(network, batch, names, top)


def _classify(
    model: Any, batch: list[tuple[str, np.ndarray | None, str | None]], names: Sequence[str], top: int
) -> Iterator[Prediction]:
    readable = [pixels for _, pixels, _ in batch if pixels is not None]
    rows = iter(np.asarray(model.predict(np.stack(readable).astype("float32"), batch_size=len(readable), verbose=0))
                if readable else [])  # fmt: skip
    for path, pixels, error in batch:
        if pixels is None:
            yield Prediction(path, [], error)
            continue
        row = next(rows)
        order = np.argsort(-row)[:top]
        yield Prediction(path, [(names[i], float(row[i])) for i in order])


def _dataset_classes(run: Run, config: ExperimentConfig) -> tuple[str, ...]:
    """The class names of the run's dataset (for runs from before class names were recorded)."""
    from kcnn.data import load_dataset

    try:
        return load_dataset(config.dataset, config.input_size, config.color_mode, config.resize, True).class_names
    except KcnnError as error:
        raise KcnnError(
            f"Run {run.id} did not record its class names, and its dataset cannot be read: {error}"
        ) from None
