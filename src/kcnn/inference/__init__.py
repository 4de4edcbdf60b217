"""Using a done run's model: load it (one path, refusing files outside the run's folder), evaluate, predict, export.

Imports keras only inside the functions that need a model, so `import kcnn.inference` stays cheap.
"""

from kcnn.inference.evaluation import (
    Prediction,
    class_names_of,
    evaluate_run,
    image_files,
    load_run_model,
    predict_images,
)
from kcnn.inference.export import ExportReport, export_model
from kcnn.reports.confusion import ClassScore, Evaluation

__all__ = [
    "ClassScore",
    "Evaluation",
    "ExportReport",
    "Prediction",
    "class_names_of",
    "evaluate_run",
    "export_model",
    "image_files",
    "load_run_model",
    "predict_images",
]
