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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kcnn.config import ExperimentConfig
from kcnn.errors import DataError, KcnnError, StoreError
from kcnn.reports.confusion import Evaluation
from kcnn.store import CLASSES_FILE, Run

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


def load_run_model(run: Run, which: str = "final") -> tuple[Any, ExperimentConfig, str]:
    """The run's final or best-epoch Keras model, its config, and the model's file name.

    Raises:
        ConfigError: For `which` other than ``final`` or ``best``.
        StoreError: If the run's config is damaged, or it has no such model.
    """
    from kcnn.errors import ConfigError

    if which not in MODELS:
        raise ConfigError(f"`--model` must be final or best; got {which!r}.")
    config = run.experiment_config
    if config is None:
        raise StoreError(f"Run {run.id} has a damaged config ({run.config_problem}); it cannot be evaluated.")
    path = run.model_path if which == "final" else run.best_model_path
    if path is None or not path.exists():
        what = "final model" if which == "final" else "best-epoch model (runs from before kcnn kept one have none)"
        raise StoreError(f"Run {run.id} has no {what} ({run.state}); only done runs have one.")
    from kcnn.training.backend import import_keras

    return import_keras().saving.load_model(path), config, path.name


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
