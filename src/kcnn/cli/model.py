"""`kcnn model evaluate|predict|export`: use a finished run's model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kcnn.api.arguments import output_file, whole
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option, open_store, run_ids
from kcnn.cli.output import add_format_option, add_wide_option, output_console, print_fitted

MODEL_HELP = "final: the last epoch's weights (default); best: the best validation epoch's"


def register(commands: Any) -> None:
    """Add `model` with its actions `evaluate`, `predict` and `export` (a done run's model)."""
    group = commands.add_parser(
        "model",
        help="a done run's model: `model evaluate`, `model predict`, `model export`",
        description="Use a done run's model: evaluate it per class, classify images, or write it as .keras or ONNX.",
        epilog="Examples: kcnn model evaluate 7 · kcnn model predict 7 photo.jpg · "
        "kcnn model export 7 --output leaves.onnx --to onnx",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", parser_class=type(group), required=True)
    evaluate = actions.add_parser(
        "evaluate",
        help="a done run's model per class: accuracy, precision, recall, confusion matrix",
        description="Evaluate a done run's final model (the weights after its last epoch; --model best: the best "
        "validation epoch's) with the run's own "
        "preprocessing. On the run's dataset the default split is its validation images (whose accuracy is the "
        "run's final validation accuracy); --split test: the test set kept with --test-split (never used to "
        "choose epochs or configurations); on another folder (--data, with the run's classes), all of it.",
        epilog="Examples: kcnn model evaluate 7 · kcnn model evaluate 7 --split test --model best · "
        "kcnn model evaluate 7 --data ~/photos/new --format json",
    )
    evaluate.add_argument("run", metavar="RUN")
    evaluate.add_argument("--data", default=None, metavar="FOLDER", help="another folder with the run's classes")
    evaluate.add_argument(
        "--split", choices=("val", "test", "train", "all"), default=None, help="which images (see above)"
    )
    evaluate.add_argument("--model", choices=("final", "best"), default="final", help=MODEL_HELP)
    evaluate.add_argument("--png", type=Path, default=None, metavar="FILE", help="also draw the confusion matrix")
    add_format_option(evaluate, help="table (default) or json: JSON")
    add_wide_option(evaluate)
    add_store_option(evaluate)
    evaluate.set_defaults(handler=run_evaluate)
    register_export(actions)

    predict = actions.add_parser(
        "predict",
        help="classify image files or folders with a done run's model",
        description="Classify images with a done run's final model and its preprocessing, in batches, printing "
        "as it goes. Folders are walked; unreadable files are listed with the reason, never fatal.",
        epilog="Examples: kcnn model predict 7 photo.jpg · "
        "kcnn model predict 7 ~/photos/unsorted --classes 3 --format json",
    )
    predict.add_argument("run", metavar="RUN")
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    predict.add_argument(
        "--classes", type=whole("--classes", 1, 1000, 3), default=1, help="classes per image, best first (default 1)"
    )
    predict.add_argument("--model", choices=("final", "best"), default="final", help=MODEL_HELP)
    add_format_option(predict, help="table (default) or json: one JSON object per image (JSON lines)")
    add_store_option(predict)
    predict.set_defaults(handler=run_predict)


def register_export(actions: Any) -> None:
    """Add `model export`."""
    export = actions.add_parser(
        "export",
        help="write a done run's model as .keras or ONNX, checked by loading it back",
        description="Write a done run's final (or --model best) model to FILE, as a .keras file or as ONNX "
        "(Keras' own export; needs kcnn[onnx]). The written file is loaded back and run on a few of the "
        "run's images; an export that does not reproduce the model is refused and nothing is written.",
        epilog="Examples: kcnn model export 7 --output leaves.keras · kcnn model export 7 --output leaves.onnx "
        "--to onnx",
    )
    export.add_argument("run", metavar="RUN")
    export.add_argument("--output", required=True, metavar="FILE", help="where to write the model")
    export.add_argument("--to", choices=("keras", "onnx"), default=None,
                        help="keras or onnx (default: what FILE's suffix says; .onnx is ONNX, else keras)")  # fmt: skip
    export.add_argument("--model", choices=("final", "best"), default="final", help=MODEL_HELP)
    add_store_option(export)
    export.set_defaults(handler=run_export_model)


def run_export_model(args: argparse.Namespace) -> int:
    """Export and check a run's model."""
    from kcnn import api

    [run_id] = run_ids([args.run])
    with open_store(args) as store:
        run = store.get_run(run_id)
    report = api.export_model(run, args.output, fmt=args.to, model=args.model)
    print(
        f"wrote {safe(str(report.path))} ({report.format}, from {report.model}); loaded back, it matches the model "
        f"on {report.images_checked} images (largest difference {report.max_difference:.1e})"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Print a run's evaluation."""
    from kcnn import api
    from kcnn.api.views import class_table, confusion_table

    [run_id] = run_ids([args.run])
    png = output_file(args.png, "--png", ".png") if args.png is not None else None  # before any work
    with open_store(args) as store:
        run = store.get_run(run_id)
    evaluation = api.evaluate(run, data=args.data, split=args.split, model=args.model)
    if png is not None:
        from kcnn.api.views import write_confusion_png

        write_confusion_png(evaluation, png)
    if args.format == "json":
        print(json.dumps(evaluation.to_dict(), indent=2))
        return 0
    console = output_console(args.wide)
    print_fitted(console, class_table(evaluation), confusion_table(evaluation))
    if png is not None:
        console.print(f"wrote {safe(str(png))}", highlight=False)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Print each image's classes as it is classified."""
    from kcnn import api

    [run_id] = run_ids([args.run])
    with open_store(args) as store:
        run = store.get_run(run_id)
    unreadable = 0
    for prediction in api.predict(run, args.paths, top=args.classes, model=args.model):
        if args.format == "json":
            print(json.dumps(prediction.to_dict()), flush=True)
        elif prediction.error:
            print(f"{safe(prediction.path)}\tunreadable: {safe(prediction.error)}", flush=True)
        else:
            classes = "\t".join(f"{safe(name)} {probability:.1%}" for name, probability in prediction.classes)
            print(f"{safe(prediction.path)}\t{classes}", flush=True)
        unreadable += prediction.error is not None
    if unreadable:
        print(f"kcnn: {unreadable} file(s) could not be read (listed with the reason)", file=sys.stderr)
    return 0
